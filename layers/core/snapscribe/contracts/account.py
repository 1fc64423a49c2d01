"""The account API: GET /api/v1/account, the caller's balance, rate limit and recent usage."""

from __future__ import annotations

from pydantic import BaseModel


class RateLimitView(BaseModel):
    limit: int
    remaining: int
    resetAt: int  # epoch seconds when the one-minute window ends


class UsageRow(BaseModel):
    requestId: str
    route: str
    jobId: str | None = None
    createdAt: str
    held: int  # reserved before the work
    refunded: int
    charged: int  # held - refunded
    status: str  # reserved (still running), charged, partial, refunded, expired
    source: str | None = None  # the request's Request-Source header, when it sent one


class AccountView(BaseModel):
    userId: str
    keyId: str
    balance: int
    rateLimit: RateLimitView
    usage: list[UsageRow]  # newest first

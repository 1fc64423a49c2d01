"""Plain records the accounts code passes around."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ApiKeyRecord:
    key_hash: str
    key_id: str
    user_id: str
    rate_limit: int
    created_at: str
    revoked: bool = False
    label: str = ""


@dataclass(frozen=True)
class Principal:
    """Who is calling: the authenticated key's owner."""

    user_id: str
    key_id: str
    rate_limit: int


@dataclass(frozen=True)
class RateStatus:
    limit: int
    remaining: int
    reset_at: int  # epoch seconds at which the current window ends


@dataclass(frozen=True)
class Reservation:
    user_id: str
    ledger_sk: str
    cost: int
    request_id: str
    hold_until: int = 0  # epoch seconds: settled by then, or the sweeper refunds it


@dataclass(frozen=True)
class LedgerEntry:
    user_id: str
    request_id: str
    route: str
    key_id: str
    cost: int
    refund: int
    status: str
    created_at: str
    job_id: str | None = None  # the job the hold was for, if the request was sent as a job
    source: str | None = None  # the request's Request-Source header (the extract-image contract's), if any

"""The account API: the caller's balance, rate limit and what recent requests and jobs cost."""

from __future__ import annotations

from snapscribe.accounts.models import RateStatus
from snapscribe.accounts.service import AccountService
from snapscribe.caller import Caller
from snapscribe.contracts.account import AccountView, RateLimitView, UsageRow


def account(caller: Caller, rate: RateStatus, *, accounts: AccountService, limit: int = 50) -> AccountView:
    rows = accounts.recent_usage(caller.user_id, limit=limit)
    return AccountView(
        userId=caller.user_id,
        keyId=caller.principal.key_id,
        balance=accounts.balance(caller.user_id),
        rateLimit=RateLimitView(limit=rate.limit, remaining=rate.remaining, resetAt=rate.reset_at),
        usage=[
            UsageRow(
                requestId=row.request_id,
                route=row.route,
                jobId=row.job_id,
                createdAt=row.created_at,
                held=row.cost,
                refunded=row.refund,
                charged=row.cost - row.refund if row.status != "reserved" else 0,
                status=row.status,
                source=row.source,
            )
            for row in rows
        ],
    )

"""Scheduled housekeeping: delete what no request can still be using."""

from __future__ import annotations

from snapscribe.accounts.models import Reservation
from snapscribe.accounts.service import AccountService
from snapscribe.config import Settings
from snapscribe.storage.keys import TMP_PREFIX
from snapscribe.storage.uploads import ObjectStore


def sweep_temporary_objects(*, objects: ObjectStore, settings: Settings) -> int:
    """Delete tmp/ objects older than any request can run (the bucket's lifecycle rule is the backstop)."""
    stale = objects.keys_older_than(TMP_PREFIX, settings.tmp_max_age_seconds)
    for key in stale:
        objects.delete(key)
    return len(stale)


def refund_overdue_holds(*, accounts: AccountService, batch: int = 100, batches: int = 20) -> list[Reservation]:
    """Give back every hold whose invocation was stopped before settling it (each exactly once)."""
    refunded: list[Reservation] = []
    for _ in range(batches):
        found = accounts.refund_overdue_holds(limit=batch)
        refunded.extend(found)
        if len(found) < batch:
            break
    return refunded

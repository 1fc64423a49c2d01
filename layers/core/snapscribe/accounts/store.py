"""What the accounts service needs from storage. The DynamoDB adapter implements it; tests use fakes."""

from __future__ import annotations

from typing import Protocol

from snapscribe.accounts.models import ApiKeyRecord, LedgerEntry, Reservation


class AccountStore(Protocol):
    def get_key(self, key_hash: str) -> ApiKeyRecord | None: ...

    def put_key(self, record: ApiKeyRecord, initial_credits: int, webhook_secret: str) -> None: ...

    def webhook_secret(self, key_id: str) -> str | None: ...

    def set_webhook_secret(self, key_id: str, secret: str) -> bool:
        """Replace an existing key's secret; False when the key has none (no such key)."""
        ...

    def list_keys(self) -> list[ApiKeyRecord]: ...

    def revoke_key(self, key_id: str) -> bool: ...

    def add_credits(self, user_id: str, credits: int) -> int: ...

    def get_balance(self, user_id: str) -> int: ...

    def hit_rate_window(self, key_id: str, window_start: int, limit: int, expires_at: int) -> int | None:
        """Count one request in the window; the new count, or None when the window is already full."""
        ...

    def reserve(
        self,
        user_id: str,
        cost: int,
        request_id: str,
        route: str,
        key_id: str,
        created_at: str,
        hold_until: int,
        job_id: str | None = None,
        source: str | None = None,
    ) -> Reservation | None:
        """Take `cost` credits and write a ledger row (open until settled), atomically; None when the balance
        is short."""
        ...

    def settle(self, reservation: Reservation, refund: int, status: str) -> bool:
        """Give `refund` credits back and close the ledger row, once: True for the call that closed it, False when
        it was never reserved or already settled (nothing is given back)."""
        ...

    def ledger(self, user_id: str) -> list[LedgerEntry]: ...

    def recent_ledger(self, user_id: str, limit: int) -> list[LedgerEntry]:
        """The newest `limit` ledger rows, newest first."""
        ...

    def overdue_holds(self, now: int, limit: int) -> list[Reservation]:
        """Holds still open whose hold_until is before `now` (their invocation was stopped)."""
        ...

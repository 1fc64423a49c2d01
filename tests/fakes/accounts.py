"""The AccountStore protocol in memory (snapscribe.accounts.store), held to the DynamoDB adapter's behaviour by
tests/contracts/test_account_store_contract.py."""

from __future__ import annotations

import threading
from dataclasses import replace

from snapscribe.accounts.models import ApiKeyRecord, LedgerEntry, Reservation


class FakeAccountStore:
    """The AccountStore protocol in memory, with the DynamoDB adapter's conditions: a key is written with its
    secret and its credits, or (its hash or id taken) not at all; a reservation takes the credits and writes a
    `reserved` row atomically (a repeat of the same request at the same time finds its row and is that hold);
    only a row still `reserved` can be settled (once)."""

    def __init__(self) -> None:
        self.keys: dict[str, ApiKeyRecord] = {}
        self.balances: dict[str, int] = {}
        self.windows: dict[tuple[str, int], int] = {}
        self.window_expiry: dict[tuple[str, int], int] = {}  # the window's expiresAt (the table's TTL attribute)
        self.rows: dict[tuple[str, str], LedgerEntry] = {}  # (user_id, ledger sort key) -> row
        self.open_holds: dict[tuple[str, str], Reservation] = {}  # rows still `reserved` (a sparse index)
        self.webhook_secrets: dict[str, str] = {}  # key id -> secret
        self.lock = threading.Lock()

    def get_key(self, key_hash: str) -> ApiKeyRecord | None:
        return self.keys.get(key_hash)

    def put_key(self, record: ApiKeyRecord, initial_credits: int, webhook_secret: str) -> None:
        with self.lock:
            if record.key_hash in self.keys or record.key_id in self.webhook_secrets:
                # attribute_not_exists(pk) on both items: DynamoDB cancels the whole transaction.
                raise ValueError(f"key {record.key_id} (or its hash) exists already")
            self.keys[record.key_hash] = record
            self.balances[record.user_id] = self.balances.get(record.user_id, 0) + initial_credits
            self.webhook_secrets[record.key_id] = webhook_secret

    def webhook_secret(self, key_id: str) -> str | None:
        return self.webhook_secrets.get(key_id)

    def set_webhook_secret(self, key_id: str, secret: str) -> bool:
        with self.lock:
            if key_id not in self.webhook_secrets:
                return False
            self.webhook_secrets[key_id] = secret
            return True

    def list_keys(self) -> list[ApiKeyRecord]:
        return sorted(self.keys.values(), key=lambda record: record.created_at)

    def revoke_key(self, key_id: str) -> bool:
        with self.lock:
            for key_hash, record in self.keys.items():
                if record.key_id == key_id:
                    self.keys[key_hash] = replace(record, revoked=True)
                    return True
        return False

    def add_credits(self, user_id: str, credits: int) -> int:
        with self.lock:
            self.balances[user_id] = self.balances.get(user_id, 0) + credits
            return self.balances[user_id]

    def get_balance(self, user_id: str) -> int:
        return self.balances.get(user_id, 0)

    def hit_rate_window(self, key_id: str, window_start: int, limit: int, expires_at: int) -> int | None:
        with self.lock:
            count = self.windows.get((key_id, window_start), 0)
            if count >= limit:
                return None
            self.windows[(key_id, window_start)] = count + 1
            self.window_expiry[(key_id, window_start)] = expires_at  # every counted hit sets it
            return count + 1

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
        ledger_sk = f"LEDGER#{created_at}#{request_id}"
        reservation = Reservation(user_id, ledger_sk, cost, request_id, hold_until)
        with self.lock:
            if (user_id, ledger_sk) in self.rows:
                # The adapter takes its row's existence for an earlier try of this very call that committed
                # (balance and row together), whatever the balance is now: nothing more is taken.
                return reservation
            if self.balances.get(user_id, 0) < cost:
                return None  # DynamoDB cancels the whole transaction: no row, nothing taken
            self.balances[user_id] -= cost
            self.rows[(user_id, ledger_sk)] = LedgerEntry(
                user_id, request_id, route, key_id, cost, 0, "reserved", created_at, job_id, source or None
            )
            self.open_holds[(user_id, ledger_sk)] = reservation
            return reservation

    def recent_ledger(self, user_id: str, limit: int) -> list[LedgerEntry]:
        return self.ledger(user_id)[::-1][:limit]  # by sort key (time, then request id), descending

    def overdue_holds(self, now: int, limit: int) -> list[Reservation]:
        with self.lock:
            overdue = [hold for hold in self.open_holds.values() if hold.hold_until < now]
            # The OpenHolds index's order: by holdUntil (its sort key).
            return sorted(overdue, key=lambda hold: (hold.hold_until, hold.user_id, hold.ledger_sk))[:limit]

    def settle(self, reservation: Reservation, refund: int, status: str) -> bool:
        with self.lock:
            row = self.rows.get((reservation.user_id, reservation.ledger_sk))
            if row is None or row.status != "reserved":
                return False  # never reserved, or already settled: the transaction is cancelled, nothing given back
            self.rows[(reservation.user_id, reservation.ledger_sk)] = replace(row, refund=refund, status=status)
            self.open_holds.pop((reservation.user_id, reservation.ledger_sk), None)
            self.balances[reservation.user_id] = self.balances.get(reservation.user_id, 0) + refund
            return True

    def ledger(self, user_id: str) -> list[LedgerEntry]:
        return [row for (owner, _sk), row in sorted(self.rows.items()) if owner == user_id]

"""Authentication, the per-key rate window, and the credit hold every charging operation uses."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Protocol

from snapscribe.accounts.keys import (
    generate_api_key,
    generate_key_id,
    generate_user_id,
    generate_webhook_secret,
    hash_api_key,
    hashes_match,
    is_valid_user_id,
)
from snapscribe.accounts.models import ApiKeyRecord, LedgerEntry, Principal, RateStatus, Reservation
from snapscribe.accounts.store import AccountStore
from snapscribe.errors import InsufficientBalance, InvalidRequest, RateLimited, Unauthorized
from snapscribe.metering import CREDITS_CHARGED, CREDITS_REFUNDED, NO_METER, Meter

WINDOW_SECONDS = 60


class ChargedRequest(Protocol):
    """What a hold is taken for: whose balance, and the request the ledger row names."""

    @property
    def principal(self) -> Principal: ...

    @property
    def request_id(self) -> str: ...

    @property
    def route(self) -> str: ...

    @property
    def ends_at(self) -> float | None: ...

    @property
    def source(self) -> str | None: ...

    @property
    def job_id(self) -> str | None: ...


class Hold:
    """Credits taken before the work. `use(n)` says how many the work cost; the rest comes back."""

    def __init__(self, reservation: Reservation) -> None:
        self.reservation = reservation
        self.used = reservation.cost  # unless told otherwise, the work cost what was held
        self.handed_over = False

    @property
    def amount(self) -> int:
        return self.reservation.cost

    def use(self, amount: int) -> None:
        self.used = max(0, min(amount, self.reservation.cost))

    def hand_over(self) -> Reservation:
        """A job owns the hold from here: it is settled when the job finishes, not when the block ends (an
        error before this point still gives everything back)."""
        self.handed_over = True
        return self.reservation


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# The longest a Lambda invocation can run: a hold taken where nothing says when the work ends.
LONGEST_INVOCATION_SECONDS = 900


class AccountService:
    def __init__(
        self,
        store: AccountStore,
        clock: Callable[[], float] = time.time,
        hold_grace_seconds: int = 60,
        meter: Meter = NO_METER,
    ) -> None:
        self.store = store  # the adapter (DynamoDB, or a test's fake)
        self._clock = clock
        self._meter = meter  # credits charged and refunded, counted by the settlement that made the change
        # How long after its invocation's end a hold may stay open before the sweeper refunds it.
        self._hold_grace = hold_grace_seconds

    # --- keys -----------------------------------------------------------------------------------
    def create_key(
        self,
        *,
        user_id: str | None,
        credits: int,
        rate_limit: int,
        raw_key: str | None = None,
        label: str = "",
    ) -> tuple[str, ApiKeyRecord]:
        """Create a key (random unless given) and return it once, with its stored record."""
        user_id = user_id or generate_user_id()
        if not is_valid_user_id(user_id):
            raise InvalidRequest("user id must be 1-64 characters of letters, digits, '_' or '-'")
        if raw_key is not None and len(raw_key) < 8:
            raise InvalidRequest("an API key must be at least 8 characters long")
        if credits < 0 or rate_limit < 1:
            raise InvalidRequest("credits must be >= 0 and the rate limit >= 1")
        raw_key = raw_key or generate_api_key()
        record = ApiKeyRecord(
            key_hash=hash_api_key(raw_key),
            key_id=generate_key_id(),
            user_id=user_id,
            rate_limit=rate_limit,
            created_at=utc_now_iso(),
            label=label,
        )
        self.store.put_key(record, initial_credits=credits, webhook_secret=generate_webhook_secret())
        return raw_key, record

    def webhook_secret(self, key_id: str) -> str | None:
        """The secret a key's job webhooks are signed with."""
        return self.store.webhook_secret(key_id)

    def rotate_webhook_secret(self, key_id: str) -> str | None:
        """A new secret for the key's webhooks (shown once); None when there is no such key."""
        secret = generate_webhook_secret()
        return secret if self.store.set_webhook_secret(key_id, secret) else None

    def authenticate(self, raw_key: str | None) -> Principal:
        if not raw_key:
            raise Unauthorized()
        record = self.store.get_key(hash_api_key(raw_key))
        # The lookup is by hash; the comparison is repeated in constant time so that no code path
        # ever compares secrets with `==`.
        if record is None or record.revoked or not hashes_match(record.key_hash, raw_key):
            raise Unauthorized()
        return Principal(user_id=record.user_id, key_id=record.key_id, rate_limit=record.rate_limit)

    # --- rate window ----------------------------------------------------------------------------
    def check_rate(self, principal: Principal) -> RateStatus:
        now = self._clock()
        window_start = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
        reset_at = window_start + WINDOW_SECONDS
        count = self.store.hit_rate_window(
            principal.key_id, window_start, principal.rate_limit, expires_at=reset_at + WINDOW_SECONDS
        )
        if count is None:
            retry_after = max(1, int(reset_at - now + 0.999))
            raise RateLimited(limit=principal.rate_limit, reset_at=reset_at, retry_after=retry_after)
        return RateStatus(limit=principal.rate_limit, remaining=max(0, principal.rate_limit - count), reset_at=reset_at)

    # --- credits --------------------------------------------------------------------------------
    @contextmanager
    def hold(self, request: ChargedRequest, amount: int) -> Iterator[Hold]:
        """Reserve `amount` (402 if the balance is short); when the block ends, settle with what it used and
        give back the rest, or give back everything if it raised. The one way anything is charged."""
        ends_at = request.ends_at if request.ends_at is not None else self._clock() + LONGEST_INVOCATION_SECONDS
        hold = Hold(
            self.reserve(
                request.principal,
                amount,
                request_id=request.request_id,
                route=request.route,
                hold_until=int(ends_at) + 1 + self._hold_grace,
                job_id=request.job_id,
                source=request.source,
            )
        )
        try:
            yield hold
        except BaseException:
            self.settle(hold.reservation, refund=hold.amount)
            raise
        if not hold.handed_over:
            self.settle(hold.reservation, refund=hold.amount - hold.used)

    def reserve(
        self,
        principal: Principal,
        cost: int,
        *,
        request_id: str,
        route: str,
        hold_until: int | None = None,
        job_id: str | None = None,
        source: str | None = None,
    ) -> Reservation:
        """Take `cost` now (402 if short); `hold_until` (epoch seconds) is when the sweeper may give it back if
        nobody has settled it (default: the longest an invocation can run, and the grace)."""
        if hold_until is None:
            hold_until = int(self._clock()) + LONGEST_INVOCATION_SECONDS + self._hold_grace
        reservation = self.store.reserve(
            principal.user_id, cost, request_id, route, principal.key_id, utc_now_iso(), hold_until, job_id, source
        )
        if reservation is None:
            raise InsufficientBalance(needed=cost, available=self.store.get_balance(principal.user_id))
        return reservation

    def settle(self, reservation: Reservation, *, refund: int = 0) -> bool:
        """Close the hold, giving `refund` back; False when it was settled before (nothing changes then)."""
        refund = max(0, min(refund, reservation.cost))
        status = "refunded" if refund == reservation.cost else ("partial" if refund else "charged")
        return self._settle(reservation, refund, status)

    def refund_overdue_holds(self, limit: int = 100) -> list[Reservation]:
        """Give back every hold its invocation never settled (stopped at its timeout, or crashed): the ledger
        row says `expired`. Safe to run anywhere, any number of times: a row is settled once."""
        overdue = self.store.overdue_holds(int(self._clock()), limit)
        for reservation in overdue:
            self._settle(reservation, reservation.cost, "expired")
        return overdue

    def _settle(self, reservation: Reservation, refund: int, status: str) -> bool:
        # Counted only by the settlement that closed the row: a retry, a redelivered message or a second
        # finisher finds it settled and counts nothing, so the metrics add up to the ledger.
        settled = self.store.settle(reservation, refund=refund, status=status)
        if settled:
            self._meter.count(CREDITS_CHARGED, reservation.cost - refund)
            self._meter.count(CREDITS_REFUNDED, refund)
        return settled

    def balance(self, user_id: str) -> int:
        return self.store.get_balance(user_id)

    def recent_usage(self, user_id: str, *, limit: int) -> list[LedgerEntry]:
        """The user's ledger rows, newest first."""
        return self.store.recent_ledger(user_id, limit)

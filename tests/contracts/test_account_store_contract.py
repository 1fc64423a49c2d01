"""The AccountStore contract: FakeAccountStore and DynamoAccountStore (on moto, the template's AccountsTable) pass
the same tests: keys, balances, rate windows and their expiry, holds taken and settled atomically and once, the
ledger's order, and the overdue holds the sweeper finds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from botocore.exceptions import ClientError

from snapscribe.accounts.dynamodb import DynamoAccountStore
from snapscribe.accounts.models import ApiKeyRecord, LedgerEntry, Reservation
from snapscribe.accounts.store import AccountStore
from tests.contracts.conftest import World
from tests.fakes import FakeAccountStore


@dataclass
class Subject:
    store: AccountStore
    conflict: type[Exception]  # what a write refused by its condition raises
    window_expiry: Callable[[str, int], int | None]  # a rate window's expiry (the table's TTL attribute)


@pytest.fixture(params=["fake", "dynamodb"])
def subject(request: pytest.FixtureRequest) -> Subject:
    if request.param == "fake":
        fake = FakeAccountStore()
        return Subject(fake, ValueError, lambda key_id, start: fake.window_expiry.get((key_id, start)))
    world: World = request.getfixturevalue("world")

    def window_expiry(key_id: str, start: int) -> int | None:
        item = world.raw_item(world.accounts_table, f"RATE#{key_id}", str(start))
        return int(item["expiresAt"]["N"]) if item and "expiresAt" in item else None

    return Subject(DynamoAccountStore(world.dynamodb, world.accounts_table), ClientError, window_expiry)


@pytest.fixture
def store(subject: Subject) -> AccountStore:
    return subject.store


def key(number: int, user_id: str = "alice", created_at: str = "") -> ApiKeyRecord:
    return ApiKeyRecord(
        key_hash=f"{number:064x}",
        key_id=f"kid_{number}",
        user_id=user_id,
        rate_limit=10 * number,
        created_at=created_at or f"2026-01-01T00:00:{number:02d}.000Z",
        label=f"key {number}",
    )


def hold(
    store: AccountStore, cost: int, request_id: str, *, user_id: str = "alice", at: str = "2026-01-01T00:00:00.000Z"
) -> Reservation | None:
    return store.reserve(user_id, cost, request_id, "POST /x", "kid_1", at, 1000, job_id="job-1", source="cli")


# --- keys -------------------------------------------------------------------------------------------
def test_a_key_is_found_by_its_hash_with_its_credits_and_webhook_secret(store: AccountStore) -> None:
    record = key(1)
    store.put_key(record, initial_credits=50, webhook_secret="whsec_one")
    assert store.get_key(record.key_hash) == record
    assert store.get_balance("alice") == 50
    assert store.webhook_secret("kid_1") == "whsec_one"
    assert (store.get_key("0" * 64), store.webhook_secret("kid_unknown")) == (None, None)


def test_a_second_key_of_a_user_adds_its_credits(store: AccountStore) -> None:
    store.put_key(key(1), initial_credits=50, webhook_secret="s1")
    store.put_key(key(2), initial_credits=7, webhook_secret="s2")
    assert store.get_balance("alice") == 57


def test_a_key_whose_id_is_taken_writes_nothing(subject: Subject) -> None:
    store = subject.store
    store.put_key(key(1), initial_credits=50, webhook_secret="first")
    clash = ApiKeyRecord(f"{99:064x}", "kid_1", "alice", 5, "2026-01-02T00:00:00.000Z")
    with pytest.raises(subject.conflict):
        store.put_key(clash, initial_credits=1000, webhook_secret="second")
    # The transaction is cancelled whole: no credits, no second key, the first secret kept.
    assert (store.get_balance("alice"), store.get_key(clash.key_hash)) == (50, None)
    assert store.webhook_secret("kid_1") == "first"


def test_a_key_whose_hash_is_taken_writes_nothing(subject: Subject) -> None:
    store = subject.store
    store.put_key(key(1), initial_credits=50, webhook_secret="first")
    clash = ApiKeyRecord(key(1).key_hash, "kid_other", "bob", 5, "2026-01-02T00:00:00.000Z")
    with pytest.raises(subject.conflict):
        store.put_key(clash, initial_credits=1000, webhook_secret="second")
    assert store.get_key(clash.key_hash) == key(1)
    assert (store.get_balance("bob"), store.webhook_secret("kid_other")) == (0, None)


def test_a_webhook_secret_is_replaced_only_for_a_key_that_exists(store: AccountStore) -> None:
    store.put_key(key(1), initial_credits=0, webhook_secret="old")
    assert store.set_webhook_secret("kid_1", "new") is True
    assert store.webhook_secret("kid_1") == "new"
    assert store.set_webhook_secret("kid_unknown", "new") is False
    assert store.webhook_secret("kid_unknown") is None  # nothing was written for it


def test_keys_are_listed_oldest_first_and_revoked_by_id(store: AccountStore) -> None:
    for number, second in ((1, 30), (2, 10), (3, 20)):
        store.put_key(key(number, created_at=f"2026-01-01T00:00:{second}.000Z"), 0, f"s{number}")
    assert [record.key_id for record in store.list_keys()] == ["kid_2", "kid_3", "kid_1"]
    assert store.revoke_key("kid_3") is True
    assert store.revoke_key("kid_unknown") is False
    revoked = store.get_key(key(3).key_hash)
    assert revoked is not None
    assert revoked.revoked is True
    assert [record.revoked for record in store.list_keys()] == [False, True, False]


# --- balances ---------------------------------------------------------------------------------------
def test_credits_are_added_to_a_balance_that_starts_at_zero(store: AccountStore) -> None:
    assert store.get_balance("nobody") == 0
    assert store.add_credits("alice", 30) == 30
    assert store.add_credits("alice", 12) == 42
    assert (store.get_balance("alice"), store.get_balance("bob")) == (42, 0)


# --- rate windows -----------------------------------------------------------------------------------
def test_a_rate_window_counts_up_to_its_limit_then_refuses(store: AccountStore) -> None:
    assert [store.hit_rate_window("kid_1", 60, 3, expires_at=180) for _ in range(5)] == [1, 2, 3, None, None]
    assert store.hit_rate_window("kid_1", 120, 3, expires_at=240) == 1  # the next window starts over
    assert store.hit_rate_window("kid_2", 60, 3, expires_at=180) == 1  # another key has its own


def test_a_rate_window_expires_when_its_last_counted_hit_says(subject: Subject) -> None:
    store = subject.store
    assert subject.window_expiry("kid_1", 60) is None
    store.hit_rate_window("kid_1", 60, 2, expires_at=180)
    assert subject.window_expiry("kid_1", 60) == 180
    store.hit_rate_window("kid_1", 60, 2, expires_at=181)
    assert subject.window_expiry("kid_1", 60) == 181  # every counted hit sets it
    assert store.hit_rate_window("kid_1", 60, 2, expires_at=999) is None
    assert subject.window_expiry("kid_1", 60) == 181  # a refused hit writes nothing


# --- holds ------------------------------------------------------------------------------------------
def test_a_hold_takes_its_cost_and_writes_a_reserved_row(store: AccountStore) -> None:
    store.add_credits("alice", 100)
    reservation = hold(store, 30, "req-1")
    assert reservation == Reservation("alice", "LEDGER#2026-01-01T00:00:00.000Z#req-1", 30, "req-1", 1000)
    assert store.get_balance("alice") == 70
    assert store.ledger("alice") == [
        LedgerEntry("alice", "req-1", "POST /x", "kid_1", 30, 0, "reserved", "2026-01-01T00:00:00.000Z", "job-1", "cli")
    ]


def test_a_hold_without_a_job_or_a_source_records_neither(store: AccountStore) -> None:
    store.add_credits("alice", 10)
    store.reserve("alice", 5, "req-1", "POST /x", "kid_1", "T1", 1000, job_id=None, source="")
    (row,) = store.ledger("alice")
    assert (row.job_id, row.source) == (None, None)


def test_a_hold_may_take_the_whole_balance(store: AccountStore) -> None:
    store.add_credits("alice", 30)
    assert hold(store, 30, "req-1") is not None
    assert store.get_balance("alice") == 0


def test_a_hold_larger_than_the_balance_writes_nothing(store: AccountStore) -> None:
    store.add_credits("alice", 29)
    assert hold(store, 30, "req-1") is None
    assert (store.get_balance("alice"), store.ledger("alice")) == (29, [])  # no row, nothing taken
    assert hold(store, 1, "req-2", user_id="nobody") is None  # no account at all
    assert store.ledger("nobody") == []


def test_a_hold_repeated_with_the_same_request_and_time_is_the_same_hold(store: AccountStore) -> None:
    """What the adapter does when the SDK sends a committed transaction again: the row exists, so it was made."""
    store.add_credits("alice", 100)
    first = hold(store, 30, "req-1")
    again = hold(store, 30, "req-1")
    assert again == first
    assert (store.get_balance("alice"), len(store.ledger("alice"))) == (70, 1)  # charged once


def test_a_hold_is_settled_once(store: AccountStore) -> None:
    store.add_credits("alice", 100)
    reservation = hold(store, 30, "req-1")
    assert reservation is not None
    assert store.settle(reservation, refund=10, status="partial") is True
    assert store.get_balance("alice") == 80
    # A second settlement gives nothing more back, and says so (what the credits' metrics are counted by).
    assert store.settle(reservation, refund=30, status="refunded") is False
    assert store.settle(reservation, refund=0, status="charged") is False
    assert store.get_balance("alice") == 80
    assert [(row.cost, row.refund, row.status) for row in store.ledger("alice")] == [(30, 10, "partial")]


def test_settling_a_row_that_was_never_reserved_writes_nothing(store: AccountStore) -> None:
    store.add_credits("alice", 100)
    stray = Reservation("alice", "LEDGER#2026-01-01T00:00:00.000Z#never", 30, "never", 1000)
    assert store.settle(stray, refund=30, status="refunded") is False  # the transaction is cancelled: no refund
    assert store.settle(stray, refund=0, status="charged") is False
    assert (store.get_balance("alice"), store.ledger("alice")) == (100, [])


def test_a_settled_hold_is_no_longer_open(store: AccountStore) -> None:
    store.add_credits("alice", 100)
    charged, refunded, kept = (hold(store, 10, f"req-{n}") for n in range(3))
    assert charged is not None
    assert refunded is not None
    assert kept is not None
    store.settle(charged, refund=0, status="charged")
    store.settle(refunded, refund=10, status="refunded")
    assert store.overdue_holds(now=2000, limit=10) == [kept]


# --- the ledger -------------------------------------------------------------------------------------
def test_the_ledger_is_a_users_rows_in_time_then_request_order(store: AccountStore) -> None:
    store.add_credits("alice", 100)
    store.add_credits("bob", 100)
    for request_id, at in (("req-b", "T2"), ("req-a", "T2"), ("req-c", "T1"), ("req-d", "T3")):
        hold(store, 1, request_id, at=at)
    hold(store, 1, "req-bob", user_id="bob", at="T0")
    assert [row.request_id for row in store.ledger("alice")] == ["req-c", "req-a", "req-b", "req-d"]
    assert [row.request_id for row in store.ledger("bob")] == ["req-bob"]


def test_the_recent_ledger_is_the_newest_rows_first(store: AccountStore) -> None:
    store.add_credits("alice", 100)
    for request_id, at in (("req-b", "T2"), ("req-a", "T2"), ("req-c", "T1"), ("req-d", "T3")):
        hold(store, 1, request_id, at=at)
    assert [row.request_id for row in store.recent_ledger("alice", 3)] == ["req-d", "req-b", "req-a"]
    assert [row.request_id for row in store.recent_ledger("alice", 10)] == ["req-d", "req-b", "req-a", "req-c"]
    assert store.recent_ledger("bob", 10) == []


def test_overdue_holds_are_the_open_ones_due_before_now_soonest_first(store: AccountStore) -> None:
    for user_id, request_id, hold_until in (("bob", "r1", 500), ("alice", "r2", 300), ("carol", "r3", 400)):
        store.add_credits(user_id, 10)
        store.reserve(user_id, 5, request_id, "POST /x", "kid", "T1", hold_until)
    store.reserve("alice", 5, "r4", "POST /x", "kid", "T2", 600)  # due exactly at `now`: not overdue yet
    assert [(r.user_id, r.request_id, r.hold_until) for r in store.overdue_holds(now=600, limit=10)] == [
        ("alice", "r2", 300),
        ("carol", "r3", 400),
        ("bob", "r1", 500),
    ]
    assert [r.request_id for r in store.overdue_holds(now=600, limit=2)] == ["r2", "r3"]
    assert store.overdue_holds(now=300, limit=10) == []
    (found,) = store.overdue_holds(now=301, limit=10)
    assert found == Reservation("alice", "LEDGER#T1#r2", 5, "r2", 300)

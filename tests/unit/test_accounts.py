"""Accounts logic against an in-memory fake of the AccountStore protocol."""

from __future__ import annotations

import pytest

from snapscribe.accounts.keys import KEY_PREFIX, generate_api_key, hash_api_key, hashes_match, key_from_headers
from snapscribe.accounts.service import AccountService
from snapscribe.errors import InsufficientBalance, InvalidRequest, RateLimited, Unauthorized
from tests.fakes import Clock, FakeAccountStore


@pytest.fixture
def store() -> FakeAccountStore:
    return FakeAccountStore()


def test_generated_keys_are_random_and_stored_only_as_hash(store: FakeAccountStore) -> None:
    service = AccountService(store)
    first, record = service.create_key(user_id="alice", credits=5, rate_limit=10)
    second, _ = service.create_key(user_id="alice", credits=0, rate_limit=10)
    assert first.startswith(KEY_PREFIX)
    assert first != second
    assert len(first) > 40
    assert record.key_hash == hash_api_key(first)
    stored = repr(store.keys)
    assert first not in stored
    assert second not in stored
    assert store.get_balance("alice") == 5


def test_authenticate_accepts_the_key_and_refuses_others(store: FakeAccountStore) -> None:
    service = AccountService(store)
    key, record = service.create_key(user_id="bob", credits=0, rate_limit=3)
    principal = service.authenticate(key)
    assert (principal.user_id, principal.key_id, principal.rate_limit) == ("bob", record.key_id, 3)
    for wrong in (None, "", key + "x", key[:-1], generate_api_key()):
        with pytest.raises(Unauthorized) as caught:
            service.authenticate(wrong)
        assert caught.value.message == "Invalid or missing Authorization header"


def test_revoked_key_is_refused(store: FakeAccountStore) -> None:
    service = AccountService(store)
    key, record = service.create_key(user_id="carol", credits=0, rate_limit=3)
    assert store.revoke_key(record.key_id)
    with pytest.raises(Unauthorized):
        service.authenticate(key)


def test_hashes_match_is_exact() -> None:
    key = generate_api_key()
    assert hashes_match(hash_api_key(key), key)
    assert not hashes_match(hash_api_key(key), key.upper())


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Authorization": "Bearer abc12345"}, "abc12345"),
        ({"authorization": "bearer   abc12345  "}, "abc12345"),
        ({"X-API-Key": "xyz98765"}, "xyz98765"),
        ({"x-api-key": "xyz98765", "Authorization": "Bearer other"}, "xyz98765"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, None),
        ({"Authorization": "Bearer "}, None),
        ({}, None),
    ],
)
def test_key_from_headers(headers: dict[str, str], expected: str | None) -> None:
    assert key_from_headers(headers) == expected


def test_invalid_user_ids_are_refused(store: FakeAccountStore) -> None:
    service = AccountService(store)
    for user_id in ("../etc", "a/b", "x" * 65, "spaces here"):
        with pytest.raises(InvalidRequest):
            service.create_key(user_id=user_id, credits=0, rate_limit=1)


def test_rate_window_counts_down_and_resets_next_minute(store: FakeAccountStore) -> None:
    clock = Clock(1_000_000_000.0 + 10)  # 10 s into a minute window
    service = AccountService(store, clock=clock)
    key, _ = service.create_key(user_id="dave", credits=0, rate_limit=2)
    principal = service.authenticate(key)
    assert service.check_rate(principal).remaining == 1
    status = service.check_rate(principal)
    assert status.remaining == 0
    with pytest.raises(RateLimited) as caught:
        service.check_rate(principal)
    assert caught.value.limit == 2
    assert caught.value.reset_at == status.reset_at
    assert caught.value.retry_after == status.reset_at - 1_000_000_010
    clock.now = status.reset_at + 1
    assert service.check_rate(principal).remaining == 1


def test_reserve_then_settle_with_refund(store: FakeAccountStore) -> None:
    service = AccountService(store)
    key, _ = service.create_key(user_id="erin", credits=20, rate_limit=5)
    principal = service.authenticate(key)
    reservation = service.reserve(principal, 12, request_id="r1", route="test")
    assert store.get_balance("erin") == 8
    service.settle(reservation, refund=12)
    assert store.get_balance("erin") == 20
    service.settle(reservation, refund=12)  # settling twice gives nothing more back
    assert store.get_balance("erin") == 20
    assert store.ledger("erin")[0].status == "refunded"


def test_short_balance_is_refused_with_figures(store: FakeAccountStore) -> None:
    service = AccountService(store)
    key, _ = service.create_key(user_id="frank", credits=5, rate_limit=5)
    with pytest.raises(InsufficientBalance) as caught:
        service.reserve(service.authenticate(key), 11, request_id="r1", route="test")
    assert (caught.value.needed, caught.value.available) == (11, 5)
    assert store.get_balance("frank") == 5

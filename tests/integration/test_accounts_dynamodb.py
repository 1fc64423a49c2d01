"""The DynamoDB adapter against moto over HTTP, with the table template.yaml defines: conditional writes
hold under 100 parallel requests."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from snapscribe.accounts.dynamodb import DynamoAccountStore
from snapscribe.accounts.service import AccountService
from snapscribe.errors import InsufficientBalance, RateLimited
from snapscribe.metering import CREDITS_CHARGED, CREDITS_REFUNDED
from snapscribe.services import from_environment
from tests.fakes import RecordingMeter


@pytest.fixture
def accounts(moto_http: boto3.session.Session) -> AccountService:
    return from_environment().accounts


@pytest.fixture
def aws(moto_http: boto3.session.Session) -> boto3.session.Session:
    return moto_http


def _parallel(count: int, work: Any) -> list[Any]:
    def attempt(index: int) -> Any:
        try:
            return work(index)
        except (InsufficientBalance, RateLimited) as error:
            return error

    with ThreadPoolExecutor(max_workers=32) as pool:
        return list(pool.map(attempt, range(count)))


def test_100_parallel_reservations_never_overspend(accounts: AccountService) -> None:
    key, _ = accounts.create_key(user_id="racer", credits=50, rate_limit=1000)
    principal = accounts.authenticate(key)
    results = _parallel(100, lambda index: accounts.reserve(principal, 1, request_id=f"r{index}", route="test"))
    admitted = [result for result in results if not isinstance(result, InsufficientBalance)]
    assert len(admitted) == 50
    store = accounts.store
    assert store.get_balance("racer") == 0
    assert len(store.ledger("racer")) == 50


def test_100_parallel_requests_never_over_admit(accounts: AccountService) -> None:
    key, _ = accounts.create_key(user_id="burst", credits=0, rate_limit=30)
    principal = accounts.authenticate(key)
    results = _parallel(100, lambda _index: accounts.check_rate(principal))
    admitted = [result for result in results if not isinstance(result, RateLimited)]
    refused = [result for result in results if isinstance(result, RateLimited)]
    # A minute boundary can fall inside the burst; each window still admits at most 30.
    assert 30 <= len(admitted) <= 60
    windows: dict[int, int] = {}
    for status in admitted:
        windows[status.reset_at] = windows.get(status.reset_at, 0) + 1
    assert all(count <= 30 for count in windows.values())
    assert sorted(status.remaining for status in admitted if status.reset_at == max(windows)) == sorted(
        range(30 - windows[max(windows)], 30)
    )
    assert len(refused) == 100 - len(admitted)


def test_parallel_settlements_refund_once(accounts: AccountService) -> None:
    key, _ = accounts.create_key(user_id="settler", credits=10, rate_limit=10)
    reservation = accounts.reserve(accounts.authenticate(key), 10, request_id="once", route="test")
    meter = RecordingMeter()
    metered = AccountService(accounts.store, meter=meter)
    settled = _parallel(20, lambda _index: metered.settle(reservation, refund=10))
    assert accounts.store.get_balance("settler") == 10
    assert settled.count(True) == 1  # the one that closed the row says so; the others changed nothing
    assert meter.records == [(CREDITS_REFUNDED, "Count", 10)]  # counted by that one only


def test_only_the_hash_of_a_key_is_stored(accounts: AccountService, aws: boto3.session.Session) -> None:
    raw_key, record = accounts.create_key(user_id="hashonly", credits=1, rate_limit=1)
    table = from_environment().settings.resource("accounts_table")
    items = aws.client("dynamodb").scan(TableName=table)["Items"]
    dumped = json.dumps(items)
    assert raw_key not in dumped
    assert record.key_hash in dumped


def test_keys_list_revoke_topup(accounts: AccountService) -> None:
    store = accounts.store
    _first, first = accounts.create_key(user_id="ops", credits=5, rate_limit=7, label="ci")
    accounts.create_key(user_id="ops", credits=5, rate_limit=7)
    assert [record.user_id for record in store.list_keys()] == ["ops", "ops"]
    assert store.get_balance("ops") == 10
    assert store.revoke_key(first.key_id)
    assert not store.revoke_key("key_missing")
    assert [record.revoked for record in store.list_keys() if record.key_id == first.key_id] == [True]
    assert store.add_credits("ops", 90) == 100


def test_an_overdue_hold_is_refunded_exactly_once_by_racing_sweepers(accounts: AccountService) -> None:
    """A hold its invocation never settled (stopped at its timeout) comes back once, however many sweepers
    run at the same moment; a hold still within its time is left alone."""
    key, _ = accounts.create_key(user_id="stopped", credits=100, rate_limit=1000)
    principal = accounts.authenticate(key)
    now = int(time.time())
    accounts.reserve(principal, 30, request_id="killed", route="POST /api/ocr/process", hold_until=now - 1)
    live = accounts.reserve(principal, 20, request_id="running", route="POST /api/ocr/process", hold_until=now + 600)
    assert accounts.store.get_balance("stopped") == 50

    swept = _parallel(8, lambda _index: len(accounts.refund_overdue_holds()))
    assert sum(swept) >= 1  # every sweeper saw it; the conditional settle refunded it once
    assert accounts.store.get_balance("stopped") == 80
    rows = {row.request_id: (row.cost, row.refund, row.status) for row in accounts.store.ledger("stopped")}
    assert rows == {"killed": (30, 30, "expired"), "running": (20, 0, "reserved")}

    accounts.settle(live, refund=5)  # the live request finishes normally afterwards
    assert accounts.store.get_balance("stopped") == 85
    assert accounts.refund_overdue_holds() == []  # settled rows leave the open-holds index


class _ConflictFirst:
    """The DynamoDB client, except that its first `conflicts` transactions are cancelled as DynamoDB cancels one
    that collides with another transaction on the same item (moto applies requests one at a time, so it never
    does this by itself)."""

    def __init__(self, client: Any, conflicts: int) -> None:
        self._client = client
        self.conflicts = conflicts

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def transact_write_items(self, **kwargs: Any) -> Any:
        from botocore.exceptions import ClientError

        if self.conflicts:
            self.conflicts -= 1
            reasons = [{"Code": "TransactionConflict"}] + [{"Code": "None"}] * (len(kwargs["TransactItems"]) - 1)
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
                    "CancellationReasons": reasons,
                },
                "TransactWriteItems",
            )
        return self._client.transact_write_items(**kwargs)


def test_a_hold_or_a_settlement_that_collides_with_another_transaction_is_retried_not_refused(
    accounts: AccountService, monkeypatch: pytest.MonkeyPatch
) -> None:
    from snapscribe.accounts import transactions
    from snapscribe.accounts.models import Principal
    from snapscribe.caller import Caller

    monkeypatch.setattr(transactions.time, "sleep", lambda _seconds: None)
    accounts.create_key(user_id="racer", credits=1000, rate_limit=10, raw_key="ssk_racer_key_0123456789")
    conflicted = _ConflictFirst(from_environment().clients.dynamodb, conflicts=2)
    accounts = _accounts_on(conflicted)
    principal = Principal(user_id="racer", key_id="k1", rate_limit=10)
    with accounts.hold(Caller(principal=principal, request_id="r1", route="POST /x"), 300) as hold:
        hold.use(100)
        conflicted.conflicts = 2  # the settlement collides too
    assert conflicted.conflicts == 0
    assert accounts.balance("racer") == 900  # held 300, used 100: 200 came back, nothing was refused
    conflicted.conflicts = transactions.TRANSACTION_TRIES
    with (
        pytest.raises(transactions.TransactionFailed),
        accounts.hold(Caller(principal=principal, request_id="r2", route="POST /x"), 300),
    ):
        pass  # always colliding: an error (a 500, retried by the client), never a 402
    assert accounts.balance("racer") == 900


def _accounts_on(client: Any) -> AccountService:
    """The account service on the test's table, through `client` (a DynamoDB client that misbehaves as told)."""
    return AccountService(DynamoAccountStore(client, from_environment().settings.resource("accounts_table")))


class _AnswerLostOnce:
    """The DynamoDB client, except that its first transaction commits but its answer is lost, so the SDK sends it
    again (what a read timeout under load does): the second try finds its own ledger row."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.lost = 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def transact_write_items(self, **kwargs: Any) -> Any:
        if self.lost:
            self.lost -= 1
            self._client.transact_write_items(**kwargs)  # committed; the answer never arrives
        return self._client.transact_write_items(**kwargs)


def test_a_hold_whose_first_answer_was_lost_is_the_same_hold_not_a_short_balance(
    accounts: AccountService, monkeypatch: pytest.MonkeyPatch
) -> None:
    from snapscribe.accounts.models import Principal
    from snapscribe.caller import Caller

    accounts.create_key(user_id="retried", credits=1000, rate_limit=10, raw_key="ssk_retried_key_0123456789")
    accounts = _accounts_on(_AnswerLostOnce(from_environment().clients.dynamodb))
    caller = Caller(
        principal=Principal(user_id="retried", key_id="k1", rate_limit=10), request_id="r1", route="POST /x"
    )
    with accounts.hold(caller, 300) as hold:
        hold.use(100)
    assert accounts.balance("retried") == 900  # held once (not twice, not refused), 200 back
    (row,) = accounts.store.ledger("retried")
    assert (row.cost, row.refund, row.status) == (300, 200, "partial")


class _HonoursTokens:
    """The DynamoDB client, answering a transaction whose ClientRequestToken it committed before with success and
    changing nothing, as DynamoDB does for ten minutes (moto ignores tokens); `lose_next` loses the answer of the
    next commit, so the SDK sends the same request (the same token) again."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.committed: set[str] = set()
        self.lose_next = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def transact_write_items(self, **kwargs: Any) -> Any:
        token = kwargs["ClientRequestToken"]
        if token in self.committed:
            return {}
        answer = self._client.transact_write_items(**kwargs)
        self.committed.add(token)
        if self.lose_next:
            self.lose_next = False
            return self.transact_write_items(**kwargs)  # the SDK's retry of the request whose answer was lost
        return answer


def test_a_settlement_is_counted_by_the_call_that_closed_the_hold_whatever_dynamodb_answers_a_repeat(
    accounts: AccountService,
) -> None:
    """A second settlement of one hold (a redelivered message's, a finisher's that took over) must be told that it
    changed nothing, even within the ten minutes DynamoDB answers a repeated token with success; a settlement whose
    first answer was lost did change it."""
    key, _ = accounts.create_key(user_id="counted", credits=1000, rate_limit=10)
    principal = accounts.authenticate(key)
    client = _HonoursTokens(from_environment().clients.dynamodb)
    meter = RecordingMeter()
    metered = AccountService(
        DynamoAccountStore(client, from_environment().settings.resource("accounts_table")), meter=meter
    )
    first = metered.reserve(principal, 300, request_id="first", route="POST /x")
    client.lose_next = True
    assert metered.settle(first, refund=100) is True  # committed; its answer lost; the retry is answered success
    assert metered.settle(first, refund=100) is False  # the same settlement, by another invocation
    assert metered.settle(first, refund=300) is False
    second = metered.reserve(principal, 50, request_id="second", route="POST /x")
    assert metered.settle(second) is True
    assert metered.balance("counted") == 1000 - 200 - 50
    assert sorted(meter.records) == [
        (CREDITS_CHARGED, "Count", 50),
        (CREDITS_CHARGED, "Count", 200),
        (CREDITS_REFUNDED, "Count", 100),
    ]

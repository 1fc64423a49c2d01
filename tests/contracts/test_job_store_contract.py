"""The JobStore contract: FakeJobStore and DynamoJobStore (on moto, the template's JobsTable) pass the same tests:
a job is created once and read back as the table holds it; a user's jobs come newest first, a page at a time, by
cursors only their owner can use; an item is claimed by one worker (taken over once its lease has run out),
resolved once and counted once, given back after a passing fault and claimed again at once; the items nobody holds
are resolved in bulk, each counted once; a job is cancelled only while unfinished (cancelling, until it is finished),
its cancel read on its own, finalized by one claimant (reclaimable when stale) and finished once; its webhook is
queued once; the reaper sees the unfinished jobs, soonest deadline first; and the records carry the expiry the
table's TTL deletes them by."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from snapscribe.accounts.models import Reservation
from snapscribe.jobs.dynamodb import DynamoJobStore
from snapscribe.jobs.model import (
    BUSY,
    CANCELLED,
    CANCELLING,
    CLAIMED,
    FAILED,
    ITEM_CANCELLED,
    ITEM_DONE,
    ITEM_FAILED,
    ITEM_RETRY,
    QUEUED,
    RESOLVED,
    RUNNING,
    SUCCEEDED,
    ItemClaim,
    ItemRecord,
    Job,
    JobStore,
)
from tests.contracts.conftest import World
from tests.fakes import FakeJobStore

EXPIRE_AFTER = 86_400  # what a record's expiry adds to its deadline or lease
ERROR = {"type": "CorruptImage", "message": "not an image"}


@dataclass
class Subject:
    store: JobStore
    conflict: type[Exception]  # what a write refused by its condition raises
    # What no record of the protocol shows, read where each keeps it: a job's or an item's expiresAt (the table's
    # TTL attribute; index None: the job) and an item's claim count.
    expiry: Callable[[str, int | None], int | None]
    attempts: Callable[[str, int], int | None]


def _dynamodb(world: World) -> Subject:
    def raw(job_id: str, index: int | None) -> dict[str, Any]:
        sk = "JOB" if index is None else f"ITEM#{index:05d}"
        return world.raw_item(world.jobs_table, f"JOB#{job_id}", sk) or {}

    def expiry(job_id: str, index: int | None) -> int | None:
        found = raw(job_id, index).get("expiresAt")
        return int(found["N"]) if found else None

    def attempts(job_id: str, index: int) -> int | None:
        found = raw(job_id, index).get("attempts")
        return int(found["N"]) if found else None

    store = DynamoJobStore(world.dynamodb, world.jobs_table, expire_after_seconds=EXPIRE_AFTER)
    return Subject(store, ClientError, expiry, attempts)


def _fake() -> Subject:
    fake = FakeJobStore(expire_after_seconds=EXPIRE_AFTER)

    def expiry(job_id: str, index: int | None) -> int | None:
        if index is None:
            return fake.job_expiry.get(job_id)
        return fake.item_records.get((job_id, index), {}).get("expires_at")

    def attempts(job_id: str, index: int) -> int | None:
        return fake.item_records.get((job_id, index), {}).get("attempts")

    return Subject(fake, ValueError, expiry, attempts)


@pytest.fixture(params=["fake", "dynamodb"])
def subject(request: pytest.FixtureRequest) -> Subject:
    return _fake() if request.param == "fake" else _dynamodb(request.getfixturevalue("world"))


@pytest.fixture
def store(subject: Subject) -> JobStore:
    return subject.store


def job(number: int = 1, owner: str = "alice", **changes: Any) -> Job:
    made = Job(
        job_id=f"job-{number}",
        owner=owner,
        key_id=f"key_{owner}",
        kind="extract_batch",
        route="POST /v1/image-extraction",
        request_id=f"req-{number}",
        total=3,
        hold=Reservation(owner, f"LEDGER#T#req-{number}", 300, f"req-{number}", 5_000),
        created_at=f"2026-01-01T00:00:{number:02d}.000Z",
        deadline=10_000 + number,
        callback_url="https://hooks.example/jobs",
        status_url=f"https://api.example/api/v1/jobs/job-{number}",
    )
    return replace(made, **changes)


def created(store: JobStore, number: int = 1, **changes: Any) -> Job:
    """The job created, as it is read back: nothing resolved, every item remaining."""
    made = job(number, **changes)
    store.create(made)
    return replace(made, remaining=made.total)


def counts(store: JobStore, job_id: str = "job-1") -> tuple[int, int, int, int]:
    found = store.get(job_id)
    assert found is not None
    return found.done, found.failed, found.cancelled, found.remaining


def finish(store: JobStore, job_id: str = "job-1", status: str = SUCCEEDED) -> None:
    store.finish(job_id, status=status, result_status=201, result='{"ok": true}', result_key=None, charged=200, now="F")


# --- creating and reading ---------------------------------------------------------------------------
def test_a_job_is_read_back_as_it_was_created(store: JobStore) -> None:
    expected = created(store)
    assert store.get("job-1") == expected
    assert store.get("job-unknown") is None


def test_a_new_job_starts_with_no_progress_whatever_its_record_says(store: JobStore) -> None:
    store.create(
        job(
            done=2,
            failed=1,
            cancelled=1,
            remaining=9,
            started_at="S",
            finished_at="F",
            cancel_requested=True,
            result_status=200,
            result="{}",
            result_key="k",
            charged=5,
            webhook_state="queued",
            webhook_attempts=[{"attempt": 1}],
            callback_url="",
            hold=Reservation("someone-else", "LEDGER#T#req-1", 300, "req-1", 5_000),
        )
    )
    # The table keeps the job's identity, its hold (which is its owner's) and its links, and nothing else.
    assert store.get("job-1") == replace(job(), remaining=3, callback_url=None)


def test_a_job_is_created_once(subject: Subject) -> None:
    expected = created(subject.store)
    with pytest.raises(subject.conflict):
        subject.store.create(job(total=9, owner="bob"))
    assert subject.store.get("job-1") == expected


def test_a_job_read_is_a_copy(store: JobStore) -> None:
    expected = created(store)
    store.record_webhook_attempt("job-1", {"attempt": 1}, "retrying")
    expected = replace(expected, webhook_attempts=[{"attempt": 1}], webhook_state="retrying")
    for read in (store.get("job-1"), store.list_for("alice", limit=5, cursor=None).jobs[0], store.open_jobs(5)[0]):
        assert read is not None
        read.done, read.status = 99, "changed"
        read.webhook_attempts.append({"attempt": 2})
    assert store.get("job-1") == expected


# --- a user's jobs, a page at a time ------------------------------------------------------------------
def test_a_users_jobs_come_newest_first_a_page_at_a_time(store: JobStore) -> None:
    for number, owner in ((1, "alice"), (2, "bob"), (3, "alice"), (4, "alice"), (5, "bob"), (6, "alice"), (7, "alice")):
        created(store, number, owner=owner)
    pages, cursor = [], None
    while True:
        page = store.list_for("alice", limit=2, cursor=cursor)
        pages.append([found.job_id for found in page.jobs])
        if page.cursor is None:
            break
        cursor = page.cursor
    assert pages == [["job-7", "job-6"], ["job-4", "job-3"], ["job-1"]]
    assert [found.job_id for found in store.list_for("bob", limit=10, cursor=None).jobs] == ["job-5", "job-2"]
    assert store.list_for("carol", limit=10, cursor=None).jobs == []


def test_a_page_is_of_whole_jobs(store: JobStore) -> None:
    expected = created(store)
    page = store.list_for("alice", limit=10, cursor=None)
    assert (page.jobs, page.cursor) == ([expected], None)


def test_a_cursor_goes_on_after_its_last_job_when_newer_ones_arrive(store: JobStore) -> None:
    for number in range(1, 6):
        created(store, number)
    first = store.list_for("alice", limit=2, cursor=None)
    created(store, 9)  # newer than everything listed so far
    second = store.list_for("alice", limit=2, cursor=first.cursor)
    assert [found.job_id for found in first.jobs + second.jobs] == ["job-5", "job-4", "job-3", "job-2"]


@pytest.mark.parametrize(
    "cursor",
    ["not a cursor", base64.urlsafe_b64encode(b"[1, 2]").decode(), base64.urlsafe_b64encode(b'{"pk": 1}').decode()],
)
def test_a_cursor_that_is_not_one_of_ours_is_a_value_error(store: JobStore, cursor: str) -> None:
    created(store)
    with pytest.raises(ValueError, match="cursor"):
        store.list_for("alice", limit=2, cursor=cursor)


def test_a_cursor_is_good_only_for_its_owner(store: JobStore) -> None:
    for number in range(1, 4):
        created(store, number)
    cursor = store.list_for("alice", limit=1, cursor=None).cursor
    assert cursor is not None
    with pytest.raises(ValueError, match="cursor"):
        store.list_for("bob", limit=1, cursor=cursor)
    assert [found.job_id for found in store.list_for("alice", limit=5, cursor=cursor).jobs] == ["job-2", "job-1"]


# --- running, claiming, resolving, counting ---------------------------------------------------------------
def test_a_queued_job_starts_running_once(store: JobStore) -> None:
    created(store)
    store.mark_running("job-1", "S1")
    store.mark_running("job-1", "S2")
    found = store.get("job-1")
    assert found is not None
    assert (found.status, found.started_at) == (RUNNING, "S1")


def test_only_a_queued_job_starts_running(store: JobStore) -> None:
    created(store)
    store.request_cancel("job-1", "C")
    store.mark_running("job-1", "S")
    found = store.get("job-1")
    assert found is not None
    assert (found.status, found.started_at) == (CANCELLING, None)
    store.mark_running("job-unknown", "S")  # nothing to start, nothing written
    assert store.get("job-unknown") is None


def test_an_item_is_claimed_by_one_worker_while_its_lease_lives(subject: Subject) -> None:
    store = subject.store
    created(store)
    assert store.items("job-1") == {}
    assert store.claim_item("job-1", 0, token="w1", lease_until=100, now=10) == CLAIMED
    assert store.claim_item("job-1", 0, token="w2", lease_until=200, now=50) == BUSY
    assert store.claim_item("job-1", 0, token="w2", lease_until=200, now=100) == BUSY  # live up to its end
    assert store.claim_item("job-1", 0, token="w1", lease_until=200, now=99) == BUSY  # even for its worker
    assert store.items("job-1") == {0: ItemRecord(RUNNING)}
    assert subject.attempts("job-1", 0) == 1


def test_an_item_whose_lease_ran_out_is_taken_over(subject: Subject) -> None:
    store = subject.store
    created(store)
    store.claim_item("job-1", 0, token="w1", lease_until=100, now=10)
    assert store.claim_item("job-1", 0, token="w2", lease_until=300, now=101) == CLAIMED
    assert subject.attempts("job-1", 0) == 2
    assert store.resolve_item("job-1", 0, ITEM_DONE, token="w1", error=None, output="late") is False
    assert store.resolve_item("job-1", 0, ITEM_DONE, token="w2", error=None, output='"ok"') is True
    assert store.items("job-1") == {0: ItemRecord(ITEM_DONE, None, '"ok"')}
    assert counts(store) == (1, 0, 0, 2)


def test_the_claimant_resolves_its_item_once_and_it_is_counted_once(store: JobStore) -> None:
    created(store)
    store.claim_item("job-1", 1, token="w1", lease_until=100, now=10)
    assert store.resolve_item("job-1", 1, ITEM_DONE, token="w1", error=None, output='{"text": "a"}') is True
    assert store.resolve_item("job-1", 1, ITEM_DONE, token="w1", error=None, output="again") is False
    assert store.resolve_item("job-1", 1, ITEM_FAILED, token=None, error=ERROR) is False
    assert store.resolve_item("job-1", 1, ITEM_CANCELLED, token=None, error=None) is False
    assert store.claim_item("job-1", 1, token="w2", lease_until=300, now=500) == RESOLVED  # a redelivery
    assert store.items("job-1") == {1: ItemRecord(ITEM_DONE, None, '{"text": "a"}')}
    assert counts(store) == (1, 0, 0, 2)


def test_another_worker_cannot_resolve_a_claimed_item(store: JobStore) -> None:
    created(store)
    store.claim_item("job-1", 0, token="w1", lease_until=100, now=10)
    assert store.resolve_item("job-1", 0, ITEM_DONE, token="w2", error=None, output="x") is False
    assert store.resolve_item("job-1", 1, ITEM_DONE, token="w2", error=None, output="x") is False  # never claimed
    assert store.items("job-1") == {0: ItemRecord(RUNNING)}
    assert counts(store) == (0, 0, 0, 3)


def test_an_item_nobody_resolved_is_resolved_without_a_token(store: JobStore) -> None:
    created(store)
    store.claim_item("job-1", 0, token="dead", lease_until=100, now=10)
    assert store.resolve_item("job-1", 0, ITEM_FAILED, token=None, error=ERROR) is True  # a dead worker's
    assert store.resolve_item("job-1", 1, ITEM_FAILED, token=None, error=ERROR) is True  # never claimed
    assert store.resolve_item("job-1", 1, ITEM_FAILED, token=None, error=ERROR) is False
    assert store.items("job-1") == {0: ItemRecord(ITEM_FAILED, ERROR), 1: ItemRecord(ITEM_FAILED, ERROR)}
    assert counts(store) == (0, 2, 0, 1)


def test_only_an_item_never_claimed_is_cancelled(store: JobStore) -> None:
    created(store)
    store.claim_item("job-1", 0, token="w1", lease_until=100, now=10)
    assert store.resolve_item("job-1", 0, ITEM_CANCELLED, token=None, error=None) is False  # it has started
    assert store.resolve_item("job-1", 2, ITEM_CANCELLED, token=None, error=None) is True
    assert store.resolve_item("job-1", 2, ITEM_CANCELLED, token=None, error=None) is False
    assert store.items("job-1") == {0: ItemRecord(RUNNING), 2: ItemRecord(ITEM_CANCELLED)}
    assert counts(store) == (0, 0, 1, 2)


def test_a_claim_given_back_is_claimed_again_at_once_its_attempts_kept(subject: Subject) -> None:
    store = subject.store
    created(store)
    assert store.item_claim("job-1", 0) is None
    store.claim_item("job-1", 0, token="w1", lease_until=100, now=10)
    assert store.item_claim("job-1", 0) == ItemClaim(RUNNING, 1, 100)
    assert store.release_item("job-1", 0, token="w2") is False  # not its claim
    assert store.release_item("job-1", 0, token="w1") is True
    assert store.release_item("job-1", 0, token="w1") is False  # given back already
    assert store.items("job-1") == {0: ItemRecord(ITEM_RETRY)}
    assert store.resolve_item("job-1", 0, ITEM_DONE, token="w1", error=None, output="late") is False
    assert store.claim_item("job-1", 0, token="w2", lease_until=200, now=20) == CLAIMED  # its lease had not run out
    assert store.item_claim("job-1", 0) == ItemClaim(RUNNING, 2, 200)
    assert store.claim_item("job-1", 0, token="w3", lease_until=300, now=30) == BUSY
    assert store.resolve_item("job-1", 0, ITEM_DONE, token="w2", error=None, output='"ok"') is True
    assert store.release_item("job-1", 0, token="w2") is False  # resolved: nothing to give back
    assert store.item_claim("job-1", 0) == ItemClaim(ITEM_DONE, 2, 200)
    assert counts(store) == (1, 0, 0, 2)


def test_a_claim_given_back_is_no_workers_it_can_be_cancelled_or_failed(store: JobStore) -> None:
    created(store)
    for index in (0, 1):
        store.claim_item("job-1", index, token=f"w{index}", lease_until=100, now=10)
        store.release_item("job-1", index, token=f"w{index}")
    assert store.resolve_item("job-1", 0, ITEM_CANCELLED, token=None, error=None) is True
    assert store.resolve_item("job-1", 1, ITEM_FAILED, token=None, error=ERROR) is True
    assert store.items("job-1") == {0: ItemRecord(ITEM_CANCELLED), 1: ItemRecord(ITEM_FAILED, ERROR)}
    assert counts(store) == (0, 1, 1, 1)


def test_an_item_resolved_without_a_claim_shows_no_claim(store: JobStore) -> None:
    created(store)
    store.resolve_item("job-1", 2, ITEM_FAILED, token=None, error=ERROR)
    assert store.item_claim("job-1", 2) == ItemClaim(ITEM_FAILED, 0, None)
    assert store.item_claim("job-gone", 0) is None


def test_the_items_nobody_holds_are_resolved_in_bulk_each_counted_once(subject: Subject) -> None:
    store = subject.store
    created(store, total=130)  # more than one update's worth of counts
    store.claim_item("job-1", 0, token="w0", lease_until=100, now=10)  # running: kept
    store.claim_item("job-1", 1, token="w1", lease_until=100, now=10)
    store.release_item("job-1", 1, token="w1")  # given back: resolved
    store.claim_item("job-1", 2, token="w2", lease_until=100, now=10)
    store.resolve_item("job-1", 2, ITEM_DONE, token="w2", error=None, output="{}")  # resolved: kept
    assert store.resolve_unclaimed("job-1", range(130), ITEM_CANCELLED, error=None) == 128
    assert counts(store) == (1, 0, 128, 1)
    assert store.resolve_unclaimed("job-1", range(130), ITEM_CANCELLED, error=None) == 0
    assert counts(store) == (1, 0, 128, 1)
    records = store.items("job-1")
    assert (records[0], records[1], records[2], records[129]) == (
        ItemRecord(RUNNING),
        ItemRecord(ITEM_CANCELLED),
        ItemRecord(ITEM_DONE, None, "{}"),
        ItemRecord(ITEM_CANCELLED),
    )
    assert store.claim_item("job-1", 7, token="late", lease_until=300, now=20) == RESOLVED  # never runs now
    assert subject.attempts("job-1", 1) == 1


def test_items_failed_in_bulk_carry_their_error_and_a_range_is_theirs_alone(store: JobStore) -> None:
    created(store, total=5)
    assert store.resolve_unclaimed("job-1", range(2, 5), ITEM_FAILED, error=ERROR) == 3
    assert store.items("job-1") == {index: ItemRecord(ITEM_FAILED, ERROR) for index in (2, 3, 4)}
    assert counts(store) == (0, 3, 0, 2)
    assert store.resolve_unclaimed("job-gone", range(2), ITEM_FAILED, error=ERROR) == 2  # no job to count them on
    assert store.get("job-gone") is None


def test_an_output_too_large_for_the_record_is_kept_by_its_key(store: JobStore) -> None:
    created(store)
    store.claim_item("job-1", 0, token="w1", lease_until=100, now=10)
    store.resolve_item("job-1", 0, ITEM_DONE, token="w1", error=None, output_key="jobs/job-1/items/0.json")
    assert store.items("job-1") == {0: ItemRecord(ITEM_DONE, None, None, "jobs/job-1/items/0.json")}


def test_an_item_of_a_job_that_is_gone_is_still_resolved(store: JobStore) -> None:
    """The item's record is written (the adapter does not look at the job); there is no job to count it on."""
    assert store.resolve_item("job-gone", 0, ITEM_FAILED, token=None, error=ERROR) is True
    assert store.items("job-gone") == {0: ItemRecord(ITEM_FAILED, ERROR)}
    assert store.get("job-gone") is None


def test_items_are_the_jobs_own(store: JobStore) -> None:
    created(store, 1)
    created(store, 2)
    store.claim_item("job-1", 0, token="w", lease_until=100, now=10)
    store.resolve_item("job-2", 4, ITEM_FAILED, token=None, error=ERROR)
    assert store.items("job-1") == {0: ItemRecord(RUNNING)}
    assert store.items("job-2") == {4: ItemRecord(ITEM_FAILED, ERROR)}
    assert store.items("job-3") == {}


# --- cancelling, finalizing, finishing -----------------------------------------------------------------
def test_an_unfinished_job_can_be_cancelled(store: JobStore) -> None:
    created(store, 1)
    created(store, 2)
    store.mark_running("job-2", "S")
    for job_id in ("job-1", "job-2", "job-2"):  # queued, running, and cancelled already
        assert store.request_cancel(job_id, "C") is True
        found = store.get(job_id)
        assert found is not None
        assert (found.status, found.cancel_requested, found.finished_at) == (CANCELLING, True, None)


@pytest.mark.parametrize("status", [SUCCEEDED, FAILED, CANCELLED])
def test_a_finished_job_cannot_be_cancelled(store: JobStore, status: str) -> None:
    created(store)
    finish(store, status=status)
    assert store.request_cancel("job-1", "C") is False
    found = store.get("job-1")
    assert found is not None
    assert (found.status, found.cancel_requested) == (status, False)


def test_a_jobs_cancel_is_read_on_its_own(store: JobStore) -> None:
    created(store)
    assert store.cancel_requested("job-1") is False
    store.request_cancel("job-1", "C")
    assert store.cancel_requested("job-1") is True
    finish(store, status=CANCELLED)
    assert store.cancel_requested("job-1") is True
    assert store.cancel_requested("job-unknown") is False


def test_a_job_that_is_not_there_cannot_be_cancelled(store: JobStore) -> None:
    assert store.request_cancel("job-unknown", "C") is False
    assert store.get("job-unknown") is None


def test_the_right_to_finish_is_claimed_once_every_item_is_resolved(store: JobStore) -> None:
    created(store)
    store.resolve_item("job-1", 0, ITEM_FAILED, token=None, error=ERROR)
    store.resolve_item("job-1", 1, ITEM_CANCELLED, token=None, error=None)
    assert store.claim_finalization("job-1", token="f1", now=1000, stale_after=60) is False  # one remains
    store.resolve_item("job-1", 2, ITEM_FAILED, token=None, error=ERROR)
    assert store.claim_finalization("job-1", token="f1", now=1000, stale_after=60) is True
    assert store.claim_finalization("job-1", token="f2", now=1001, stale_after=60) is False
    assert store.claim_finalization("job-1", token="f2", now=1060, stale_after=60) is False  # not stale yet
    assert store.claim_finalization("job-1", token="f2", now=1061, stale_after=60) is True  # its holder died
    finish(store)
    assert store.claim_finalization("job-1", token="f3", now=9999, stale_after=60) is False
    assert store.claim_finalization("job-unknown", token="f", now=1000, stale_after=60) is False
    assert store.get("job-unknown") is None


def test_a_job_is_finished_once(store: JobStore) -> None:
    expected = created(store)
    store.finish("job-1", status=FAILED, result_status=None, result=None, result_key=None, charged=0, now="F1")
    finish(store)  # a second finisher changes nothing
    assert store.get("job-1") == replace(expected, status=FAILED, charged=0, finished_at="F1")
    created(store, 2)
    store.finish("job-2", status=SUCCEEDED, result_status=201, result=None, result_key="r/2.json", charged=9, now="F")
    found = store.get("job-2")
    assert found is not None
    assert (found.finished, found.result_status, found.result, found.result_key) == (True, 201, None, "r/2.json")


def test_unfinished_jobs_come_soonest_deadline_first(store: JobStore) -> None:
    for number, deadline in ((1, 300), (2, 100), (3, 200), (4, 50), (5, 400)):
        created(store, number, deadline=deadline)
    finish(store, "job-4")
    store.request_cancel("job-3", "C")  # cancelled, not finished: the reaper still looks at it
    assert [found.job_id for found in store.open_jobs(10)] == ["job-2", "job-3", "job-1", "job-5"]
    assert [found.job_id for found in store.open_jobs(2)] == ["job-2", "job-3"]
    assert store.open_jobs(10)[0] == replace(job(2, deadline=100), remaining=3)


def test_finishing_a_job_that_is_gone_writes_nothing(store: JobStore) -> None:
    finish(store, "job-gone")
    assert store.get("job-gone") is None  # the adapter's get raises KeyError('owner') on what it wrote


# --- webhooks ---------------------------------------------------------------------------------------
def test_a_webhook_is_queued_once(store: JobStore) -> None:
    created(store)
    assert [store.mark_webhook_queued("job-1") for _ in range(3)] == [True, False, False]
    found = store.get("job-1")
    assert found is not None
    assert found.webhook_state == "queued"


def test_the_webhook_of_a_job_that_is_gone_is_not_queued(store: JobStore) -> None:
    assert store.mark_webhook_queued("job-gone") is False
    assert store.get("job-gone") is None


def test_webhook_attempts_are_recorded_in_order_numbers_kept_the_rest_as_text(store: JobStore) -> None:
    created(store)
    store.record_webhook_attempt("job-1", {"attempt": 1, "at": "T1", "status": 500, "error": "HTTP 500"}, "retrying")
    store.record_webhook_attempt("job-1", {"attempt": 2, "at": "T2", "status": 204, "seconds": 0.25}, "delivered")
    found = store.get("job-1")
    assert found is not None
    assert found.webhook_state == "delivered"
    assert found.webhook_attempts == [
        {"attempt": 1, "at": "T1", "status": 500, "error": "HTTP 500"},
        {"attempt": 2, "at": "T2", "status": 204, "seconds": "0.25"},
    ]


def test_an_attempt_at_a_job_that_is_gone_is_not_recorded(store: JobStore) -> None:
    store.record_webhook_attempt("job-unknown", {"attempt": 1}, "failed")
    assert store.get("job-unknown") is None


# --- expiry (the table's TTL attribute) ---------------------------------------------------------------
def test_a_job_expires_a_while_after_its_deadline(subject: Subject) -> None:
    created(subject.store, deadline=12_345)
    finish(subject.store)
    assert subject.expiry("job-1", None) == 12_345 + EXPIRE_AFTER


def test_a_claimed_item_expires_a_while_after_its_first_lease(subject: Subject) -> None:
    store = subject.store
    created(store)
    store.claim_item("job-1", 0, token="w1", lease_until=100, now=10)
    store.claim_item("job-1", 0, token="w2", lease_until=500, now=101)  # a take-over keeps the first expiry
    store.resolve_item("job-1", 0, ITEM_DONE, token="w2", error=None, output="x")
    assert subject.expiry("job-1", 0) == 100 + EXPIRE_AFTER


def test_items_resolved_in_bulk_expire_with_their_job(subject: Subject) -> None:
    store = subject.store
    created(store, deadline=12_345)
    store.claim_item("job-1", 0, token="w0", lease_until=100, now=10)
    store.release_item("job-1", 0, token="w0")
    assert store.resolve_unclaimed("job-1", range(3), ITEM_CANCELLED, error=None) == 3
    assert [subject.expiry("job-1", index) for index in range(3)] == [100 + EXPIRE_AFTER] + [12_345 + EXPIRE_AFTER] * 2
    store.resolve_unclaimed("job-gone", range(1), ITEM_FAILED, error=ERROR)
    assert subject.expiry("job-gone", 0) is None  # no job: nothing to expire with


def test_an_item_resolved_without_a_claim_has_no_expiry(subject: Subject) -> None:
    """What the adapter does (not what it should: such a record outlives its job, see the contract's notes)."""
    created(subject.store)
    subject.store.resolve_item("job-1", 0, ITEM_CANCELLED, token=None, error=None)
    subject.store.resolve_item("job-1", 1, ITEM_FAILED, token=None, error=ERROR)
    assert (subject.expiry("job-1", 0), subject.expiry("job-1", 1)) == (None, None)


def test_a_queued_job_is_queued(store: JobStore) -> None:
    created(store)
    found = store.get("job-1")
    assert found is not None
    assert (found.status, found.finished) == (QUEUED, False)

"""The jobs table adapter against moto over HTTP, with the table template.yaml defines: an item is resolved
once and counted once, under 100 parallel resolutions, and when its resolver stopped between the two writes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from snapscribe.accounts.models import Reservation
from snapscribe.jobs.dynamodb import DynamoJobStore
from snapscribe.jobs.model import BUSY, CLAIMED, ITEM_CANCELLED, ITEM_DONE, ITEM_FAILED, RESOLVED, Job
from snapscribe.services import from_environment


@pytest.fixture
def store(moto_http: boto3.session.Session) -> DynamoJobStore:
    return from_environment().jobs.store  # type: ignore[return-value]


def _job(store: DynamoJobStore, total: int) -> Job:
    job = Job(
        job_id=f"job-{total}",
        owner="alice",
        key_id="key_alice",
        kind="extract_batch",
        route="POST /v1/image-extraction",
        request_id="req-1",
        total=total,
        hold=Reservation("alice", "LEDGER#x", 100, "req-1", 0),
        created_at="2026-11-24T00:00:00.000Z",
        deadline=2_000_000_000,
        remaining=total,
    )
    store.create(job)
    return job


def _counts(store: DynamoJobStore, job_id: str) -> tuple[int, int, int]:
    job = store.get(job_id)
    assert job is not None
    return job.done, job.failed, job.remaining


def test_100_parallel_resolutions_count_each_item_once(store: DynamoJobStore) -> None:
    job = _job(store, 10)
    for index in range(10):
        assert store.claim_item(job.job_id, index, token=f"t{index}", lease_until=10**10, now=0) == CLAIMED

    def resolve(attempt: int) -> bool:  # ten tries at each item, some by its worker, some as dead letters
        index = attempt % 10
        if attempt % 3:
            return store.resolve_item(job.job_id, index, ITEM_DONE, token=f"t{index}", error=None, output="{}")
        return store.resolve_item(job.job_id, index, ITEM_FAILED, token=None, error={"type": "E", "message": "m"})

    with ThreadPoolExecutor(max_workers=32) as pool:
        won = list(pool.map(resolve, range(100)))
    assert sum(won) == 10  # one resolution per item
    done, failed, remaining = _counts(store, job.job_id)
    assert (done + failed, remaining) == (10, 0)
    statuses = {record.status for record in store.items(job.job_id).values()}
    assert statuses <= {ITEM_DONE, ITEM_FAILED}


def test_a_resolver_stopped_before_counting_is_completed_by_the_redelivery_once(
    store: DynamoJobStore, moto_http: boto3.session.Session
) -> None:
    job = _job(store, 2)
    assert store.claim_item(job.job_id, 0, token="dead", lease_until=10**10, now=0) == CLAIMED
    # The worker resolved the item, then was stopped before it counted it on the job.
    moto_http.client("dynamodb").update_item(
        TableName=from_environment().settings.jobs_table,
        Key={"pk": {"S": f"JOB#{job.job_id}"}, "sk": {"S": "ITEM#00000"}},
        UpdateExpression="SET #status = :done",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":done": {"S": ITEM_DONE}},
    )
    assert _counts(store, job.job_id) == (0, 0, 2)
    for _redelivery in range(3):  # its message comes back (it was never deleted), perhaps more than once
        assert store.claim_item(job.job_id, 0, token="next", lease_until=10**10, now=0) == RESOLVED
    assert _counts(store, job.job_id) == (1, 0, 1)


def test_a_live_lease_keeps_the_item_and_an_expired_one_gives_it_up(store: DynamoJobStore) -> None:
    job = _job(store, 1)
    assert store.claim_item(job.job_id, 0, token="a", lease_until=100, now=50) == CLAIMED
    assert store.claim_item(job.job_id, 0, token="b", lease_until=200, now=99) == BUSY
    assert store.claim_item(job.job_id, 0, token="b", lease_until=300, now=101) == CLAIMED
    assert not store.resolve_item(job.job_id, 0, ITEM_DONE, token="a", error=None)  # the old claim lost it
    assert store.resolve_item(job.job_id, 0, ITEM_DONE, token="b", error=None, output="{}")
    assert _counts(store, job.job_id) == (1, 0, 0)


def test_pages_of_a_callers_jobs_and_cursors_that_are_not_ours(store: DynamoJobStore) -> None:
    """A cursor is the page key DynamoDB gave, for its owner: a forged one (not base64 or JSON, nested too deeply,
    other keys, another owner's key) is a ValueError (the API's 400), never a query DynamoDB refuses (a 500)."""
    import base64
    import json
    from dataclasses import replace

    first = _job(store, 1)
    store.create(replace(first, job_id="job-2", created_at="2026-11-24T00:00:01.000Z"))
    page = store.list_for("alice", limit=1, cursor=None)
    assert [job.job_id for job in page.jobs] == ["job-2"]
    assert page.cursor is not None
    assert [job.job_id for job in store.list_for("alice", limit=1, cursor=page.cursor).jobs] == ["job-1"]

    def encoded(value: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()

    key = json.loads(base64.urlsafe_b64decode(page.cursor.encode()))
    forged = [
        "not base64 at all!",
        base64.urlsafe_b64encode(b"[" * 5000).decode(),
        encoded({"a": {"S": "b"}}),
        encoded({**key, "owner": {"S": "mallory"}}),
        encoded({name: {"N": "1"} for name in key}),
    ]
    for cursor in forged:
        with pytest.raises(ValueError, match="cursor"):
            store.list_for("alice", limit=1, cursor=cursor)
    with pytest.raises(ValueError, match="cursor"):  # alice's own cursor is not bob's
        store.list_for("bob", limit=1, cursor=page.cursor)


def test_items_resolved_in_bulk_are_counted_once_when_a_redelivery_counts_one_first(
    moto_http: boto3.session.Session,
) -> None:
    """A cancel writes the items nobody holds, then counts them fifty to an update; a redelivery that finds one of
    them resolved in between counts it itself. The bulk count then falls back to one update each: every item is
    counted once, the one the redelivery counted too."""
    client = moto_http.client("dynamodb")
    table = from_environment().settings.resource("jobs_table")

    class RedeliveryFirst:
        """The table's client, with a redelivery of item 5 landing just before the first bulk count."""

        def __init__(self) -> None:
            self.landed = False

        def __getattr__(self, name: str) -> object:
            return getattr(client, name)

        def update_item(self, **arguments: object) -> object:
            if not self.landed and str(arguments["UpdateExpression"]).startswith("ADD cancelled :n"):
                self.landed = True
                assert store.claim_item("job-60", 5, token="late", lease_until=10**10, now=0) == RESOLVED
                assert _counts(store, "job-60")[2] == 59  # counted by the redelivery
            return client.update_item(**arguments)

    racing = RedeliveryFirst()
    store = DynamoJobStore(racing, table, expire_after_seconds=86400)  # type: ignore[arg-type]
    job = _job(store, 60)
    assert store.resolve_unclaimed(job.job_id, range(60), ITEM_CANCELLED, error=None) == 60
    assert racing.landed
    found = store.get(job.job_id)
    assert found is not None
    assert (found.cancelled, found.remaining) == (60, 0)

"""Jobs through their handlers under moto: a POST with `Prefer: respond-async` (the charging functions), the
work queue delivered to WorkerFunction as Lambda's event source mapping would, dead letters redriven by SQS
itself, the jobs and account APIs, and the reaper on the housekeeping schedule."""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from snapscribe.jobs.model import ItemClaim
from snapscribe.services import from_environment
from snapscribe_tools.event_sources import SqsEventSource, drain
from snapscribe_tools.resources import local_names
from snapscribe_tools.template import load_template
from tests.conftest import EVENTS_KEY, body_of, invoke, load_event
from tests.integration.uploads import balance, trigger

NAMES = local_names(load_template())
OTHER_KEY = "ssk_jobs_other_user_key_not_a_secret"


def _queue(aws: boto3.session.Session, logical_id: str) -> tuple[str, str]:
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=NAMES[logical_id])["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


@pytest.fixture
def work(aws: boto3.session.Session) -> Iterator[Callable[[], None]]:
    """Runs the work queue (and its dead-letter queue) through WorkerFunction until both stay empty."""
    sources = []
    for logical_id in ("WorkQueue", "WorkDeadLetterQueue"):
        url, arn = _queue(aws, logical_id)
        sources.append(SqsEventSource(aws.client("sqs"), url, arn, lambda event: invoke("WorkerFunction", event)))
    return lambda: drain(sources)


def _job_event(name: str, job_id: str, key: str = EVENTS_KEY) -> dict[str, Any]:
    event = load_event(name)
    event["path"] = f"/api/v1/jobs/{job_id}"
    event["pathParameters"] = {"jobId": job_id}
    return _as(event, key)


def _as(event: dict[str, Any], key: str) -> dict[str, Any]:
    event = copy.deepcopy(event)
    event["headers"]["X-API-Key"] = key
    event["multiValueHeaders"]["X-API-Key"] = [key]
    return event


def _header(result: dict[str, Any], name: str) -> str:
    """A response header, as the REST resolver returns it (multi-value)."""
    (value,) = (result.get("multiValueHeaders") or {})[name]
    return str(value)


def _job(job_id: str, key: str = EVENTS_KEY) -> dict[str, Any]:
    result = invoke("JobsFunction", _job_event("get_job", job_id, key))
    assert result["statusCode"] == 200, result["body"]
    return dict(body_of(result))


def _submit(name: str) -> dict[str, Any]:
    accepted = invoke("OcrByKeyFunction" if name.startswith("ocr") else "BatchExtractionFunction", load_event(name))
    assert accepted["statusCode"] == 202, accepted["body"]
    return accepted


def test_ocr_by_key_as_a_job_from_202_to_the_result(uploaded: boto3.session.Session, work: Callable[[], None]) -> None:
    trigger()
    before = balance()
    accepted = _submit("ocr_by_key_async")
    body = body_of(accepted)
    job_id = body["jobId"]
    assert set(body) == {"jobId", "status", "statusUrl", "createdAt"}
    assert body["status"] == "queued"
    assert _header(accepted, "Location") == f"/api/v1/jobs/{job_id}"
    assert _header(accepted, "Preference-Applied") == "respond-async"
    assert body["statusUrl"] == f"http://localhost:3000/api/v1/jobs/{job_id}"
    queued = _job(job_id)
    assert (queued["status"], queued["progress"]) == ("queued", {"total": 1, "done": 0, "failed": 0, "cancelled": 0})
    assert balance() == before - queued["held"]  # the hold is taken at admission, as the call takes it

    work()
    finished = _job(job_id)
    assert (finished["status"], finished["resultStatus"]) == ("succeeded", 200)
    result = finished["result"]
    assert set(result) == {"id", "text", "key", "fileUrl", "createdAt", "wordCount", "tokensUsed", "language"}
    assert "Invoice No: INV-1042" in result["text"]
    assert finished["charged"] == result["tokensUsed"]
    assert balance() == before - result["tokensUsed"]

    listed = body_of(invoke("JobsFunction", load_event("list_jobs")))
    assert [job["jobId"] for job in listed["jobs"]] == [job_id]
    assert "result" not in listed["jobs"][0]  # the list is a summary
    account = body_of(invoke("AccountFunction", load_event("get_account")))
    row = next(row for row in account["usage"] if row.get("jobId") == job_id)
    assert (row["held"], row["charged"], row["status"]) == (queued["held"], result["tokensUsed"], "partial")
    assert account["balance"] == balance()


def test_an_invalid_request_gets_the_calls_answer_and_no_job(uploaded: boto3.session.Session) -> None:
    before = balance()
    event = load_event("extract_batch_async")
    event["body"] = json.dumps({"engine": {"name": "local"}, "files": [{"uuid": str(uuid.uuid4())}]})
    refused = invoke("BatchExtractionFunction", event)
    assert (refused["statusCode"], body_of(refused)) == (404, {})  # an unknown file, as the call answers
    assert body_of(invoke("JobsFunction", load_event("list_jobs")))["jobs"] == []
    assert balance() == before


def test_another_user_can_neither_see_nor_cancel_a_job(uploaded: boto3.session.Session, accounts: Any) -> None:
    trigger()
    accounts.create_key(user_id="someone-else", credits=100, rate_limit=100, raw_key=OTHER_KEY)
    job_id = body_of(_submit("ocr_by_key_async"))["jobId"]
    for name in ("get_job", "cancel_job"):
        result = invoke("JobsFunction", _job_event(name, job_id, OTHER_KEY))
        assert (result["statusCode"], body_of(result)) == (404, {"error": "Job not found"})
    assert body_of(invoke("JobsFunction", _as(load_event("list_jobs"), OTHER_KEY)))["jobs"] == []


def test_a_cancelled_job_runs_nothing_and_gives_everything_back(
    uploaded: boto3.session.Session, work: Callable[[], None]
) -> None:
    trigger()
    before = balance()
    job_id = body_of(_submit("ocr_by_key_async"))["jobId"]
    cancelled = invoke("JobsFunction", _job_event("cancel_job", job_id))
    assert (cancelled["statusCode"], body_of(cancelled)["status"]) == (200, "cancelling")
    work()
    finished = _job(job_id)
    assert (finished["status"], finished["progress"]["cancelled"], finished["charged"]) == ("cancelled", 1, 0)
    assert "result" not in finished
    assert balance() == before
    again = invoke("JobsFunction", _job_event("cancel_job", job_id))
    assert (again["statusCode"], body_of(again)["status"], body_of(again)["charged"]) == (200, "cancelled", 0)
    assert balance() == before  # cancelling again changes nothing


def test_a_message_that_keeps_failing_is_dead_lettered_and_its_item_refunded(
    uploaded: boto3.session.Session, work: Callable[[], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    trigger()
    before = balance()
    url, _arn = _queue(uploaded, "WorkQueue")
    uploaded.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "1"})
    from snapscribe.operations import ocr_by_key

    def crash(*_args: Any, **_options: Any) -> Any:
        raise RuntimeError("the worker dies on this item")  # not a typed error: the message is retried

    monkeypatch.setattr(ocr_by_key.OcrByKey, "run_item", crash)
    job_id = body_of(_submit("ocr_by_key_async"))["jobId"]
    for _receive in range(4):  # three receives fail; the fourth finds it in the dead-letter queue
        work()
        time.sleep(1.1)
    work()
    finished = _job(job_id)
    assert (finished["status"], finished["resultStatus"], finished["charged"]) == ("failed", 500, 0)
    assert finished["result"] == {"error": "OCR failed: The item failed three times: its worker stopped or timed out"}
    assert finished["progress"] == {"total": 1, "done": 0, "failed": 1, "cancelled": 0}
    assert balance() == before


def test_the_reaper_fails_an_overdue_job_and_a_worker_finishes_it(
    uploaded: boto3.session.Session, work: Callable[[], None]
) -> None:
    trigger()
    before = balance()
    job_id = body_of(_submit("ocr_by_key_async"))["jobId"]
    url, _arn = _queue(uploaded, "WorkQueue")
    uploaded.client("sqs").purge_queue(QueueUrl=url)  # its item never reaches a worker
    uploaded.client("dynamodb").update_item(  # and its deadline passes
        TableName=NAMES["JobsTable"],
        Key={"pk": {"S": f"JOB#{job_id}"}, "sk": {"S": "JOB"}},
        UpdateExpression="SET deadline = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    swept = invoke("HousekeepingFunction", load_event("housekeeping_schedule"))
    assert (swept["reapedJobs"], swept["finishRequests"]) == (1, 1)
    work()
    finished = _job(job_id)
    assert (finished["status"], finished["charged"]) == ("failed", 0)
    assert finished["result"]["error"] == "OCR failed: The item did not finish before the job's deadline"
    assert balance() == before
    assert from_environment().jobs.store.open_jobs(10) == []


def test_a_structured_extraction_job_asked_for_fields_has_them_in_its_result(
    events_key: str, work: Callable[[], None]
) -> None:
    from_environment().accounts.store.add_credits("events", 99_000)
    event = load_event("extract_structured_with_fields")
    event["headers"]["Prefer"] = "respond-async"
    event["multiValueHeaders"]["Prefer"] = ["respond-async"]
    accepted = invoke("StructuredExtractionFunction", event)
    assert accepted["statusCode"] == 202, accepted["body"]
    work()
    finished = _job(body_of(accepted)["jobId"])
    assert finished["status"] == "succeeded"
    assert set(finished["result"]) == {"content", "usage", "base_resp", "fields"}
    assert finished["result"]["fields"]["/invoice_no"]["value"] == "INV-1042"


def _record(message: dict[str, Any], arn: str, receive_count: int) -> dict[str, Any]:
    record = copy.deepcopy(load_event("work_item")["Records"][0])
    record.update(messageId=str(uuid.uuid4()), body=json.dumps(message), eventSourceARN=arn)
    record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
    return dict(record)


def test_a_dead_lettered_expansion_fails_the_job_and_refunds_it(
    uploaded: boto3.session.Session, work: Callable[[], None]
) -> None:
    """An expansion SQS gave up on: the dead-letter queue's handler fails the items it never sent and finishes the
    job at once (it used to stay queued, its whole hold held, until the reaper at its deadline)."""
    trigger()
    before = balance()
    job_id = body_of(_submit("ocr_by_key_async"))["jobId"]
    url, _arn = _queue(uploaded, "WorkQueue")
    uploaded.client("sqs").purge_queue(QueueUrl=url)  # as if its items had been left to an expansion
    _dead, dead_arn = _queue(uploaded, "WorkDeadLetterQueue")
    event = {"Records": [_record({"job": job_id, "expand": [0, 1]}, dead_arn, 1)]}
    assert invoke("WorkerFunction", event) == {"batchItemFailures": []}
    finished = _job(job_id)
    assert (finished["status"], finished["charged"], finished["progress"]["failed"]) == ("failed", 0, 1)
    assert finished["result"]["error"].endswith("The item was never queued: its job's expansion failed three times")
    assert balance() == before
    again = invoke("JobsFunction", _job_event("cancel_job", job_id))
    assert (again["statusCode"], body_of(again)) == (409, {"error": "The job has already finished (failed)"})


def test_a_batch_runs_one_item_whose_worker_died_and_hands_the_other_back(uploaded: boto3.session.Session) -> None:
    """Two redelivered items whose workers died running them, in one batch: one runs, the other is reported as a
    batch item failure without running, to come back in an invocation of its own."""
    trigger()
    jobs = [body_of(_submit("ocr_by_key_async"))["jobId"] for _ in range(2)]
    url, arn = _queue(uploaded, "WorkQueue")
    uploaded.client("sqs").purge_queue(QueueUrl=url)
    store = from_environment().jobs.store
    now = int(time.time())
    for job_id in jobs:  # each claimed by a worker that then died: the lease has run out
        assert store.claim_item(job_id, 0, token="dead", lease_until=now - 1, now=now - 600) == "claimed"
    records = [_record({"job": job_id, "item": 0}, arn, 2) for job_id in jobs]
    answer = invoke("WorkerFunction", {"Records": records})
    assert answer == {"batchItemFailures": [{"itemIdentifier": records[1]["messageId"]}]}
    assert (_job(jobs[0])["status"], _job(jobs[1])["status"]) == ("succeeded", "queued")
    assert store.item_claim(jobs[1], 0) == ItemClaim("running", 1, now - 1)  # not touched
    assert invoke("WorkerFunction", {"Records": records[1:]}) == {"batchItemFailures": []}  # alone, it runs
    assert _job(jobs[1])["status"] == "succeeded"

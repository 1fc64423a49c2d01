"""The operator's metrics as CloudWatch reads them: the EMF documents the real handlers print (Powertools Metrics,
flushed by each handler), under moto, for an OCR-by-key job run by WorkerFunction and for the synchronous call.
Namespace and dimension are the template's Globals (POWERTOOLS_METRICS_NAMESPACE, the one dimension `service`
from POWERTOOLS_SERVICE_NAME): what its alarms and dashboard name."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest

from snapscribe.metering import (
    CREDITS_CHARGED,
    CREDITS_REFUNDED,
    ENGINE_CALLS,
    ENGINE_ERRORS,
    ENGINE_LATENCY,
    METRICS,
    PAGES_READ,
)
from snapscribe.services import from_environment
from snapscribe_tools.event_sources import SqsEventSource, drain
from snapscribe_tools.resources import local_names
from snapscribe_tools.template import load_template
from tests.conftest import EVENTS_KEY, body_of, invoke, load_event
from tests.fakes import emf_blobs, emf_records
from tests.fakes.metering import totals
from tests.integration.uploads import trigger

TEMPLATE = load_template()
VARIABLES = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
UNITS = {ENGINE_LATENCY: "Milliseconds"}  # every other metric of ours is a Count


@pytest.fixture
def printed_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    """Powertools prints its EMF (the handler tests' environment turns it off)."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")


def _run_work_queue(aws: boto3.session.Session) -> None:
    sqs, names = aws.client("sqs"), local_names(TEMPLATE)
    sources = []
    for logical_id in ("WorkQueue", "WorkDeadLetterQueue"):
        url = sqs.get_queue_url(QueueName=names[logical_id])["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sources.append(SqsEventSource(sqs, url, arn, lambda event: invoke("WorkerFunction", event)))
    drain(sources)


def _ours(output: str) -> list[tuple[str, str, float]]:
    """The records of this module's metrics in what was printed, each document checked for namespace and dimension."""
    blobs = emf_blobs(output)
    assert blobs, "no EMF was printed"
    for blob in blobs:
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == VARIABLES["POWERTOOLS_METRICS_NAMESPACE"] == "snapscribe"
            assert directive["Dimensions"] == [["service"]]  # no per-engine or per-user dimension
        assert blob["service"] == VARIABLES["POWERTOOLS_SERVICE_NAME"]
    records = [record for record in emf_records(blobs) if record[0] in METRICS]
    for name, unit, _value in records:
        assert unit == UNITS.get(name, "Count"), name
    return records


def _job(job_id: str) -> dict[str, Any]:
    event = load_event("get_job")
    event["path"], event["pathParameters"] = f"/api/v1/jobs/{job_id}", {"jobId": job_id}
    return dict(body_of(invoke("JobsFunction", event)))


def test_the_worker_prints_its_engine_calls_pages_and_credits_as_emf(
    uploaded: boto3.session.Session, printed_metrics: None, capsys: pytest.CaptureFixture[str]
) -> None:
    trigger()
    accepted = invoke("OcrByKeyFunction", load_event("ocr_by_key_async"))
    assert accepted["statusCode"] == 202, accepted["body"]
    capsys.readouterr()  # what the upload trigger and the admission printed
    _run_work_queue(uploaded)
    records = _ours(capsys.readouterr().out)
    job = _job(body_of(accepted)["jobId"])
    assert job["status"] == "succeeded"
    summed = totals(records)
    assert (summed.get(ENGINE_CALLS), summed.get(PAGES_READ), summed.get(ENGINE_ERRORS)) == (1, 1, None)
    assert [value > 0 for name, _unit, value in records if name == ENGINE_LATENCY] == [True]
    assert (summed.get(CREDITS_CHARGED), summed.get(CREDITS_REFUNDED)) == (job["charged"], job["held"] - job["charged"])


def test_a_synchronous_call_prints_them_with_its_response_count(
    uploaded: boto3.session.Session, printed_metrics: None, capsys: pytest.CaptureFixture[str]
) -> None:
    trigger()
    capsys.readouterr()
    answered = invoke("OcrByKeyFunction", load_event("ocr_by_key"))
    assert answered["statusCode"] == 200, answered["body"]
    output = capsys.readouterr().out
    records = _ours(output)
    summed = totals(records)
    assert (summed.get(ENGINE_CALLS), summed.get(PAGES_READ)) == (1, 1)
    assert summed.get(CREDITS_CHARGED) == body_of(answered)["tokensUsed"]
    (blob,) = emf_blobs(output)  # one invocation, one document: the middleware's count beside ours
    assert blob["Responses2xx"] == [1]


def test_housekeeping_prints_the_credits_of_a_hold_it_refunds_once(
    events_key: str, printed_metrics: None, capsys: pytest.CaptureFixture[str]
) -> None:
    accounts = from_environment().accounts
    principal = accounts.authenticate(EVENTS_KEY)
    accounts.reserve(
        principal, 70, request_id="stopped", route="POST /api/ocr/process", hold_until=int(time.time()) - 1
    )
    capsys.readouterr()
    assert invoke("HousekeepingFunction", load_event("housekeeping_schedule"))["refundedHolds"] == 1
    assert invoke("HousekeepingFunction", load_event("housekeeping_schedule"))["refundedHolds"] == 0
    summed = totals(_ours(capsys.readouterr().out))
    assert (summed.get(CREDITS_REFUNDED), summed.get(CREDITS_CHARGED)) == (70, None)

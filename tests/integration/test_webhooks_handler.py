"""Job webhooks through the handlers under moto: a job with a Callback-Url, finished by WorkerFunction, its
webhook delivered by WebhookFunction to a receiver on loopback that verifies it with the independent
`standardwebhooks` library; a failed attempt hides its message for the backoff; a Callback-Url the service
may not reach is refused at admission, and no job is made."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from standardwebhooks import Webhook

from snapscribe.services import from_environment
from snapscribe_tools.event_sources import SqsEventSource, drain
from snapscribe_tools.resources import local_names
from snapscribe_tools.template import load_template
from tests.conftest import EVENTS_KEY, body_of, invoke, load_event
from tests.integration.uploads import trigger

NAMES = local_names(load_template())


@dataclass
class Receiver:
    url: str = ""
    statuses: list[int] = field(default_factory=lambda: [200])
    received: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status = state.statuses[min(len(state.received), len(state.statuses) - 1)]
            state.received.append((body, {name.lower(): value for name, value in self.headers.items()}))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/snapscribe"
    yield state
    server.shutdown()
    server.server_close()


def _source(aws: boto3.session.Session, queue: str, function: str) -> SqsEventSource:
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=NAMES[queue])["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return SqsEventSource(sqs, url, arn, lambda event: invoke(function, event))


@pytest.fixture
def loopback_allowed(monkeypatch: pytest.MonkeyPatch, uploaded: boto3.session.Session) -> boto3.session.Session:
    monkeypatch.setenv("SNAPSCRIBE_ALLOW_LOOPBACK_URLS", "true")  # the receiver is on loopback (tests only)
    return uploaded


@pytest.fixture
def run(loopback_allowed: boto3.session.Session) -> Callable[[], None]:
    sources = [
        _source(loopback_allowed, "WorkQueue", "WorkerFunction"),
        _source(loopback_allowed, "WebhookQueue", "WebhookFunction"),
    ]
    return lambda: drain(sources)


def _submit_with_callback(url: str) -> str:
    event = load_event("ocr_by_key_async")
    event["headers"]["Callback-Url"] = url
    event["multiValueHeaders"]["Callback-Url"] = [url]
    accepted = invoke("OcrByKeyFunction", event)
    assert accepted["statusCode"] == 202, accepted["body"]
    return str(body_of(accepted)["jobId"])


def _job(job_id: str) -> dict[str, Any]:
    event = load_event("get_job")
    event.update(path=f"/api/v1/jobs/{job_id}", pathParameters={"jobId": job_id})
    return dict(body_of(invoke("JobsFunction", event)))


def _secret() -> str:
    principal = from_environment().accounts.authenticate(EVENTS_KEY)
    secret = from_environment().accounts.webhook_secret(principal.key_id)
    assert secret is not None
    return secret


def test_a_finished_job_posts_a_verified_webhook(run: Callable[[], None], receiver: Receiver) -> None:
    trigger()
    job_id = _submit_with_callback(receiver.url)
    run()
    ((body, headers),) = receiver.received
    payload = Webhook(_secret()).verify(body, headers)  # the independent verifier
    assert (payload["type"], payload["data"]["jobId"], payload["data"]["status"]) == (
        "job.succeeded",
        job_id,
        "succeeded",
    )
    assert payload["data"]["statusUrl"] == f"http://localhost:3000/api/v1/jobs/{job_id}"
    webhook = _job(job_id)["webhook"]
    assert (webhook["url"], webhook["state"]) == (receiver.url, "delivered")
    assert [(a["attempt"], a["status"]) for a in webhook["attempts"]] == [(1, 200)]


def test_a_failed_attempt_is_recorded_and_its_message_waits_for_the_backoff(
    run: Callable[[], None], receiver: Receiver, loopback_allowed: boto3.session.Session
) -> None:
    trigger()
    receiver.statuses = [500, 204]
    job_id = _submit_with_callback(receiver.url)
    run()
    webhook = _job(job_id)["webhook"]
    assert (webhook["state"], [(a["attempt"], a["status"]) for a in webhook["attempts"]]) == ("retrying", [(1, 500)])
    sqs = loopback_allowed.client("sqs")
    url = sqs.get_queue_url(QueueName=NAMES["WebhookQueue"])["QueueUrl"]
    hidden = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    assert hidden["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1"  # back in 30 s, not now
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    # The backoff ends (the test does not wait 30 s for it): the second attempt is taken.
    sqs.purge_queue(QueueUrl=url)
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"job": job_id}))
    run()
    assert _job(job_id)["webhook"]["state"] == "delivered"
    assert len({headers["webhook-id"] for _body, headers in receiver.received}) == 1  # the same message id


def test_a_callback_url_to_an_internal_address_is_refused_and_no_job_is_made(loopback_allowed: Any) -> None:
    trigger()
    event = load_event("ocr_by_key_async")
    event["headers"]["Callback-Url"] = "http://169.254.169.254/latest/meta-data/"
    refused = invoke("OcrByKeyFunction", event)
    assert (refused["statusCode"], body_of(refused)) == (
        400,
        {"error": "The callback URL points to an address that is not allowed"},
    )
    assert body_of(invoke("JobsFunction", load_event("list_jobs")))["jobs"] == []

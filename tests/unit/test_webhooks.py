"""Job webhooks against fakes: signed per Standard Webhooks (checked by the independent `standardwebhooks`
verifier), every attempt recorded on the job, retried with a backoff that lasts more than a day."""

from __future__ import annotations

import json
from typing import Any

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from snapscribe.accounts.keys import generate_webhook_secret
from snapscribe.accounts.models import Reservation
from snapscribe.errors import UrlNotAllowed
from snapscribe.jobs.model import SUCCEEDED, Job
from snapscribe.jobs.webhooks import DELIVERED, FAILED, MAX_ATTEMPTS, RETRYING, WebhookSender, backoff_seconds, sign
from tests.fakes import FakeJobStore

SECRET = generate_webhook_secret()


class Keys:
    def __init__(self, secrets: dict[str, str]) -> None:
        self.secrets = secrets

    def webhook_secret(self, key_id: str) -> str | None:
        return self.secrets.get(key_id)


class Receiver:
    """A webhook receiver: answers each POST with the next status of `statuses` (the last repeats)."""

    def __init__(self, *statuses: int | Exception) -> None:
        self.statuses = list(statuses) or [200]
        self.received: list[tuple[str, bytes, dict[str, str]]] = []

    def __call__(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        answer = self.statuses[min(len(self.received), len(self.statuses) - 1)]
        self.received.append((url, body, headers))
        if isinstance(answer, Exception):
            raise answer
        return answer


def finished_job(store: FakeJobStore, callback_url: str | None = "https://hooks.example/jobs") -> Job:
    job = Job(
        job_id="job-1",
        owner="alice",
        key_id="key_alice",
        kind="extract_batch",
        route="POST /v1/image-extraction",
        request_id="req-1",
        total=3,
        hold=Reservation("alice", "LEDGER#1", 600, "req-1", 0),
        created_at="2026-11-24T00:00:00.000Z",
        deadline=2_000_000_000,
        callback_url=callback_url,
        status_url="https://api.example/api/v1/jobs/job-1",
    )
    store.create(job)
    store.finish(
        "job-1",
        status=SUCCEEDED,
        result_status=201,
        result="{}",
        result_key=None,
        charged=400,
        now="2026-11-24T00:01:00Z",
    )
    return job


def sender(store: FakeJobStore, receiver: Receiver, secrets: dict[str, str] | None = None) -> WebhookSender:
    """Signing with the real clock: the verifier checks the timestamp against its own."""
    return WebhookSender(store, Keys({"key_alice": SECRET} if secrets is None else secrets), receiver)


def test_a_webhook_is_signed_per_standard_webhooks_and_recorded() -> None:
    store, receiver = FakeJobStore(), Receiver(204)
    finished_job(store)
    assert sender(store, receiver).deliver("job-1", attempt=1)
    ((url, body, headers),) = receiver.received
    assert url == "https://hooks.example/jobs"
    payload = _verify(body, headers)  # the independent verifier: signature, id and timestamp
    assert payload["type"] == "job.succeeded"
    assert payload["data"]["jobId"] == "job-1"
    assert payload["data"]["statusUrl"] == "https://api.example/api/v1/jobs/job-1"
    assert (payload["data"]["resultStatus"], payload["data"]["charged"]) == (201, 400)
    assert headers["webhook-id"] == "msg_job-1"
    job = store.get("job-1")
    assert job is not None
    assert job.webhook_state == DELIVERED
    ((attempt),) = job.webhook_attempts
    assert (attempt["attempt"], attempt["status"], attempt["error"]) == (1, 204, "")
    assert attempt["at"].endswith("Z")
    assert sender(store, receiver).deliver("job-1", attempt=2)  # delivered: nothing more is sent
    assert len(receiver.received) == 1


def _verify(body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    """What a receiver does: verify with the key's secret."""
    verified = Webhook(SECRET).verify(body, headers)
    assert isinstance(verified, dict)
    return verified


def test_a_tampered_body_or_another_secret_does_not_verify() -> None:
    store, receiver = FakeJobStore(), Receiver(200)
    finished_job(store)
    sender(store, receiver).deliver("job-1", attempt=1)
    ((_url, body, headers),) = receiver.received
    with pytest.raises(WebhookVerificationError):
        _verify(body.replace(b"succeeded", b"failed"), headers)
    timestamp = int(headers["webhook-timestamp"])
    forged = sign(generate_webhook_secret(), headers["webhook-id"], timestamp, body.decode())
    other = dict(headers, **{"webhook-signature": forged})
    with pytest.raises(WebhookVerificationError):
        _verify(body, other)


def test_failed_attempts_are_recorded_and_retried_until_the_last() -> None:
    store = FakeJobStore()
    finished_job(store)
    receiver = Receiver(500, UrlNotAllowed("The callback URL points to an address that is not allowed"), 200)
    webhooks = sender(store, receiver)
    assert not webhooks.deliver("job-1", attempt=1)
    assert not webhooks.deliver("job-1", attempt=2)
    assert webhooks.deliver("job-1", attempt=3)
    job = store.get("job-1")
    assert job is not None
    assert [(a["attempt"], a["status"], a["error"]) for a in job.webhook_attempts] == [
        (1, 500, "the receiver answered HTTP 500"),
        (2, 0, "The callback URL points to an address that is not allowed"),
        (3, 200, ""),
    ]
    assert job.webhook_state == DELIVERED
    assert len({headers["webhook-id"] for _url, _body, headers in receiver.received}) == 1  # one message


def test_the_last_attempt_marks_the_webhook_failed() -> None:
    store = FakeJobStore()
    finished_job(store)
    webhooks = sender(store, Receiver(503))
    assert not webhooks.deliver("job-1", attempt=MAX_ATTEMPTS - 1)
    assert store.get("job-1").webhook_state == RETRYING  # type: ignore[union-attr]
    assert not webhooks.deliver("job-1", attempt=MAX_ATTEMPTS)  # left for the dead-letter queue
    assert store.get("job-1").webhook_state == FAILED  # type: ignore[union-attr]


def test_a_key_without_a_secret_is_recorded_and_not_retried() -> None:
    store, receiver = FakeJobStore(), Receiver(200)
    finished_job(store)
    assert sender(store, receiver, secrets={}).deliver("job-1", attempt=1)
    assert receiver.received == []
    job = store.get("job-1")
    assert job is not None
    assert (job.webhook_state, job.webhook_attempts[0]["error"]) == (
        FAILED,
        "the API key that started the job has no webhook secret",
    )


def test_jobs_without_a_callback_or_not_finished_send_nothing() -> None:
    store, receiver = FakeJobStore(), Receiver(200)
    finished_job(store, callback_url=None)
    assert sender(store, receiver).deliver("job-1", attempt=1)
    assert sender(store, receiver).deliver("no-such-job", attempt=1)
    assert receiver.received == []


def test_the_backoff_doubles_to_six_hours_and_retries_for_more_than_a_day() -> None:
    delays = [backoff_seconds(attempt) for attempt in range(1, MAX_ATTEMPTS)]
    assert delays[:4] == [30, 60, 120, 240]
    assert max(delays) == 6 * 3600
    assert sum(delays) > 24 * 3600  # from the first attempt to the last


def test_the_body_is_json_of_the_jobs_end_not_its_result() -> None:
    store, receiver = FakeJobStore(), Receiver(200)
    finished_job(store)
    sender(store, receiver).deliver("job-1", attempt=1)
    ((_url, body, headers),) = receiver.received
    assert headers["content-type"] == "application/json"
    assert "result" not in json.loads(body)["data"]

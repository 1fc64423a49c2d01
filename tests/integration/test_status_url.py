"""Where a job is followed (its statusUrl, in the 202, in the job's record and in the signed webhook) and the server
the OpenAPI document names come from the published base URL (SNAPSCRIBE_PUBLIC_BASE_URL) or the gateway's own domain
and stage (the event's requestContext, which API Gateway sets), never from the client's Host or X-Forwarded-* headers:
a forged one cannot point a client, or the webhook its receiver trusts, at another host. Through the real handlers
under moto; the local gateway names its own address, so the local stack's statusUrl is the URL its clients call."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import httpx
import pytest
from standardwebhooks import Webhook

from snapscribe.services import from_environment
from snapscribe_tools.event_sources import SqsEventSource, drain
from snapscribe_tools.gateway import Gateway
from snapscribe_tools.resources import local_names
from snapscribe_tools.template import ApiRoute, load_template
from tests.conftest import EVENTS_KEY, body_of, invoke, load_event
from tests.integration.uploads import trigger

NAMES = local_names(load_template())
FORGED = {"Host": "attacker.example", "X-Forwarded-Host": "attacker.example", "X-Forwarded-Proto": "https"}


def _with_headers(event: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    for name, value in headers.items():
        event["headers"][name] = value
        event["multiValueHeaders"][name] = [value]
    return event


def _accepted(event: dict[str, Any]) -> tuple[str, str, str]:
    """(jobId, statusUrl, Location) of a 202."""
    result = invoke("OcrByKeyFunction", event)
    assert result["statusCode"] == 202, result["body"]
    body = body_of(result)
    (location,) = result["multiValueHeaders"]["Location"]
    return body["jobId"], body["statusUrl"], location


def _recorded(job_id: str) -> str | None:
    job = from_environment().jobs.store.get(job_id)
    assert job is not None
    return job.status_url


def _on_execute_api(event: dict[str, Any]) -> dict[str, Any]:
    """The event as API Gateway sends it for its own URL: the domain, and the stage in the request's full path."""
    event["requestContext"]["domainName"] = "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"
    event["requestContext"]["path"] = "/prod" + event["path"]
    return event


def test_a_forged_host_does_not_change_the_status_url(uploaded: boto3.session.Session) -> None:
    trigger()
    job_id, status_url, location = _accepted(_with_headers(load_event("ocr_by_key_async"), FORGED))
    assert status_url == f"http://localhost:3000/api/v1/jobs/{job_id}"  # the (local) gateway's own domain
    assert location == f"/api/v1/jobs/{job_id}"
    assert _recorded(job_id) == status_url  # what the webhook will say


def test_on_api_gateways_own_domain_the_status_url_is_https_with_the_stage(uploaded: boto3.session.Session) -> None:
    trigger()
    event = _on_execute_api(_with_headers(load_event("ocr_by_key_async"), {**FORGED, "X-Forwarded-Proto": "http"}))
    job_id, status_url, location = _accepted(event)
    assert status_url == f"https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod/api/v1/jobs/{job_id}"
    assert location == f"/prod/api/v1/jobs/{job_id}"
    assert _recorded(job_id) == status_url


@pytest.mark.parametrize(
    ("configured", "base", "path"),
    [
        ("https://ocr.example.com", "https://ocr.example.com", ""),
        ("https://ocr.example.com/", "https://ocr.example.com", ""),
        ("https://cdn.example/v2", "https://cdn.example/v2", "/v2"),
    ],
)
def test_the_published_base_url_wins_over_the_gateways_domain_and_any_header(
    uploaded: boto3.session.Session, monkeypatch: pytest.MonkeyPatch, configured: str, base: str, path: str
) -> None:
    trigger()
    monkeypatch.setenv("SNAPSCRIBE_PUBLIC_BASE_URL", configured)
    job_id, status_url, location = _accepted(_on_execute_api(_with_headers(load_event("ocr_by_key_async"), FORGED)))
    assert status_url == f"{base}/api/v1/jobs/{job_id}"
    assert location == f"{path}/api/v1/jobs/{job_id}"
    assert _recorded(job_id) == status_url


def test_the_openapi_documents_server_is_not_the_forged_host(aws: boto3.session.Session) -> None:
    served = body_of(invoke("ApiDocsFunction", _with_headers(load_event("get_openapi"), FORGED)))
    assert served["servers"] == [{"url": "http://localhost:3000"}]
    served = body_of(invoke("ApiDocsFunction", _on_execute_api(_with_headers(load_event("get_openapi"), FORGED))))
    assert served["servers"] == [{"url": "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod"}]
    page = invoke("ApiDocsFunction", _with_headers(load_event("get_api_docs"), FORGED))["body"]
    assert "attacker.example" not in page


# --- the signed webhook --------------------------------------------------------------------------------------
@pytest.fixture
def received() -> Iterator[tuple[str, list[bytes | dict[str, str]]]]:
    """A webhook receiver on loopback: its URL, and each (body, headers) it was posted."""
    posts: list[Any] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            pass

        def do_POST(self) -> None:
            posts.append((self.rfile.read(int(self.headers["Content-Length"])), dict(self.headers)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", posts
    server.shutdown()
    server.server_close()


def _queue(aws: boto3.session.Session, logical_id: str, function: str) -> SqsEventSource:
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=NAMES[logical_id])["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return SqsEventSource(sqs, url, arn, lambda event: invoke(function, event))


def test_the_signed_webhook_carries_the_gateways_status_url_not_the_forged_host(
    uploaded: boto3.session.Session, monkeypatch: pytest.MonkeyPatch, received: tuple[str, list[Any]]
) -> None:
    monkeypatch.setenv("SNAPSCRIBE_ALLOW_LOOPBACK_URLS", "true")  # the receiver is on loopback (tests only)
    trigger()
    url, posts = received
    job_id, status_url, _location = _accepted(
        _with_headers(load_event("ocr_by_key_async"), {**FORGED, "Callback-Url": url})
    )
    drain([_queue(uploaded, "WorkQueue", "WorkerFunction"), _queue(uploaded, "WebhookQueue", "WebhookFunction")])
    ((body, headers),) = posts
    principal = from_environment().accounts.authenticate(EVENTS_KEY)
    secret = from_environment().accounts.webhook_secret(principal.key_id)
    assert secret is not None
    payload = Webhook(secret).verify(body, headers)
    assert (payload["data"]["jobId"], payload["data"]["statusUrl"]) == (job_id, status_url)
    assert status_url == f"http://localhost:3000/api/v1/jobs/{job_id}"
    assert "attacker.example" not in json.dumps(payload)


# --- the local gateway -----------------------------------------------------------------------------------------
def test_the_local_gateway_names_its_own_address_as_the_domain_whatever_the_host_header() -> None:
    seen: list[dict[str, Any]] = []

    def function(_function_id: str, event: dict[str, Any]) -> dict[str, Any]:
        seen.append(event)
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "{}"}

    server = Gateway(("127.0.0.1", 0), [ApiRoute("GET", "/api/v1/jobs", "JobsFunction")], function, [])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        response = httpx.get(f"http://127.0.0.1:{port}/api/v1/jobs", headers={"Host": "attacker.example"})
        assert response.status_code == 200
    finally:
        server.shutdown()
        server.server_close()
    ((event,),) = [seen]
    assert event["requestContext"]["domainName"] == f"127.0.0.1:{port}"
    assert event["headers"]["Host"] == "attacker.example"  # passed on as sent, as API Gateway does, but not used

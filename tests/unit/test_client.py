"""The user's client against HTTP-level stubs (httpx.MockTransport): what it does with 429, 409 and errors, how it
follows many jobs, and what it writes. The whole flow against the local stack is in tests/e2e/test_jobs_flow.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from snapscribe_tools.client import Api, ClientError, poll, write_results


def api_answering(handler: Any, sleeps: list[float]) -> Api:
    return Api("http://api.test", "key-1", sleep=sleeps.append, transport=httpx.MockTransport(handler))


def test_a_rate_limited_call_waits_as_long_as_retry_after_says_then_goes_on() -> None:
    answers = iter([httpx.Response(429, headers={"Retry-After": "7"}, json={"error": "Rate limit exceeded"})])
    sleeps: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == "Bearer key-1"
        return next(answers, httpx.Response(200, json={"balance": 5}))

    assert api_answering(handler, sleeps).account() == {"balance": 5}
    assert sleeps == [7.0]


def test_an_error_speaks_the_services_own_message() -> None:
    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(402, json={"error": "Insufficient credits"})

    with pytest.raises(ClientError, match="HTTP 402: Insufficient credits"):
        api_answering(handler, []).account()


def test_a_job_over_unchecked_uploads_is_asked_again_with_the_same_idempotency_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) < 3:
            return httpx.Response(409, json={"error": "The upload has not been checked yet"})
        return httpx.Response(202, json={"jobId": "j1", "status": "queued", "statusUrl": "u", "createdAt": "t"})

    sleeps: list[float] = []
    job = api_answering(handler, sleeps).start_batch("local", [{"uuid": "a"}, {"uuid": "b"}])
    assert job["jobId"] == "j1"
    assert len({request.headers["Idempotency-Key"] for request in seen}) == 1
    assert all(request.headers["Prefer"] == "respond-async" for request in seen)
    assert json.loads(seen[0].content) == {"engine": {"name": "local"}, "files": [{"uuid": "a"}, {"uuid": "b"}]}
    assert len(sleeps) == 2


def _job(job_id: str, finished: bool) -> dict[str, Any]:
    progress = {"total": 5, "done": 5 if finished else 1, "failed": 0, "cancelled": 0}
    return {"jobId": job_id, "progress": progress, "finishedAt": "t" if finished else None}


def test_many_jobs_are_followed_through_the_job_list_not_a_request_each() -> None:
    paths: list[str] = []
    mine = {f"j{number}" for number in range(8)}

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        if request.url.params.get("cursor") is None:
            jobs = [_job("other", True)] + [_job(job_id, True) for job_id in sorted(mine)[:5]]
            return httpx.Response(200, json={"jobs": jobs, "nextCursor": "c2"})
        return httpx.Response(200, json={"jobs": [_job(job_id, False) for job_id in sorted(mine)[5:]]})

    found = poll(api_answering(handler, []), mine)
    assert {job["jobId"] for job in found} == mine
    assert paths == ["/api/v1/jobs", "/api/v1/jobs"]


def test_results_are_written_per_file_in_page_order_under_the_files_own_names(tmp_path: Path) -> None:
    result = {
        "data": {
            "files": [
                {"uuid": "u1", "pages": [{"number": 2, "text": "two"}, {"number": 1, "text": "one"}]},
                {"uuid": "u2", "pages": [{"number": 1, "text": "other scan"}]},
            ]
        }
    }
    names = {"u1": Path("in/scan.pdf"), "u2": Path("elsewhere/scan.png")}
    written = write_results(tmp_path, {"jobId": "j1"}, result, names, set())
    assert (tmp_path / "scan.txt").read_text() == "one\ftwo"
    assert (tmp_path / "scan-2.txt").read_text() == "other scan"  # same stem, not overwritten
    assert json.loads((tmp_path / "j1.json").read_text())["result"] == result
    assert len(written) == 5


def test_a_job_start_that_timed_out_at_the_gateway_is_sent_again_with_the_same_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return httpx.Response(504, json={"message": "Endpoint request timed out"})
        return httpx.Response(202, json={"jobId": "j1", "status": "queued", "statusUrl": "u", "createdAt": "t"})

    assert api_answering(handler, []).start_batch("local", [{"uuid": "a"}])["jobId"] == "j1"
    assert len({request.headers["Idempotency-Key"] for request in seen}) == 1


def test_a_post_without_an_idempotency_key_is_not_sent_twice() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(504, json={"message": "Endpoint request timed out"})

    with pytest.raises(ClientError, match="HTTP 504"):
        api_answering(handler, []).call("POST", "/api/files/upload-url", json={})
    assert len(calls) == 1

"""The local stack at its limits, over real HTTP: started with an API timeout of 3 s and a worker timeout of
1 s (template parameters), so that a synchronous request is stopped at its timeout (API Gateway's 504; the
hold comes back once, through the sweeper) and work items that never finish in time are redriven by SQS to
the dead-letter queue (failed, refunded). The balance ends where the finished work puts it."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import PROJECT_ROOT, pdf_with_dense_pages
from tests.e2e.stack_process import CLI, StackProcess, balance, free_port, start, upload, wait_for_job

pytestmark = pytest.mark.e2e
PER_PAGE = 200


@pytest.fixture(scope="module")
def stack() -> Iterator[StackProcess]:
    command = [CLI, "run", "--port", str(free_port()), "--dev-key", "e2e-limits-key-123456"]
    for parameter in ("ApiTimeout=3", "WorkerTimeout=1", "WorkQueueVisibilityTimeout=2"):
        command += ["--parameter", parameter]
    # The estimate says a page takes 10 ms, so the request is admitted and then outlives its timeout; an
    # unsettled hold may be swept one second after its invocation ends.
    environment = {"SNAPSCRIBE_LOCAL_SECONDS_PER_PAGE": "0.01", "SNAPSCRIBE_SYNC_MARGIN_SECONDS": "0"}
    process = start(command, {**environment, "SNAPSCRIBE_HOLD_GRACE_SECONDS": "1"})
    yield process
    if process.process.poll() is None:
        assert process.interrupt() == 0


@pytest.fixture
def client(stack: StackProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.url, headers={"X-API-Key": stack.api_key}, timeout=120) as http:
        yield http


@pytest.fixture(scope="module")
def dense_pdf(stack: StackProcess) -> dict[str, str]:
    with httpx.Client(base_url=stack.url, headers={"X-API-Key": stack.api_key}, timeout=120) as http:
        answer = upload(http, "dense.pdf", "application/pdf", pdf_with_dense_pages(3))
        return {"uuid": str(answer["uuid"]), "key": str(answer["key"])}


def _housekeeping(stack: StackProcess) -> dict[str, int]:
    """Run the housekeeping schedule now, against the running stack, as an operator can."""
    completed = subprocess.run(
        [CLI, "invoke", "HousekeepingFunction", "--event", "events/housekeeping_schedule.json", "--local"],
        cwd=PROJECT_ROOT,
        env=stack.environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    answer: dict[str, int] = json.loads(completed.stdout[completed.stdout.index("{") :])
    return answer


def test_a_request_stopped_at_its_timeout_gets_504_and_its_hold_back_exactly_once(
    stack: StackProcess, client: httpx.Client, dense_pdf: dict[str, str]
) -> None:
    before = balance(client)
    stopped = client.post("/api/ocr/process", json={"key": dense_pdf["key"]})
    assert (stopped.status_code, stopped.json()) == (504, {"message": "Endpoint request timed out"})
    held = before - balance(client)
    assert held > 0  # the invocation was stopped before it could settle
    row = client.get("/api/v1/account").json()["usage"][0]
    assert (row["route"], row["status"], row["held"]) == ("POST /api/ocr/process", "reserved", held)
    time.sleep(3)  # past the invocation's end and the grace
    assert _housekeeping(stack)["refundedHolds"] == 1
    assert balance(client) == before
    assert client.get("/api/v1/account").json()["usage"][0]["status"] == "expired"
    assert _housekeeping(stack)["refundedHolds"] == 0  # once
    assert balance(client) == before


def test_items_that_never_finish_are_dead_lettered_and_refunded(
    client: httpx.Client, dense_pdf: dict[str, str]
) -> None:
    before = balance(client)
    accepted = client.post(
        "/v1/image-extraction",
        json={"engine": {"name": "local"}, "files": [{"uuid": dense_pdf["uuid"]}]},
        headers={"Prefer": "respond-async"},
    )
    assert accepted.status_code == 202, accepted.text
    job = wait_for_job(client, accepted.json()["jobId"], timeout=300)
    pages = job["result"]["data"]["files"][0]["pages"]
    progress = job["progress"]
    assert progress["failed"] > 0  # a dense page takes longer than the worker's one second, three times
    assert all(page["error"].startswith("The item failed three times") for page in pages if page["status"] == "failed")
    assert job["charged"] == progress["done"] * PER_PAGE
    assert balance(client) == before - progress["done"] * PER_PAGE

"""A worker killed mid-item, on the local stack: its items come back when their visibility timeout ends, are
taken over once their lease has run out, and are counted once. The stack runs one item per invocation
(WorkerBatchSize=1) with a visibility timeout of 14 s over a lease of 12 s (twice WorkerTimeout=6): those
seconds are most of the test's time. Small pages (read in ~0.2 s each) keep the rest short."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import boto3
import httpx
import pytest

from tests.e2e.stack_process import (
    CLI,
    StackProcess,
    balance,
    free_port,
    pdf_with_small_pages,
    start,
    upload,
    wait_for_job,
)

pytestmark = pytest.mark.e2e
PER_PAGE = 200
PAGES = 12


@pytest.fixture(scope="module")
def stack() -> Iterator[StackProcess]:
    command = [CLI, "run", "--port", str(free_port()), "--dev-key", "e2e-crash-key-123456"]
    # A worker's timeout with room for a replacement process's first item (its OCR models load then: 0.6 s here,
    # two or three times that on a busy 2-core machine; its imports come before the timeout counts), so that only
    # the kill, never a timeout, makes items come back.
    for parameter in ("WorkerBatchSize=1", "WorkerTimeout=6", "WorkQueueVisibilityTimeout=14"):
        command += ["--parameter", parameter]
    process = start(command)
    yield process
    if process.process.poll() is None:
        assert process.interrupt() == 0


def _attempts(stack: StackProcess, job_id: str) -> list[int]:
    """Each item's claims, read from the stack's jobs table."""
    return [int(item["attempts"]["N"]) for item in _items(stack, job_id)]


def _items(stack: StackProcess, job_id: str) -> list[dict[str, dict[str, str]]]:
    """The job's item records in the stack's jobs table (an item has one once a worker claims it)."""
    state = stack.state()
    names = state["names"]
    assert isinstance(names, dict)
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=str(state["awsEndpoint"]),
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    items = dynamodb.query(
        TableName=names["JobsTable"],
        KeyConditionExpression="pk = :pk AND begins_with(sk, :items)",
        ExpressionAttributeValues={":pk": {"S": f"JOB#{job_id}"}, ":items": {"S": "ITEM#"}},
    )["Items"]
    return list(items)


def test_items_of_a_killed_worker_are_redelivered_and_counted_once(stack: StackProcess) -> None:
    with httpx.Client(base_url=stack.url, headers={"X-API-Key": stack.api_key}, timeout=120) as client:
        # 640x240 pages: an item is in flight most of the time a worker runs, so the kill stops one mid-way.
        pdf = upload(client, "report.pdf", "application/pdf", pdf_with_small_pages(PAGES, size=(640, 240)))
        before = balance(client)
        accepted = client.post(
            "/v1/image-extraction",
            json={"engine": {"name": "local"}, "files": [{"uuid": pdf["uuid"]}]},
            headers={"Prefer": "respond-async"},
        )
        job_id = accepted.json()["jobId"]
        deadline = time.monotonic() + 120
        # Some items done, and one claimed and still being read: the kill must stop an item mid-way.
        while client.get(f"/api/v1/jobs/{job_id}").json()["progress"]["done"] < 3 or not any(
            item["status"]["S"] == "running" for item in _items(stack, job_id)
        ):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        functions = stack.state()["functions"]
        assert isinstance(functions, dict)
        killed = list(functions.get("WorkerFunction", []))
        assert killed
        for pid in killed:  # stopped mid-item, as a crash or a host failure would stop them
            os.kill(pid, signal.SIGKILL)
        job = wait_for_job(client, job_id, timeout=300)
        failed = [page for page in (job.get("result") or {}).get("data", {}).get("files", [{}])[0].get("pages", [])
                  if page["status"] != "processed"]  # fmt: skip
        assert (job["status"], job["progress"]) == (
            "succeeded",
            {"total": PAGES, "done": PAGES, "failed": 0, "cancelled": 0},
        ), failed
        assert max(_attempts(stack, job_id)) >= 2  # an item in flight when its worker died was taken over
        pages = job["result"]["data"]["files"][0]["pages"]
        assert [page["number"] for page in pages] == list(range(1, PAGES + 1))
        assert job["charged"] == PAGES * PER_PAGE
        assert balance(client) == before - PAGES * PER_PAGE

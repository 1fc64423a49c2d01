"""Jobs on the local stack over real HTTP, as a user runs them: a 12-page PDF refused synchronously (too much
for one request; nothing charged) and then done as a job, every page in order; a 3000-image extract-image
job; a job cancelled mid-way. In every case the balance is the start minus what the finished work cost.

What each costs, and why it still proves its point: the pages are small (tests/e2e/stack_process.py's
pdf_with_small_pages, read by the real OCR engine in a tenth of an A4 page's time) and 12 of them, the fewest a
synchronous request refuses; the 3000 images are marked (tests/e2e/marked_images.py: the worker reads a marked
image from its mark, so the job costs the job path, not 3000 OCR reads), but three of them are read by the engine.
On the e2e modules' shared stack (tests/e2e/conftest.py), which gives the worker that reader."""

from __future__ import annotations

import io
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageDraw
from standardwebhooks import Webhook

from snapscribe_tools.bench_jobs import tiny_png
from tests.e2e.marked_images import marked_png
from tests.e2e.stack_process import (
    CLI,
    StackProcess,
    balance,
    pdf_with_small_pages,
    upload,
    wait_for_job,
)

pytestmark = pytest.mark.e2e
PER_PAGE = 200
ASYNC = {"Prefer": "respond-async"}
# More pages than a synchronous request may take with the template's defaults: 2.5 s of work estimated a page
# and 26 s to do them in (ApiTimeout 29, 3 kept for settling), so 11 is the fewest refused.
PAGES = 12
# The cancelled job: more pages than the two workers take in their first batches (10 messages each), each page
# slow enough (640x240: ~0.2 s) that the cancel lands while those run: the pages of those batches not yet started
# do not start after it.
CANCELLED_PAGES = 30


@pytest.fixture
def client(stack: StackProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.url, headers={"X-API-Key": stack.api_key}, timeout=120) as http:
        yield http


def _uploaded(stack: StackProcess, name: str, data: bytes) -> dict[str, str]:
    with httpx.Client(base_url=stack.url, headers={"X-API-Key": stack.api_key}, timeout=120) as http:
        answer = upload(http, name, "application/pdf", data)
        return {key: str(answer[key]) for key in ("uuid", "key")}


@pytest.fixture(scope="module")
def report(stack: StackProcess) -> dict[str, str]:
    return _uploaded(stack, "report.pdf", pdf_with_small_pages(PAGES))


def test_too_many_pages_are_refused_synchronously_and_nothing_is_charged(
    client: httpx.Client, report: dict[str, str]
) -> None:
    before = balance(client)
    refused = client.post("/api/ocr/process", json={"key": report["key"]})
    assert refused.status_code == 413
    assert "Prefer: respond-async" in refused.json()["error"]
    batch = {"engine": {"name": "local"}, "files": [{"uuid": report["uuid"]}]}
    refused = client.post("/v1/image-extraction", json=batch)
    assert (refused.status_code, "respond-async" in refused.json()["error"]) == (413, True)
    assert balance(client) == before


def test_the_pages_as_a_job_every_page_in_order(client: httpx.Client, report: dict[str, str]) -> None:
    before = balance(client)
    started = time.monotonic()
    accepted = client.post(
        "/v1/image-extraction",
        json={"engine": {"name": "local"}, "files": [{"uuid": report["uuid"]}]},
        headers=ASYNC,
    )
    admitted = time.monotonic() - started
    assert accepted.status_code == 202, accepted.text
    assert accepted.headers["Preference-Applied"] == "respond-async"
    job_id = accepted.json()["jobId"]
    assert accepted.headers["Location"] == f"/api/v1/jobs/{job_id}"
    assert accepted.json()["statusUrl"] == f"{client.base_url}/api/v1/jobs/{job_id}"
    assert balance(client) == before - PAGES * PER_PAGE  # held at admission
    job = wait_for_job(client, job_id)
    assert (job["status"], job["resultStatus"], job["progress"]) == (
        "succeeded",
        201,
        {"total": PAGES, "done": PAGES, "failed": 0, "cancelled": 0},
    )
    pages = job["result"]["data"]["files"][0]["pages"]
    assert [page["number"] for page in pages] == list(range(1, PAGES + 1))
    assert all(f"page {page['number']}" in page["text"] for page in pages), [page["text"] for page in pages[:3]]
    assert job["charged"] == PAGES * PER_PAGE
    assert balance(client) == before - PAGES * PER_PAGE
    assert admitted < 30  # admission does not wait for the work (measured in make bench, not here)


def test_the_pages_by_key_as_a_job(client: httpx.Client, report: dict[str, str]) -> None:
    before = balance(client)
    accepted = client.post("/api/ocr/process", json={"key": report["key"]}, headers=ASYNC)
    assert accepted.status_code == 202, accepted.text
    job = wait_for_job(client, accepted.json()["jobId"])
    result = job["result"]
    assert (job["status"], job["resultStatus"]) == ("succeeded", 200)
    found = [result["text"].find(f"page {number}\n") for number in range(1, PAGES)]
    assert all(position >= 0 for position in found)
    assert found == sorted(found)  # in page order
    assert job["charged"] == result["tokensUsed"]
    assert balance(client) == before - result["tokensUsed"]


def test_a_3000_image_job(client: httpx.Client) -> None:
    """The most images a request takes, as one job: admitted at once (the hold), expanded in chunks of messages,
    3000 items claimed, counted and finished, the answer in image order, exactly its credits charged. The first
    three images are read by the OCR engine, the others from their mark (tests/e2e/marked_images.py)."""
    before = balance(client)
    images = [tiny_png(number) if number < 3 else marked_png(number) for number in range(3000)]
    body = {"inputMethod": "base64", "images": images, "prompt": "Read every image."}
    accepted = client.post("/api/v1/extract-image", json=body, headers=ASYNC)
    assert accepted.status_code == 202, accepted.text
    job = wait_for_job(client, accepted.json()["jobId"], timeout=900)
    assert (job["status"], job["resultStatus"], job["progress"]["done"]) == ("succeeded", 200, 3000)
    result = job["result"] if "result" in job else httpx.get(job["resultUrl"]).json()
    assert (result["imageCount"], result["creditUsage"]) == (3000, 3010)
    lines = result["results"].split("\n\n")
    assert len(lines) == 3000
    assert [line.replace(" ", "") for line in lines[:3]] == ["n0", "n1", "n2"]  # read by the engine
    assert lines[3:] == [f"n {number}" for number in range(3, 3000)]  # every other one in its place
    assert balance(client) == before - 3010


def test_cancelled_mid_way_pays_only_for_the_pages_done(stack: StackProcess, client: httpx.Client) -> None:
    document = _uploaded(stack, "long.pdf", pdf_with_small_pages(CANCELLED_PAGES, size=(640, 240)))
    before = balance(client)
    accepted = client.post(
        "/v1/image-extraction",
        json={"engine": {"name": "local"}, "files": [{"uuid": document["uuid"]}]},
        headers=ASYNC,
    )
    job_id = accepted.json()["jobId"]
    deadline = time.monotonic() + 120
    while client.get(f"/api/v1/jobs/{job_id}").json()["progress"]["done"] < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    cancelled = client.delete(f"/api/v1/jobs/{job_id}")
    answered = cancelled.json()
    assert (cancelled.status_code, answered["status"]) == (200, "cancelling")
    # Every item not started is cancelled by the DELETE itself: what is left runs on the two workers now.
    left = CANCELLED_PAGES - sum(answered["progress"][count] for count in ("done", "failed", "cancelled"))
    assert left <= 2, answered["progress"]
    job = wait_for_job(client, job_id, timeout=30)  # the running pages' time, not the batches' claimed
    progress = job["progress"]
    assert job["status"] == "cancelled"
    assert progress["done"] <= answered["progress"]["done"] + left  # nothing started after the DELETE
    assert progress["cancelled"] >= answered["progress"]["cancelled"] > 0
    assert progress["done"] + progress["failed"] + progress["cancelled"] == CANCELLED_PAGES
    assert job["charged"] == progress["done"] * PER_PAGE
    assert job["result"]["data"]["returned_credits"] == (CANCELLED_PAGES - progress["done"]) * PER_PAGE
    assert balance(client) == before - progress["done"] * PER_PAGE
    again = client.delete(f"/api/v1/jobs/{job_id}")  # idempotent: the job as it stands
    assert (again.status_code, again.json()["status"], again.json()["charged"]) == (200, "cancelled", job["charged"])
    assert balance(client) == before - progress["done"] * PER_PAGE


def test_a_finished_job_calls_back_with_a_webhook_the_banner_secret_verifies(
    stack: StackProcess, client: httpx.Client, report: dict[str, str]
) -> None:
    received: list[tuple[bytes, dict[str, str]]] = []

    class Receiver(BaseHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:
            pass

        def do_POST(self) -> None:
            received.append((self.rfile.read(int(self.headers["Content-Length"])), dict(self.headers.items())))
            self.send_response(204)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        callback = f"http://127.0.0.1:{server.server_address[1]}/snapscribe/jobs"
        accepted = client.post(
            "/api/ocr/process", json={"key": report["key"]}, headers={**ASYNC, "Callback-Url": callback}
        )
        job_id = accepted.json()["jobId"]
        job = wait_for_job(client, job_id)
        deadline = time.monotonic() + 60
        while not received:
            assert time.monotonic() < deadline, "no webhook came"
            time.sleep(0.2)
        body, headers = received[0]
        payload = Webhook(stack.webhook_secret).verify(body, headers)
        assert (payload["type"], payload["data"]["jobId"], payload["data"]["charged"]) == (
            "job.succeeded",
            job_id,
            job["charged"],
        )
        assert payload["data"]["statusUrl"] == f"{client.base_url}/api/v1/jobs/{job_id}"
        deadline = time.monotonic() + 30
        while client.get(f"/api/v1/jobs/{job_id}").json()["webhook"]["state"] != "delivered":
            assert time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        server.shutdown()
        server.server_close()


def _png_reading(text: str) -> bytes:
    image = Image.new("RGB", (640, 160), "white")
    ImageDraw.Draw(image).text((20, 50), text, fill="black", font_size=40)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_the_client_submits_files_follows_their_jobs_and_writes_every_page_in_order(
    stack: StackProcess, client: httpx.Client, tmp_path: Path
) -> None:
    """`snapscribe submit` as the README shows it: seven files make two jobs (five files a job); every page comes
    back in order under the file's own name; the balance drops by exactly the pages done."""
    report = tmp_path / "report.pdf"
    report.write_bytes(pdf_with_small_pages(12))
    receipts = []
    for number in range(1, 7):
        receipts.append(tmp_path / f"receipt-{number}.png")
        receipts[-1].write_bytes(_png_reading(f"Receipt number {number}"))
    out = tmp_path / "results"
    before = balance(client)
    environment = {**stack.environment, "SNAPSCRIBE_API_URL": stack.url, "SNAPSCRIBE_API_KEY": stack.api_key}
    run = subprocess.run(
        [CLI, "submit", str(report), *map(str, receipts), "--wait", "--out", str(out)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    assert "2 job(s): 18 pages done, 0 failed" in run.stderr, run.stderr
    pages = (out / "report.txt").read_text().split("\f")
    assert len(pages) == 12
    assert all(f"page {number}" in text for number, text in enumerate(pages, start=1)), pages[:3]
    for number in range(1, 7):
        assert f"number {number}" in (out / f"receipt-{number}.txt").read_text()
    assert balance(client) == before - 18 * PER_PAGE

    listed = subprocess.run(
        [CLI, "jobs", "list", "--limit", "2"], env=environment, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    written = {path.stem for path in out.glob("*.json") if not path.stem.startswith(("report", "receipt"))}
    assert {line.split("\t")[0] for line in listed} == written  # the two newest jobs are the client's
    account = json.loads(
        subprocess.run([CLI, "account"], env=environment, capture_output=True, text=True, check=True).stdout
    )
    assert account["balance"] == before - 18 * PER_PAGE

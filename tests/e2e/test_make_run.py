"""`make run` as the README says: it prints a key and a curl line, and the curl works as printed."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import PROJECT_ROOT
from tests.e2e.stack_process import StackProcess, free_port, start, upload, wait_for_job

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def make_run() -> Iterator[StackProcess]:
    port = free_port()
    stack = start(["make", "--no-print-directory", "run", f"PORT={port}", "DEV_API_KEY=e2e-dev-key-123456"])
    assert stack.url == f"http://127.0.0.1:{port}"
    yield stack
    if stack.process.poll() is None:
        stack.interrupt()


def test_the_banner_warns_that_its_aws_is_in_memory(make_run: StackProcess) -> None:
    assert "Warning: its AWS is in memory (moto): a restart forgets keys, jobs and balances." in make_run.text


def test_printed_curl_works_as_printed(make_run: StackProcess) -> None:
    assert make_run.api_key == "e2e-dev-key-123456"
    command = make_run.printed_curl()
    assert "\\\n" in command  # the banner's own line continuations, run as they are
    completed = subprocess.run(["bash", "-c", command], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    body = json.loads(completed.stdout)
    assert set(body) == {"results", "prompt", "imageCount", "creditUsage"}
    assert "INV-1042" in body["results"]
    assert body["creditUsage"] == 11


STRUCTURED_EXTRACTION_PROMPT = (
    "Please extract the information from the image using the following schema: "
    '{"invoice_no":"Invoice Number","date":"Invoice Date","items":[{"name":"Item Name","total":"Amount"}]}'
)


def test_structured_extraction_example_with_curl_form(make_run: StackProcess) -> None:
    completed = subprocess.run(
        [
            "curl",
            "-sS",
            "-X",
            "POST",
            f"{make_run.url}/v1/ocr/image/extract",
            "-H",
            f"Authorization: Bearer {make_run.api_key}",
            "-F",
            "model=u1-ocr-extract",
            "-F",
            "scene=general",
            "-F",
            "image=@samples/invoice.png",
            "-F",
            f"prompt={STRUCTURED_EXTRACTION_PROMPT}",
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    body = json.loads(completed.stdout)
    assert body["base_resp"] == {"status_code": 0, "status_msg": "success"}
    assert json.loads(body["content"]) == {
        "invoice_no": "INV-1042",
        "date": "2026-11-21",
        "items": [{"name": "Paper A4 x2", "total": "9.80"}, {"name": "Stapler", "total": "12.50"}],
    }


def test_rate_headers_over_http(make_run: StackProcess) -> None:
    response = httpx.get(f"{make_run.url}/api/v1/extract-image", headers={"X-API-Key": make_run.api_key})
    assert response.status_code == 200
    assert response.headers["X-RateLimit-Limit"] == "600"
    assert int(response.headers["X-RateLimit-Remaining"]) < 600


def test_loopback_urls_are_refused_under_make_run(make_run: StackProcess) -> None:
    response = httpx.post(
        f"{make_run.url}/api/v1/extract-image",
        headers={"Authorization": f"Bearer {make_run.api_key}"},
        json={"inputMethod": "url", "images": [f"{make_run.url}/api/v1/extract-image"], "prompt": "x"},
    )
    assert response.status_code == 400
    assert "not allowed" in response.json()["error"]


def test_the_deployments_defaults_serve_the_other_apis_and_jobs_with_no_key(make_run: StackProcess) -> None:
    """`make run` runs the template's defaults: OCR by key, batch extraction and a job, on the local engine, with
    no third-party key anywhere (extract-image and structured extraction: the two tests above)."""
    invoice = (PROJECT_ROOT / "samples" / "invoice.png").read_bytes()
    with httpx.Client(base_url=make_run.url, headers={"X-API-Key": make_run.api_key}, timeout=120) as client:
        assert client.get("/api/v1/extract-image").json()["engines"] == ["local"]  # nothing else offered
        uploaded = upload(client, "invoice.png", "image/png", invoice)
        ocr = client.post("/api/ocr/process", json={"key": uploaded["key"]})
        assert ocr.status_code == 200, ocr.text
        assert "INV-1042" in ocr.json()["text"]
        batch = client.post(
            "/v1/image-extraction", json={"engine": {"name": "danlin"}, "files": [{"uuid": uploaded["uuid"]}]}
        )
        assert batch.status_code == 201, batch.text
        assert "INV-1042" in batch.json()["data"]["files"][0]["pages"][0]["text"]
        accepted = client.post("/api/ocr/process", json={"key": uploaded["key"]}, headers={"Prefer": "respond-async"})
        assert accepted.status_code == 202, accepted.text
        job = wait_for_job(client, accepted.json()["jobId"])
        assert job["status"] == "succeeded", job
        assert "INV-1042" in job["result"]["text"]


def test_ctrl_c_stops_cleanly(make_run: StackProcess) -> None:
    # make itself reports the interrupt (130 or SIGINT); the stack under it must shut down in order.
    assert make_run.interrupt() in (0, 130, -2)
    assert "Stopped." in make_run.text
    assert "Traceback" not in make_run.text
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{make_run.url}/api/v1/extract-image", timeout=2)
    assert not make_run.state_file.exists()  # the state it wrote for the CLI goes with it

"""Every engine on the local stack over real HTTP, as a developer points `make run` at a stand-in or a proxy:
the shared stack (tests/e2e/conftest.py) offers textract, a Bedrock model and an OpenAI-compatible model, their
clients reaching the loopback stand-ins through botocore's per-service endpoint variables and the base URL. The
real SDKs, the functions' own processes, the worker for jobs; charges at the operator's price."""

from __future__ import annotations

import json
import math
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import PROJECT_ROOT
from tests.e2e.stack_process import StackProcess, dev_balance, upload, wait_for_job

pytestmark = pytest.mark.e2e

INVOICE = PROJECT_ROOT / "samples" / "invoice.png"
BEDROCK = "bedrock:amazon.nova-lite-v1:0"


@pytest.fixture
def client(stack: StackProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.url, headers={"X-API-Key": stack.api_key}, timeout=180) as http:
        yield http


def _extract(client: httpx.Client, model: str, prompt: str, **headers: str) -> httpx.Response:
    return client.post(
        "/v1/ocr/image/extract",
        data={"model": model, "prompt": prompt},
        files={"image": ("invoice.png", INVOICE.read_bytes(), "image/png")},
        headers=headers,
    )


def test_the_formats_route_lists_what_the_deployment_offers(client: httpx.Client) -> None:
    described = client.get("/api/v1/extract-image").json()
    assert described["engines"] == [BEDROCK, "local", "openai:standin-vl", "textract"]
    assert described["defaultEngine"] == "local"


def test_the_readme_request_is_answered_by_each_engine(stack: StackProcess, tmp_path: Path) -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    block = re.search(r"<!-- walkthrough: engines -->\n```sh\n(.*?)```", readme, re.DOTALL)
    assert block
    script = block.group(1).replace("http://127.0.0.1:3000", stack.url)
    (tmp_path / "samples").symlink_to(PROJECT_ROOT / "samples")
    completed = subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        env={"PATH": "/usr/bin:/bin", "KEY": stack.api_key},
    )
    assert completed.returncode == 0, completed.stderr
    answers = [json.loads(line) for line in completed.stdout.strip().splitlines()]
    assert [answer["base_resp"]["status_code"] for answer in answers] == [0, 0, 0, 0]
    local, textract, bedrock, openai = (json.loads(answer["content"]) for answer in answers)
    assert local == {"invoice_no": "INV-1042"}  # read on the page
    assert set(textract) == {"invoice_no"}  # the stand-in's lines or its query answer fill it
    assert textract["invoice_no"] is not None
    assert bedrock == {"invoice_no": None}  # the stand-in's tool call: the template's schema, filled with nulls
    assert openai == {"invoice_no": None}


def test_a_model_engine_is_charged_at_its_price(client: httpx.Client, stack: StackProcess) -> None:
    before = dev_balance(stack)
    answer = _extract(client, BEDROCK, "Describe the image").json()
    assert answer["content"] == "stand-in answer: 1 images"
    assert dev_balance(stack) == before - math.ceil(answer["usage"]["total_tokens"] * 3)  # 3,000 per 1,000 tokens


def test_an_engine_the_deployment_does_not_offer_is_refused_with_the_list(client: httpx.Client) -> None:
    refused = _extract(client, "bedrock:anthropic.claude-opus-4", "Describe the image")
    assert refused.status_code == 400
    message = refused.json()["base_resp"]["status_msg"]
    assert f"This deployment offers: {BEDROCK}, local, openai:standin-vl, textract" in message
    uuid = upload(client, "invoice.png", "image/png", INVOICE.read_bytes())["uuid"]
    batch = client.post("/v1/image-extraction", json={"engine": {"name": "gemini-2.5-pro"}, "files": [{"uuid": uuid}]})
    assert batch.status_code == 400
    assert "This deployment offers" in batch.json()["error"]


def test_batch_extraction_reads_pages_with_textract_and_a_bedrock_model(client: httpx.Client) -> None:
    uuid = upload(client, "invoice.png", "image/png", INVOICE.read_bytes())["uuid"]
    for engine, expected in (("textract", "stand-in line 1"), (BEDROCK, "stand-in answer: 1 images")):
        response = client.post("/v1/image-extraction", json={"engine": {"name": engine}, "files": [{"uuid": uuid}]})
        assert response.status_code == 201, response.text  # the contract's status for a new extraction
        [page] = response.json()["data"]["files"][0]["pages"]
        assert expected in page["text"], (engine, page)


def test_a_job_runs_on_the_engine_its_request_named(client: httpx.Client) -> None:
    accepted = _extract(client, "openai:standin-vl", "Describe the image", Prefer="respond-async")
    assert accepted.status_code == 202, accepted.text
    job = wait_for_job(client, accepted.json()["jobId"])
    assert job["status"] == "succeeded", job
    assert job["result"]["content"] == "stand-in answer: 1 images"

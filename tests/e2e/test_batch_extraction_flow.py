"""The batch-extraction API on the local stack over real HTTP: real uploads, the pump and the trigger, then batch
extraction; the README walkthrough as printed; the balance moves by the charge minus the refunds. On the e2e
modules' shared stack (tests/e2e/conftest.py)."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import EVAL_DIR, PROJECT_ROOT, tiff_with_broken_page
from tests.e2e.stack_process import StackProcess, dev_balance, upload

pytestmark = pytest.mark.e2e


@pytest.fixture
def client(stack: StackProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.url, headers={"X-API-Key": stack.api_key}, timeout=180) as http:
        yield http


def _upload(client: httpx.Client, name: str, content_type: str, data: bytes) -> str:
    return str(upload(client, name, content_type, data)["uuid"])


@pytest.mark.eval_data
def test_readme_walkthrough_works_as_printed(stack: StackProcess, tmp_path: Path) -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    block = re.search(r"<!-- walkthrough: image-extraction -->\n```sh\n(.*?)```", readme, re.DOTALL)
    assert block
    script = block.group(1).replace("paste-the-dev-key-here", stack.api_key).replace("http://127.0.0.1:3000", stack.url)
    (tmp_path / "samples").symlink_to(PROJECT_ROOT / "samples")
    (tmp_path.parent / "shared").mkdir(exist_ok=True)
    if not (tmp_path.parent / "shared" / "eval").exists():
        (tmp_path.parent / "shared" / "eval").symlink_to(EVAL_DIR)
    completed = subprocess.run(["bash", "-e", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert completed.returncode == 0, completed.stderr
    data = json.loads(completed.stdout.strip().splitlines()[-1])["data"]
    assert (data["total_files"], data["total_processing_pages"], data["failed_pages"]) == (2, 4, 0)
    texts = [page["text"] for file in data["files"] for page in file["pages"]]
    assert "INV-1042" in texts[0]
    assert "whisky" in texts[3]


@pytest.mark.eval_data
def test_png_and_three_page_tiff_then_the_stored_copy(client: httpx.Client, stack: StackProcess) -> None:
    png = _upload(client, "invoice.png", "image/png", (PROJECT_ROOT / "samples" / "invoice.png").read_bytes())
    tiff = _upload(
        client, "pages.tiff", "image/tiff", (EVAL_DIR / "formats" / "tiff" / "multipage_text_derived.tiff").read_bytes()
    )
    before = dev_balance(stack)
    response = client.post(
        "/v1/image-extraction", json={"engine": {"name": "local"}, "files": [{"uuid": png}, {"uuid": tiff}]}
    )
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert [(file["uuid"], [page["number"] for page in file["pages"]]) for file in data["files"]] == [
        (png, [1]),
        (tiff, [1, 2, 3]),
    ]
    assert all(page["status"] == "processed" and page["text"] for file in data["files"] for page in file["pages"])
    assert dev_balance(stack) == before - data["initial_cost"] + data["returned_credits"] == before - 800
    kept = client.get(f"/v1/image-extraction/{data['uuid']}")
    assert kept.json() == {"data": data}


def test_get_with_a_json_body(client: httpx.Client) -> None:
    png = _upload(client, "invoice.png", "image/png", (PROJECT_ROOT / "samples" / "invoice.png").read_bytes())
    response = client.request(
        "GET", "/v1/image-extraction", json={"engine": {"name": "local"}, "files": [{"uuid": png}]}
    )
    assert response.status_code == 201
    assert response.json()["data"]["total_processing_pages"] == 1


def test_a_broken_later_page_is_failed_and_refunded(client: httpx.Client, stack: StackProcess) -> None:
    broken = _upload(client, "report.tiff", "image/tiff", tiff_with_broken_page(pages=3, broken=2))
    before = dev_balance(stack)
    data = client.post("/v1/image-extraction", json={"engine": {"name": "local"}, "files": [{"uuid": broken}]}).json()[
        "data"
    ]
    assert [page["status"] for page in data["files"][0]["pages"]] == ["processed", "failed", "processed"]
    assert (data["initial_cost"], data["failed_pages"], data["returned_credits"]) == (600, 1, 200)
    assert dev_balance(stack) == before - 600 + 200


def test_400_and_404_cases(client: httpx.Client, stack: StackProcess) -> None:
    png = _upload(client, "invoice.png", "image/png", (PROJECT_ROOT / "samples" / "invoice.png").read_bytes())
    before = dev_balance(stack)
    too_many = client.post("/v1/image-extraction", json={"engine": {"name": "local"}, "files": [{"uuid": png}] * 6})
    assert too_many.status_code == 400
    assert client.post("/v1/image-extraction", json={"files": [{"uuid": png}]}).status_code == 400
    unknown_engine = client.post("/v1/image-extraction", json={"engine": {"name": "abbyy"}, "files": [{"uuid": png}]})
    assert unknown_engine.status_code == 400
    offered = "bedrock:amazon.nova-lite-v1:0, local, openai:standin-vl, textract"  # the shared stack's (conftest)
    assert unknown_engine.json() == {"error": f"Unknown engine: 'abbyy'. This deployment offers: {offered}"}
    missing = client.post(
        "/v1/image-extraction",
        json={"engine": {"name": "local"}, "files": [{"uuid": "11111111-2222-4333-8444-555555555555"}]},
    )
    assert (missing.status_code, missing.json()) == (404, {})
    other = json.loads(stack.cli("keys", "create", "--local", "--user", "batch-other"))
    theirs = httpx.post(
        f"{stack.url}/v1/image-extraction",
        headers={"X-API-Key": other["apiKey"]},
        json={"engine": {"name": "local"}, "files": [{"uuid": png}]},
    )
    assert (theirs.status_code, theirs.json()) == (404, {})
    assert dev_balance(stack) == before

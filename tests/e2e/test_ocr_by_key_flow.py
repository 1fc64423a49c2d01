"""The file-upload and OCR-by-key APIs on the local stack over real HTTP: presigned POST uploads (curl -F and
httpx multipart), the S3 event pump, the trigger, OCR by key, results, delete; and the README walkthrough as
printed. On the e2e modules' shared stack (tests/e2e/conftest.py), whose uploads are 1 MB at most."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from tests.conftest import PROJECT_ROOT
from tests.e2e.conftest import UPLOAD_LIMIT
from tests.e2e.stack_process import StackProcess, dev_balance

pytestmark = pytest.mark.e2e
SAMPLE = (PROJECT_ROOT / "samples" / "invoice.png").read_bytes()


@pytest.fixture
def client(stack: StackProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.url, headers={"X-API-Key": stack.api_key}, timeout=120) as http:
        yield http


def _s3(stack: StackProcess) -> Any:
    state = stack.state()
    return boto3.client(
        "s3",
        endpoint_url=state["awsEndpoint"],
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    ), state["names"]["FilesBucket"]


def _exists(stack: StackProcess, key: str) -> bool:
    s3, bucket = _s3(stack)
    return any(item["Key"] == key for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def _upload(client: httpx.Client, name: str, content_type: str, data: bytes) -> dict[str, Any]:
    response = client.post("/api/files/upload-url", json={"filename": name, "contentType": content_type})
    assert response.status_code == 200, response.text
    upload: dict[str, Any] = response.json()
    # A browser form: the policy fields first, the file last.
    posted = httpx.post(upload["uploadUrl"], data=upload["fields"], files={"file": (name, data, content_type)})
    assert posted.status_code in (200, 201, 204), posted.text
    return upload


def _process(client: httpx.Client, key: str, headers: dict[str, str] | None = None) -> httpx.Response:
    """POST /api/ocr/process, waiting out the 409 that answers until the trigger has run."""
    deadline = time.monotonic() + 30
    while True:
        response = client.post("/api/ocr/process", json={"key": key}, headers=headers or {})
        if response.status_code != 409 or time.monotonic() > deadline:
            return response
        time.sleep(0.3)


def test_readme_walkthrough_works_as_printed(stack: StackProcess, tmp_path: Path) -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    block = re.search(r"<!-- walkthrough: upload-then-process -->\n```sh\n(.*?)```", readme, re.DOTALL)
    assert block
    script = block.group(1).replace("paste-the-dev-key-here", stack.api_key)
    script = script.replace("http://127.0.0.1:3000", stack.url)
    (tmp_path / "samples").symlink_to(PROJECT_ROOT / "samples")
    completed = subprocess.run(["bash", "-e", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    body = json.loads(completed.stdout.strip().splitlines()[-1])
    assert set(body) == {"id", "text", "key", "fileUrl", "createdAt", "wordCount", "tokensUsed", "language"}
    assert "INV-1042" in body["text"]
    assert body["language"] == "en"
    assert httpx.get(body["fileUrl"]).content == SAMPLE  # the presigned GET serves the private object


def test_upload_process_result_delete(client: httpx.Client, stack: StackProcess) -> None:
    upload = _upload(client, "scan 2026-11 (copy).png", "image/png", SAMPLE)
    assert upload["key"].endswith("-scan 2026-11 (copy).png")  # spaces and parentheses: URL-encoded in the event
    before = dev_balance(stack)
    processed = _process(client, upload["key"])
    assert processed.status_code == 200, processed.text
    body = processed.json()
    assert "Total: 22.30" in body["text"]
    assert dev_balance(stack) == before - body["tokensUsed"]
    kept = client.get(f"/api/ocr/results/{body['id']}")
    assert kept.status_code == 200
    assert {k: v for k, v in kept.json().items() if k != "fileUrl"} == {k: v for k, v in body.items() if k != "fileUrl"}
    deleted = client.delete(f"/api/files/{upload['uuid']}")
    assert deleted.json() == {"uuid": upload["uuid"], "key": upload["key"], "deleted": True}
    assert not _exists(stack, upload["key"])
    assert client.post("/api/ocr/process", json={"key": upload["key"]}).status_code == 404


def test_curl_form_upload(client: httpx.Client, stack: StackProcess) -> None:
    response = client.post("/api/files/upload-url", json={"filename": "form.png", "contentType": "image/png"})
    upload = response.json()
    command = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}"]
    for name, value in upload["fields"].items():
        command += ["-F", f"{name}={value}"]
    command += ["-F", f"file=@{PROJECT_ROOT / 'samples' / 'invoice.png'}", upload["uploadUrl"]]
    assert subprocess.run(command, capture_output=True, text=True, check=True).stdout in ("200", "201", "204")
    assert _process(client, upload["key"]).status_code == 200


def test_non_image_upload_is_deleted_by_the_trigger(client: httpx.Client, stack: StackProcess) -> None:
    upload = _upload(client, "fake.png", "image/png", b"this is text pretending to be a PNG")
    response = _process(client, upload["key"])
    assert response.status_code == 400
    assert response.json()["error"] == "The upload was rejected: The file is not an image in a supported format"
    assert not _exists(stack, upload["key"])


def test_oversized_upload_is_deleted_by_the_trigger(client: httpx.Client, stack: StackProcess) -> None:
    # The local S3 does not enforce the POST policy's size range; the trigger's own check does.
    upload = _upload(client, "huge.png", "image/png", SAMPLE + b"\x00" * UPLOAD_LIMIT)
    response = _process(client, upload["key"])
    assert response.status_code == 400
    assert "larger than the 1 MB upload limit" in response.json()["error"]
    assert not _exists(stack, upload["key"])


def test_another_users_key_is_refused(client: httpx.Client, stack: StackProcess) -> None:
    upload = _upload(client, "mine.png", "image/png", SAMPLE)
    assert _process(client, upload["key"]).status_code == 200
    other = json.loads(stack.cli("keys", "create", "--local", "--user", "other-user", "--credits", "100000"))
    theirs = _process(client, upload["key"], headers={"X-API-Key": other["apiKey"]})
    missing = _process(client, upload["key"].rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000-x.png")
    assert (theirs.status_code, theirs.json()) == (404, {"error": "File not found"})
    assert (missing.status_code, missing.json()) == (404, {"error": "File not found"})


def test_retry_with_the_same_idempotency_key_is_charged_once(client: httpx.Client, stack: StackProcess) -> None:
    upload = _upload(client, "retry.png", "image/png", SAMPLE)
    assert _process(client, upload["key"]).status_code == 200  # ready now
    before = dev_balance(stack)
    headers = {"Idempotency-Key": f"retry-{upload['uuid']}"}
    first = client.post("/api/ocr/process", json={"key": upload["key"]}, headers=headers)
    second = client.post("/api/ocr/process", json={"key": upload["key"]}, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert dev_balance(stack) == before - first.json()["tokensUsed"]

"""The extract-image API on the local stack over real HTTP, with the test setting that lets URL inputs reach
loopback (the e2e modules' shared stack, tests/e2e/conftest.py)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import EVAL_DIR, PROJECT_ROOT, FileServer
from tests.e2e.stack_process import StackProcess, dev_balance

pytestmark = pytest.mark.e2e
SAMPLE = (PROJECT_ROOT / "samples" / "invoice.png").read_bytes()


@pytest.fixture
def client(stack: StackProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {stack.api_key}"}, timeout=120) as http:
        yield http


def test_contract_example_with_a_url_on_loopback(client: httpx.Client, file_server: FileServer) -> None:
    url = file_server.serve_bytes("/sample-image.jpg", SAMPLE, "image/jpeg")  # a PNG behind a .jpg name
    response = client.post(
        "/api/v1/extract-image",
        headers={"Request-Source": "API"},
        json={
            "inputMethod": "url",
            "images": [url],
            "prompt": "Describe the main elements in this image.",
            "jsonMode": False,
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert "X-RateLimit-Limit" in response.headers
    assert "X-RateLimit-Remaining" in response.headers
    body = response.json()
    assert body["prompt"] == "Describe the main elements in this image."
    assert (body["imageCount"], body["creditUsage"]) == (1, 11)
    assert "ACME Office Supplies" in body["results"]
    assert file_server.hits == ["/sample-image.jpg"]


def test_contract_example_with_base64(client: httpx.Client, stack: StackProcess) -> None:
    before = dev_balance(stack)
    response = client.post(
        "/api/v1/extract-image",
        json={
            "inputMethod": "base64",
            "images": [base64.b64encode(SAMPLE).decode()],
            "prompt": 'Fill {"total": "Total", "date": "Date"}',
            "jsonMode": True,
        },
    )
    assert response.status_code == 200, response.text
    assert json.loads(response.json()["results"]) == {"total": "22.30", "date": "2026-11-21"}
    assert dev_balance(stack) == before - 11


@pytest.mark.eval_data
def test_multi_format_request(client: httpx.Client) -> None:
    folder = EVAL_DIR / "formats" / "same_text_many_formats"
    images = [
        base64.b64encode((folder / name).read_bytes()).decode()
        for name in ("pytesseract_test.tiff", "pytesseract_test.gif")
    ]
    response = client.post("/api/v1/extract-image", json={"inputMethod": "base64", "images": images, "prompt": "x"})
    assert response.status_code == 200, response.text
    assert response.json()["results"].count("The quick brown dog") >= 2


def test_errors_over_http(client: httpx.Client, stack: StackProcess) -> None:
    assert client.post("/api/v1/extract-image", json={"inputMethod": "base64", "prompt": "x"}).json() == {
        "error": "Missing required parameter: images"
    }
    unauthenticated = httpx.post(f"{stack.url}/api/v1/extract-image", json={})
    assert (unauthenticated.status_code, unauthenticated.json()) == (
        401,
        {"error": "Invalid or missing Authorization header"},
    )
    bad = client.post("/api/v1/extract-image", json={"inputMethod": "base64", "images": ["@@@"], "prompt": "x"})
    assert (bad.status_code, bad.json()) == (400, {"error": "images[0]: not valid base64"})


def test_body_over_the_lambda_limit_is_413_like_api_gateway(client: httpx.Client) -> None:
    big = base64.b64encode(b"\x00" * (5 * 1024 * 1024)).decode()  # 6.7 MB of JSON
    response = client.post("/api/v1/extract-image", json={"inputMethod": "base64", "images": [big], "prompt": "x"})
    assert response.status_code == 413


def test_idempotent_retry_over_http(client: httpx.Client, stack: StackProcess) -> None:
    before = dev_balance(stack)
    request = {"inputMethod": "base64", "images": [base64.b64encode(SAMPLE).decode()], "prompt": "again"}
    first = client.post("/api/v1/extract-image", json=request, headers={"Idempotency-Key": "e2e-retry"})
    second = client.post("/api/v1/extract-image", json=request, headers={"Idempotency-Key": "e2e-retry"})
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert dev_balance(stack) == before - 11


def test_unknown_route_answers_like_api_gateway(client: httpx.Client) -> None:
    response = client.get("/api/v1/nothing-here")
    assert (response.status_code, response.json()) == (403, {"message": "Missing Authentication Token"})


def test_admin_cli_creates_and_revokes_keys(stack: StackProcess) -> None:
    created = json.loads(
        stack.cli("keys", "create", "--local", "--user", "cli-user", "--credits", "50", "--rate-limit", "5")
    )
    assert created["balance"] == 50
    assert created["apiKey"].startswith("ssk_")
    headers = {"X-API-Key": created["apiKey"]}
    response = httpx.get(f"{stack.url}/api/v1/extract-image", headers=headers)
    assert (response.status_code, response.headers["X-RateLimit-Limit"]) == (200, "5")
    topped = json.loads(stack.cli("keys", "topup", "--local", "cli-user", "25"))
    assert topped == {"userId": "cli-user", "balance": 75}
    stack.cli("keys", "revoke", "--local", created["keyId"])
    assert httpx.get(f"{stack.url}/api/v1/extract-image", headers=headers).status_code == 401
    listing = stack.cli("keys", "list", "--local")
    assert created["apiKey"] not in listing
    assert f"{created['keyId']}\tcli-user\trevoked" in listing

"""The Persian example of the batch-extraction contract on the local stack over real HTTP, as a user sends it:
upload, OCR by key, and the batch API with the contract's engine name; exact, and `"language": "fa"`. On the e2e
modules' shared stack (tests/e2e/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import EVAL_DIR
from tests.e2e.stack_process import StackProcess, upload

pytestmark = [pytest.mark.e2e, pytest.mark.eval_data]
PERSIAN = "امروز هوا خوبه."


@pytest.fixture(scope="module")
def client(stack: StackProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.url, headers={"X-API-Key": stack.api_key}, timeout=120) as http:
        yield http


@pytest.fixture(scope="module")
def persian(client: httpx.Client) -> dict[str, str]:
    data = (EVAL_DIR / "textlines" / "images" / "rapidocr_fa.png").read_bytes()
    return {key: str(value) for key, value in upload(client, "fa.png", "image/png", data).items()}


def test_the_persian_line_by_key_reads_exactly_and_is_persian(client: httpx.Client, persian: dict[str, str]) -> None:
    answer = client.post("/api/ocr/process", json={"key": persian["key"]})
    assert answer.status_code == 200, answer.text
    assert (answer.json()["text"].strip(), answer.json()["language"]) == (PERSIAN, "fa")


def test_the_batch_api_with_the_contracts_engine_name_reads_it_exactly(
    client: httpx.Client, persian: dict[str, str]
) -> None:
    answer = client.post(
        "/v1/image-extraction", json={"engine": {"name": "danlin"}, "files": [{"uuid": persian["uuid"]}]}
    )
    assert answer.status_code == 201, answer.text
    data = answer.json()["data"]
    assert (data["engine"], data["language"], data["files"][0]["pages"][0]["text"]) == ("danlin", "fa", PERSIAN)


def test_a_hint_the_deployment_does_not_read_is_a_400_and_costs_nothing(
    client: httpx.Client, persian: dict[str, str]
) -> None:
    before = client.get("/api/v1/account").json()["balance"]
    body = {"engine": {"name": "local", "options": {"language": "am"}}, "files": [{"uuid": persian["uuid"]}]}
    answer = client.post("/v1/image-extraction", json=body)
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("Language am is not available in this deployment")
    assert client.get("/api/v1/account").json()["balance"] == before

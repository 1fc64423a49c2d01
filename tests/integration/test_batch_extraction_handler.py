"""The batch-extraction API through BatchExtractionFunction with events/*.json under moto: pages in order,
per-page cost, failed pages refunded, 400 and 404 {} cases, stored extractions."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest

from snapscribe.services import from_environment
from snapscribe.storage.uploads import UploadRecord
from tests.conftest import EVAL_DIR, PROJECT_ROOT, GeminiStub, body_of, invoke, load_event, tiff_with_broken_page

PNG_ID = "0f8e2c55-6d1b-4d0a-9a53-3c1f4b2a7e10"
PNG_KEY = f"ocr/events/{PNG_ID}-scan 2026-11 (copy).png"
TIFF_ID = "7c4b9e21-3a5f-4e8d-b1c2-9d0e6f7a8b90"
TIFF_KEY = f"ocr/events/{TIFF_ID}-pages.tiff"
FUNCTION = "BatchExtractionFunction"


def _store(aws: boto3.session.Session, upload_id: str, key: str, data: bytes, user_id: str = "events") -> None:
    """An upload as the flow leaves it: record, object, and the trigger's check (through its handler)."""
    from_environment().uploads.create(
        UploadRecord(
            upload_id=upload_id,
            user_id=user_id,
            key=key,
            filename=key.rsplit("/", 1)[1][37:],
            content_type="image/tiff",
            max_bytes=50 << 20,
            created_at="2026-11-21T19:00:00Z",
            expires_at=int(time.time()) + 86400,
        )
    )
    aws.client("s3").put_object(Bucket=from_environment().settings.bucket_name, Key=key, Body=data)  # type: ignore[attr-defined]
    event = load_event("s3_upload_created")
    event["Records"][0]["s3"]["object"]["key"] = key.replace(" ", "+")
    assert invoke("UploadEventsFunction", event)["checked"][0]["outcome"] == "ready"


@pytest.fixture
def stored(aws: boto3.session.Session, events_key: str) -> boto3.session.Session:
    """The events user's PNG and three-page TIFF, checked; the TIFF is from ../shared/eval, so every test
    that uses this fixture is marked eval_data."""
    from_environment().accounts.store.add_credits("events", 9_000)
    _store(aws, PNG_ID, PNG_KEY, (PROJECT_ROOT / "samples" / "invoice.png").read_bytes())
    _store(aws, TIFF_ID, TIFF_KEY, (EVAL_DIR / "formats" / "tiff" / "multipage_text_derived.tiff").read_bytes())
    return aws


def _balance(user_id: str = "events") -> int:
    return int(from_environment().accounts.store.get_balance(user_id))


def _pages(data: dict[str, Any]) -> list[tuple[str, int, str, str]]:
    return [
        (file["uuid"], page["number"], page["status"], page["text"]) for file in data["files"] for page in file["pages"]
    ]


@pytest.mark.eval_data
@pytest.mark.parametrize("event_name", ["extract_batch", "extract_batch_by_get"])
def test_two_files_four_pages_in_order(stored: boto3.session.Session, event_name: str) -> None:
    before = _balance()
    result = invoke(FUNCTION, load_event(event_name))
    assert result["statusCode"] == 201, result["body"]
    data = body_of(result)["data"]
    assert set(data) == {
        "uuid",
        "status",
        "file_type",
        "engine",
        "language",
        "total_files",
        "total_file_pages",
        "total_processing_pages",
        "initial_cost",
        "failed_pages",
        "returned_credits",
        "files",
    }
    assert (data["status"], data["file_type"], data["engine"], data["language"]) == (
        "processed",
        "images",
        "local",
        "en",
    )
    assert (data["total_files"], data["total_file_pages"], data["total_processing_pages"]) == (2, 4, 4)
    assert (data["initial_cost"], data["failed_pages"], data["returned_credits"]) == (800, 0, 0)
    pages = _pages(data)
    assert [(file_id, number, status) for file_id, number, status, _ in pages] == [
        (PNG_ID, 1, "processed"),
        (TIFF_ID, 1, "processed"),
        (TIFF_ID, 2, "processed"),
        (TIFF_ID, 3, "processed"),
    ]
    assert "INV-1042" in pages[0][3]
    assert "12 point text" in pages[1][3]
    assert "brown" in pages[2][3]
    assert "whisky" in pages[3][3]  # the French page
    assert _balance() == before - 800


def test_a_broken_later_page_fails_alone_and_is_refunded(aws: boto3.session.Session, events_key: str) -> None:
    broken_id = "9e8d7c6b-5a49-4382-9716-05f4e3d2c1b0"
    _store(aws, broken_id, f"ocr/events/{broken_id}-report.tiff", tiff_with_broken_page(pages=3, broken=3))
    from_environment().accounts.store.add_credits("events", 9_000)
    before = _balance()
    event = load_event("extract_batch")
    event["body"] = json.dumps({"engine": {"name": "local"}, "files": [{"uuid": broken_id}]})
    data = body_of(invoke(FUNCTION, event))["data"]
    assert (data["status"], data["initial_cost"], data["failed_pages"], data["returned_credits"]) == (
        "partially_processed",
        600,
        1,
        200,
    )
    pages = data["files"][0]["pages"]
    assert [(page["number"], page["status"]) for page in pages] == [(1, "processed"), (2, "processed"), (3, "failed")]
    assert "Page number 2" in pages[1]["text"]
    assert pages[2]["text"] == ""
    assert "corrupt" in pages[2]["error"]
    assert _balance() == before - 600 + 200
    (row,) = [
        row for row in from_environment().accounts.store.ledger("events") if row.route == "POST /v1/image-extraction"
    ]
    assert (row.cost, row.refund, row.status) == (600, 200, "partial")


@pytest.mark.eval_data
@pytest.mark.parametrize(
    ("event_name", "message_part"),
    [
        ("extract_batch_too_many_files", "At most 5 files"),
        ("extract_batch_missing_engine", "engine"),
        ("extract_batch_unknown_engine", "Unknown engine"),
    ],
)
def test_bad_requests_are_400(stored: boto3.session.Session, event_name: str, message_part: str) -> None:
    before = _balance()
    result = invoke(FUNCTION, load_event(event_name))
    assert result["statusCode"] == 400
    assert message_part in body_of(result)["error"]
    assert _balance() == before


@pytest.mark.eval_data
def test_unknown_and_other_users_files_are_404_empty(stored: boto3.session.Session, accounts: Any) -> None:
    before = _balance()
    assert (lambda r: (r["statusCode"], body_of(r)))(invoke(FUNCTION, load_event("extract_batch_unknown_file"))) == (
        404,
        {},
    )
    other_key, _ = accounts.create_key(user_id="mallory", credits=10_000, rate_limit=10)
    event = load_event("extract_batch")
    event["headers"] = {"X-API-Key": other_key, "Content-Type": "application/json"}
    event["multiValueHeaders"] = {name: [value] for name, value in event["headers"].items()}
    result = invoke(FUNCTION, event)
    assert (result["statusCode"], body_of(result)) == (404, {})
    assert _balance() == before
    assert _balance("mallory") == 10_000


@pytest.mark.eval_data
def test_a_pending_upload_is_409(stored: boto3.session.Session) -> None:
    pending_id = "4d3c2b1a-0f9e-4d8c-b7a6-958473625140"
    from_environment().uploads.create(
        UploadRecord(
            upload_id=pending_id,
            user_id="events",
            key=f"ocr/events/{pending_id}-later.png",
            filename="x",
            content_type="image/png",
            max_bytes=1 << 20,
            created_at="2026-11-21T19:00:00Z",
            expires_at=0,
        )
    )
    event = load_event("extract_batch")
    event["body"] = json.dumps({"engine": {"name": "local"}, "files": [{"uuid": pending_id}]})
    assert invoke(FUNCTION, event)["statusCode"] == 409


@pytest.mark.eval_data
def test_the_extraction_is_kept_for_its_owner(stored: boto3.session.Session, accounts: Any) -> None:
    data = body_of(invoke(FUNCTION, load_event("extract_batch")))["data"]
    event = load_event("get_batch_extraction")
    event["path"] = f"/v1/image-extraction/{data['uuid']}"
    event["pathParameters"] = {"uuid": data["uuid"]}
    kept = invoke(FUNCTION, event)
    assert (kept["statusCode"], body_of(kept)) == (200, {"data": data})
    other_key, _ = accounts.create_key(user_id="mallory", credits=0, rate_limit=10)
    event["headers"] = {"X-API-Key": other_key}
    event["multiValueHeaders"] = {"X-API-Key": [other_key]}
    assert (lambda r: (r["statusCode"], body_of(r)))(invoke(FUNCTION, event)) == (404, {})


def test_gemini_pages_run_concurrently_within_the_bound(
    aws: boto3.session.Session, events_key: str, gemini_stub: GeminiStub
) -> None:
    six_pages = "5b6c7d8e-9f01-4a2b-8c3d-4e5f60718293"
    _store(aws, six_pages, f"ocr/events/{six_pages}-six.tiff", tiff_with_broken_page(pages=6, broken=6))
    from_environment().accounts.store.add_credits("events", 9_000)
    gemini_stub.delay_seconds = 0.3  # long enough for the pool to overlap requests
    event = load_event("extract_batch")
    event["body"] = json.dumps({"engine": {"name": "gemini"}, "files": [{"uuid": six_pages}]})
    data = body_of(invoke(FUNCTION, event))["data"]
    assert [page["status"] for page in data["files"][0]["pages"]] == ["processed"] * 5 + ["failed"]
    assert len(gemini_stub.requests) == 5  # the broken page never reaches the model
    assert 2 <= gemini_stub.max_in_flight <= 4


def test_pdf_pages_are_extracted(aws: boto3.session.Session, events_key: str) -> None:
    from tests.conftest import pdf_with_pages

    pdf_id = "6f5e4d3c-2b1a-4098-8a7b-6c5d4e3f2a10"
    _store(aws, pdf_id, f"ocr/events/{pdf_id}-report.pdf", pdf_with_pages(3))
    from_environment().accounts.store.add_credits("events", 9_000)
    event = load_event("extract_batch")
    event["body"] = json.dumps({"engine": {"name": "local"}, "files": [{"uuid": pdf_id}]})
    data = body_of(invoke(FUNCTION, event))["data"]
    assert (data["total_file_pages"], data["initial_cost"], data["failed_pages"]) == (3, 600, 0)
    assert [page["text"] for page in data["files"][0]["pages"]] == [
        f"Quarterly report page {number}" for number in (1, 2, 3)
    ]

"""Seed 003 under moto: upload URLs, the S3 trigger with events/*.json, OCR by key, results, delete."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from snapscribe import services
from snapscribe.storage.uploads import UploadRecord
from tests.conftest import EVAL_DIR, PROJECT_ROOT, GeminiStub, body_of, invoke, load_event

UPLOAD_ID = "0f8e2c55-6d1b-4d0a-9a53-3c1f4b2a7e10"
UPLOAD_KEY = f"ocr/events/{UPLOAD_ID}-scan 2026-11 (copy).png"
SAMPLE = (PROJECT_ROOT / "samples" / "invoice.png").read_bytes()


def _bucket() -> str:
    return services.get_settings().bucket_name  # type: ignore[attr-defined]


def _s3(aws: boto3.session.Session) -> Any:
    return aws.client("s3")


def _record(
    upload_id: str = UPLOAD_ID, key: str = UPLOAD_KEY, user_id: str = "events", max_bytes: int = 50 << 20
) -> UploadRecord:
    return UploadRecord(
        upload_id=upload_id,
        user_id=user_id,
        key=key,
        filename=key.rsplit("/", 1)[1][37:],
        content_type="image/png",
        max_bytes=max_bytes,
        created_at="2026-11-21T19:00:00Z",
        expires_at=int(time.time()) + 86400,
    )


@pytest.fixture
def uploaded(aws: boto3.session.Session, events_key: str) -> boto3.session.Session:
    """The events user's upload, as the presigned POST leaves it: a pending record and the object."""
    services.upload_store().create(_record())
    _s3(aws).put_object(Bucket=_bucket(), Key=UPLOAD_KEY, Body=SAMPLE, ContentType="image/png")
    services.account_service()._store.add_credits("events", 99_000)
    return aws


def _trigger(event_name: str = "s3_upload_created") -> dict[str, Any]:
    return invoke("UploadEventsFunction", load_event(event_name))


def _status(upload_id: str = UPLOAD_ID, user_id: str = "events") -> str | None:
    record = services.upload_store().get(user_id, upload_id)
    return record.status if record else None


def _exists(aws: boto3.session.Session, key: str) -> bool:
    return any(item["Key"] == key for item in _s3(aws).list_objects_v2(Bucket=_bucket()).get("Contents", []))


def _balance(user_id: str = "events") -> int:
    return int(services.account_service()._store.get_balance(user_id))


# --- upload URLs ------------------------------------------------------------------------------------
def test_upload_url_pins_key_type_and_size(aws: boto3.session.Session, events_key: str) -> None:
    result = invoke("FileUploadFunction", load_event("create_upload_url"))
    assert result["statusCode"] == 200, result["body"]
    body = body_of(result)
    assert set(body) == {"uuid", "key", "uploadUrl", "fields", "expiresAt", "maxBytes"}
    assert body["key"] == f"ocr/events/{body['uuid']}-scan 2026-11 (copy).png"
    assert body["maxBytes"] == 50 * 1024 * 1024
    policy = json.loads(base64.b64decode(body["fields"]["policy"]))
    conditions = policy["conditions"]
    assert {"key": body["key"]} in conditions
    assert {"Content-Type": "image/png"} in conditions
    assert ["content-length-range", 1, body["maxBytes"]] in conditions
    assert body["fields"]["key"] == body["key"]
    assert _status(body["uuid"]) == "pending"
    assert body["expiresAt"].endswith("Z")


@pytest.mark.parametrize(
    ("event_name", "message_part"),
    [
        ("create_upload_url_unsupported_type", "Unsupported contentType"),
        ("create_upload_url_unsafe_filename", "plain file name"),
    ],
)
def test_upload_url_refusals(aws: boto3.session.Session, events_key: str, event_name: str, message_part: str) -> None:
    result = invoke("FileUploadFunction", load_event(event_name))
    assert result["statusCode"] == 400
    assert message_part in body_of(result)["error"]


def test_upload_url_refuses_a_declared_size_over_the_limit(aws: boto3.session.Session, events_key: str) -> None:
    event = load_event("create_upload_url")
    event["body"] = json.dumps({"filename": "big.tiff", "contentType": "image/tiff", "size": 60 * 1024 * 1024})
    result = invoke("FileUploadFunction", event)
    assert result["statusCode"] == 400
    assert "50 MB" in body_of(result)["error"]


# --- the S3 trigger ----------------------------------------------------------------------------------
def test_trigger_marks_a_good_upload_ready_from_a_url_encoded_key(uploaded: boto3.session.Session) -> None:
    result = _trigger()
    assert result["checked"] == [{"key": UPLOAD_KEY, "outcome": "ready", "reason": ""}]
    record = services.upload_store().get("events", UPLOAD_ID)
    assert record is not None
    assert (record.status, record.image_format, record.size, record.pages) == ("ready", "PNG", len(SAMPLE), 1)
    assert _trigger()["checked"][0]["outcome"] == "ready"  # delivered twice: same answer


@pytest.mark.parametrize(
    ("body", "reason_part"),
    [
        (b"just some text, not an image", "not an image in a supported format"),
        (b"%PDF-1.7 a PDF header with nothing behind it", "PDF file is corrupt"),
        pytest.param(
            EVAL_DIR / "formats" / "bmp" / "bmpsuite_b_shortfile.bmp",
            "corrupt",
            marks=pytest.mark.eval_data,
            id="truncated-bmp-corrupt",
        ),
        (b"", "empty"),
    ],
)
def test_trigger_deletes_bad_uploads_and_says_why(
    aws: boto3.session.Session, events_key: str, body: bytes | Path, reason_part: str
) -> None:
    services.upload_store().create(_record())
    _s3(aws).put_object(Bucket=_bucket(), Key=UPLOAD_KEY, Body=body.read_bytes() if isinstance(body, Path) else body)
    assert _trigger()["checked"][0]["outcome"] == "rejected"
    assert not _exists(aws, UPLOAD_KEY)
    record = services.upload_store().get("events", UPLOAD_ID)
    assert record is not None
    assert record.status == "rejected"
    assert reason_part in record.reason


def test_trigger_deletes_an_oversized_upload(aws: boto3.session.Session, events_key: str) -> None:
    services.upload_store().create(_record(max_bytes=10_000))  # the local S3 does not enforce the policy
    _s3(aws).put_object(Bucket=_bucket(), Key=UPLOAD_KEY, Body=SAMPLE)
    assert _trigger()["checked"][0]["outcome"] == "rejected"
    assert not _exists(aws, UPLOAD_KEY)
    assert "larger than" in services.upload_store().get("events", UPLOAD_ID).reason  # type: ignore[union-attr]


def test_trigger_deletes_objects_nobody_asked_for(aws: boto3.session.Session, events_key: str) -> None:
    _s3(aws).put_object(Bucket=_bucket(), Key=UPLOAD_KEY, Body=SAMPLE)  # no upload record
    assert _trigger()["checked"][0]["outcome"] == "unknown-deleted"
    assert not _exists(aws, UPLOAD_KEY)


def test_replaced_object_is_checked_again(uploaded: boto3.session.Session) -> None:
    assert _trigger()["checked"][0]["outcome"] == "ready"
    _s3(uploaded).put_object(Bucket=_bucket(), Key=UPLOAD_KEY, Body=b"not an image any more")
    assert _trigger()["checked"][0]["outcome"] == "rejected"
    assert not _exists(uploaded, UPLOAD_KEY)


def test_schedule_sweeps_old_temporary_objects(aws: boto3.session.Session, monkeypatch: pytest.MonkeyPatch) -> None:
    s3 = _s3(aws)
    s3.put_object(Bucket=_bucket(), Key="tmp/old-request/page-1.png", Body=b"x")
    s3.put_object(Bucket=_bucket(), Key="ocr/events/keep.png", Body=b"x")
    sweep = load_event("schedule_sweep_tmp")
    assert invoke("HousekeepingFunction", sweep) == {"sweptTemporaryObjects": 0}  # younger than 15 minutes
    monkeypatch.setenv("SNAPSCRIBE_TMP_MAX_AGE_SECONDS", "0")
    services.reset()
    time.sleep(1.1)  # S3 keeps LastModified to the second
    assert invoke("HousekeepingFunction", sweep) == {"sweptTemporaryObjects": 1}
    assert not _exists(aws, "tmp/old-request/page-1.png")
    assert _exists(aws, "ocr/events/keep.png")


# --- POST /api/ocr/process -----------------------------------------------------------------------------
def test_process_answers_with_the_seed_fields_and_charges_tokens(uploaded: boto3.session.Session) -> None:
    _trigger()
    before = _balance()
    result = invoke("OcrByKeyFunction", load_event("ocr_by_key"))
    assert result["statusCode"] == 200, result["body"]
    body = body_of(result)
    assert set(body) == {"id", "text", "key", "fileUrl", "createdAt", "wordCount", "tokensUsed", "language"}
    assert "Invoice No: INV-1042" in body["text"]
    assert body["key"] == UPLOAD_KEY
    assert body["wordCount"] == len(body["text"].split())
    assert body["language"] == "en"
    assert body["createdAt"].endswith("Z")
    text_bytes = len(body["text"].encode())
    prompt_tokens = 258 + (len(__import__("snapscribe.operations.ocr_by_key", fromlist=["x"]).OCR_PROMPT) + 3) // 4
    assert body["tokensUsed"] == prompt_tokens + (text_bytes + 3) // 4
    assert _balance() == before - body["tokensUsed"]
    assert "X-Amz-Signature=" in body["fileUrl"]
    assert UPLOAD_KEY.replace(" ", "%20").split("/")[-1][:36] in body["fileUrl"]


def test_file_url_fetches_the_private_object(uploaded: boto3.session.Session) -> None:
    import urllib.parse

    _trigger()
    body = body_of(invoke("OcrByKeyFunction", load_event("ocr_by_key")))
    parts = urllib.parse.urlsplit(body["fileUrl"])
    assert urllib.parse.unquote(parts.path).endswith(UPLOAD_KEY)
    assert "X-Amz-Expires=900" in parts.query


def test_result_is_kept_for_its_owner_only(uploaded: boto3.session.Session, accounts: Any) -> None:
    _trigger()
    processed = body_of(invoke("OcrByKeyFunction", load_event("ocr_by_key")))
    event = load_event("ocr_by_key")
    event.update(
        {
            "httpMethod": "GET",
            "path": f"/api/ocr/results/{processed['id']}",
            "body": None,
            "resource": "/api/ocr/results/{id}",
            "pathParameters": {"id": processed["id"]},
        }
    )
    again = invoke("OcrByKeyFunction", event)
    assert again["statusCode"] == 200
    kept = body_of(again)
    assert {k: v for k, v in kept.items() if k != "fileUrl"} == {k: v for k, v in processed.items() if k != "fileUrl"}
    other_key, _ = accounts.create_key(user_id="mallory", credits=10, rate_limit=10)
    event["headers"] = {"X-API-Key": other_key}
    event["multiValueHeaders"] = {"X-API-Key": [other_key]}
    refused = invoke("OcrByKeyFunction", event)
    assert (refused["statusCode"], body_of(refused)) == (404, {"error": "Result not found"})


def test_another_users_key_is_answered_like_a_missing_one(uploaded: boto3.session.Session, accounts: Any) -> None:
    _trigger()
    missing = invoke("OcrByKeyFunction", load_event("ocr_by_key_other_user"))
    other_key, _ = accounts.create_key(user_id="mallory", credits=100_000, rate_limit=10)
    event = load_event("ocr_by_key")
    event["headers"] = {"X-API-Key": other_key, "Content-Type": "application/json"}
    event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
    theirs = invoke("OcrByKeyFunction", event)
    assert missing["statusCode"] == theirs["statusCode"] == 404
    assert body_of(missing) == body_of(theirs) == {"error": "File not found"}
    assert _balance("mallory") == 100_000


def test_malformed_key_is_400(uploaded: boto3.session.Session) -> None:
    result = invoke("OcrByKeyFunction", load_event("ocr_by_key_malformed_key"))
    assert (result["statusCode"], body_of(result)) == (400, {"error": "Invalid file key format"})


def test_pending_upload_is_409_and_rejected_is_400(uploaded: boto3.session.Session) -> None:
    before = _balance()
    pending = invoke("OcrByKeyFunction", load_event("ocr_by_key"))
    assert pending["statusCode"] == 409
    _s3(uploaded).put_object(Bucket=_bucket(), Key=UPLOAD_KEY, Body=b"GIF89a broken")
    _trigger()
    rejected = invoke("OcrByKeyFunction", load_event("ocr_by_key"))
    assert rejected["statusCode"] == 400
    assert body_of(rejected)["error"].startswith("The upload was rejected: ")
    assert _balance() == before


def test_engine_failure_is_500_and_the_hold_comes_back(
    uploaded: boto3.session.Session, gemini_stub: GeminiStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    _trigger()
    monkeypatch.setenv("SNAPSCRIBE_OCR_ENGINE", "gemini")
    services.reset()
    gemini_stub.reply_error(503)
    before = _balance()
    result = invoke("OcrByKeyFunction", load_event("ocr_by_key"))
    assert result["statusCode"] == 500
    assert body_of(result)["error"].startswith("OCR failed: the model returned HTTP 503")
    assert _balance() == before


def test_gemini_tokens_are_the_models_own_count(
    uploaded: boto3.session.Session, gemini_stub: GeminiStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    _trigger()
    monkeypatch.setenv("SNAPSCRIBE_OCR_ENGINE", "gemini")
    services.reset()
    gemini_stub.reply_text("Invoice INV-1042", prompt_tokens=1290, completion_tokens=6)
    before = _balance()
    body = body_of(invoke("OcrByKeyFunction", load_event("ocr_by_key")))
    assert (body["text"], body["tokensUsed"]) == ("Invoice INV-1042", 1296)
    assert _balance() == before - 1296


def test_idempotent_retry_is_charged_once(uploaded: boto3.session.Session) -> None:
    _trigger()
    before = _balance()
    first_event, second_event = load_event("ocr_by_key"), load_event("ocr_by_key")
    for event in (first_event, second_event):
        event["headers"]["Idempotency-Key"] = "process-once"
    second_event["requestContext"]["requestId"] = "evt-retry"
    first, second = invoke("OcrByKeyFunction", first_event), invoke("OcrByKeyFunction", second_event)
    assert body_of(first) == body_of(second)
    assert _balance() == before - body_of(first)["tokensUsed"]


# --- DELETE /api/files/{uuid} --------------------------------------------------------------------------
def test_delete_removes_object_and_record(uploaded: boto3.session.Session, accounts: Any) -> None:
    _trigger()
    other_key, _ = accounts.create_key(user_id="mallory", credits=10, rate_limit=10)
    theirs = load_event("delete_upload")
    theirs["headers"] = {"X-API-Key": other_key}
    theirs["multiValueHeaders"] = {"X-API-Key": [other_key]}
    assert invoke("FileUploadFunction", theirs)["statusCode"] == 404
    assert _exists(uploaded, UPLOAD_KEY)
    result = invoke("FileUploadFunction", load_event("delete_upload"))
    assert (result["statusCode"], body_of(result)) == (200, {"uuid": UPLOAD_ID, "key": UPLOAD_KEY, "deleted": True})
    assert not _exists(uploaded, UPLOAD_KEY)
    assert _status() is None
    assert invoke("OcrByKeyFunction", load_event("ocr_by_key"))["statusCode"] == 404
    assert invoke("FileUploadFunction", load_event("delete_upload"))["statusCode"] == 404


def test_a_pdf_upload_is_accepted_checked_and_read(aws: boto3.session.Session, events_key: str) -> None:
    from tests.conftest import pdf_with_pages

    event = load_event("create_upload_url")
    event["body"] = json.dumps({"filename": "report.pdf", "contentType": "application/pdf"})
    upload = body_of(invoke("FileUploadFunction", event))
    assert {"Content-Type": "application/pdf"} in json.loads(base64.b64decode(upload["fields"]["policy"]))["conditions"]
    _s3(aws).put_object(Bucket=_bucket(), Key=upload["key"], Body=pdf_with_pages(2))
    created = load_event("s3_upload_created")
    created["Records"][0]["s3"]["object"]["key"] = upload["key"]
    assert _trigger_event(created)["checked"][0]["outcome"] == "ready"
    record = services.upload_store().get("events", upload["uuid"])
    assert record is not None
    assert (record.image_format, record.pages) == ("PDF", 2)
    services.account_service()._store.add_credits("events", 99_000)
    process = load_event("ocr_by_key")
    process["body"] = json.dumps({"key": upload["key"]})
    body = body_of(invoke("OcrByKeyFunction", process))
    assert body["text"] == "Quarterly report page 1\n\nQuarterly report page 2"


def _trigger_event(event: dict[str, Any]) -> dict[str, Any]:
    return invoke("UploadEventsFunction", event)

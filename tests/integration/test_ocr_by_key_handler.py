"""The OCR-by-key API through OcrByKeyFunction with events/*.json under moto: POST /api/ocr/process on a
checked upload (the contract fields, the token charge, a presigned fileUrl), GET /api/ocr/results/{id} for its
owner only, the 400, 404, 409 and 500 answers, and an idempotent retry charged once."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.conftest import GeminiStub, body_of, invoke, load_event
from tests.integration.uploads import UPLOAD_KEY, balance, bucket_name, s3_client, trigger


def test_process_answers_with_the_contract_fields_and_charges_tokens(uploaded: boto3.session.Session) -> None:
    trigger()
    before = balance()
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
    assert balance() == before - body["tokensUsed"]
    assert "X-Amz-Signature=" in body["fileUrl"]
    assert UPLOAD_KEY.replace(" ", "%20").split("/")[-1][:36] in body["fileUrl"]


def test_file_url_fetches_the_private_object(uploaded: boto3.session.Session) -> None:
    import urllib.parse

    trigger()
    body = body_of(invoke("OcrByKeyFunction", load_event("ocr_by_key")))
    parts = urllib.parse.urlsplit(body["fileUrl"])
    assert urllib.parse.unquote(parts.path).endswith(UPLOAD_KEY)
    assert "X-Amz-Expires=900" in parts.query


def test_result_is_kept_for_its_owner_only(uploaded: boto3.session.Session, accounts: Any) -> None:
    trigger()
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
    trigger()
    missing = invoke("OcrByKeyFunction", load_event("ocr_by_key_other_user"))
    other_key, _ = accounts.create_key(user_id="mallory", credits=100_000, rate_limit=10)
    event = load_event("ocr_by_key")
    event["headers"] = {"X-API-Key": other_key, "Content-Type": "application/json"}
    event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
    theirs = invoke("OcrByKeyFunction", event)
    assert missing["statusCode"] == theirs["statusCode"] == 404
    assert body_of(missing) == body_of(theirs) == {"error": "File not found"}
    assert balance("mallory") == 100_000


def test_malformed_key_is_400(uploaded: boto3.session.Session) -> None:
    result = invoke("OcrByKeyFunction", load_event("ocr_by_key_malformed_key"))
    assert (result["statusCode"], body_of(result)) == (400, {"error": "Invalid file key format"})


def test_pending_upload_is_409_and_rejected_is_400(uploaded: boto3.session.Session) -> None:
    before = balance()
    pending = invoke("OcrByKeyFunction", load_event("ocr_by_key"))
    assert pending["statusCode"] == 409
    s3_client(uploaded).put_object(Bucket=bucket_name(), Key=UPLOAD_KEY, Body=b"GIF89a broken")
    trigger()
    rejected = invoke("OcrByKeyFunction", load_event("ocr_by_key"))
    assert rejected["statusCode"] == 400
    assert body_of(rejected)["error"].startswith("The upload was rejected: ")
    assert balance() == before


def test_engine_failure_is_500_and_the_hold_comes_back(
    uploaded: boto3.session.Session, gemini_stub: GeminiStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    trigger()
    monkeypatch.setenv("SNAPSCRIBE_OCR_ENGINE", "gemini")
    gemini_stub.reply_error(500)
    before = balance()
    result = invoke("OcrByKeyFunction", load_event("ocr_by_key"))
    assert result["statusCode"] == 500
    assert body_of(result)["error"].startswith("OCR failed: the model returned HTTP 500")
    assert balance() == before


def test_a_busy_model_is_503_with_retry_after_and_the_hold_comes_back(
    uploaded: boto3.session.Session, gemini_stub: GeminiStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    trigger()
    monkeypatch.setenv("SNAPSCRIBE_OCR_ENGINE", "gemini")
    gemini_stub.reply_error(503)  # the model's capacity, still refused after the SDK's retry
    before = balance()
    result = invoke("OcrByKeyFunction", load_event("ocr_by_key"))
    assert result["statusCode"] == 503
    assert body_of(result)["error"] == "OCR failed: the model is busy (HTTP 503): retry later"
    assert result["multiValueHeaders"]["Retry-After"] == ["5"]
    assert balance() == before


def test_gemini_tokens_are_the_models_own_count(
    uploaded: boto3.session.Session, gemini_stub: GeminiStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    trigger()
    monkeypatch.setenv("SNAPSCRIBE_OCR_ENGINE", "gemini")
    gemini_stub.reply_text("Invoice INV-1042", prompt_tokens=1290, completion_tokens=6)
    before = balance()
    body = body_of(invoke("OcrByKeyFunction", load_event("ocr_by_key")))
    assert (body["text"], body["tokensUsed"]) == ("Invoice INV-1042", 1296)
    assert balance() == before - 1296


def test_idempotent_retry_is_charged_once(uploaded: boto3.session.Session) -> None:
    trigger()
    before = balance()
    first_event, second_event = load_event("ocr_by_key"), load_event("ocr_by_key")
    for event in (first_event, second_event):
        event["headers"]["Idempotency-Key"] = "process-once"
    second_event["requestContext"]["requestId"] = "evt-retry"
    first, second = invoke("OcrByKeyFunction", first_event), invoke("OcrByKeyFunction", second_event)
    assert body_of(first) == body_of(second)
    assert balance() == before - body_of(first)["tokensUsed"]

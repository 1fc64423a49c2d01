"""The file-upload API through FileUploadFunction with events/*.json under moto: upload URLs that pin the key,
the type and the size, their refusals, DELETE /api/files/{uuid}, and a PDF from its upload URL to its text."""

from __future__ import annotations

import base64
import json
from typing import Any

import boto3
import pytest

from snapscribe.services import from_environment
from tests.conftest import body_of, invoke, load_event
from tests.integration.uploads import (
    UPLOAD_ID,
    UPLOAD_KEY,
    bucket_name,
    object_exists,
    s3_client,
    trigger,
    trigger_event,
    upload_status,
)


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
    assert upload_status(body["uuid"]) == "pending"
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


def test_delete_removes_object_and_record(uploaded: boto3.session.Session, accounts: Any) -> None:
    trigger()
    other_key, _ = accounts.create_key(user_id="mallory", credits=10, rate_limit=10)
    theirs = load_event("delete_upload")
    theirs["headers"] = {"X-API-Key": other_key}
    theirs["multiValueHeaders"] = {"X-API-Key": [other_key]}
    assert invoke("FileUploadFunction", theirs)["statusCode"] == 404
    assert object_exists(uploaded, UPLOAD_KEY)
    result = invoke("FileUploadFunction", load_event("delete_upload"))
    assert (result["statusCode"], body_of(result)) == (200, {"uuid": UPLOAD_ID, "key": UPLOAD_KEY, "deleted": True})
    assert not object_exists(uploaded, UPLOAD_KEY)
    assert upload_status() is None
    assert invoke("OcrByKeyFunction", load_event("ocr_by_key"))["statusCode"] == 404
    assert invoke("FileUploadFunction", load_event("delete_upload"))["statusCode"] == 404


def test_a_pdf_upload_is_accepted_checked_and_read(aws: boto3.session.Session, events_key: str) -> None:
    from tests.conftest import pdf_with_pages

    event = load_event("create_upload_url")
    event["body"] = json.dumps({"filename": "report.pdf", "contentType": "application/pdf"})
    upload = body_of(invoke("FileUploadFunction", event))
    assert {"Content-Type": "application/pdf"} in json.loads(base64.b64decode(upload["fields"]["policy"]))["conditions"]
    s3_client(aws).put_object(Bucket=bucket_name(), Key=upload["key"], Body=pdf_with_pages(2))
    created = load_event("s3_upload_created")
    created["Records"][0]["s3"]["object"]["key"] = upload["key"]
    assert trigger_event(created)["checked"][0]["outcome"] == "ready"
    record = from_environment().uploads.get("events", upload["uuid"])
    assert record is not None
    assert (record.image_format, record.pages) == ("PDF", 2)
    from_environment().accounts.store.add_credits("events", 99_000)
    process = load_event("ocr_by_key")
    process["body"] = json.dumps({"key": upload["key"]})
    body = body_of(invoke("OcrByKeyFunction", process))
    assert body["text"] == "Quarterly report page 1\n\nQuarterly report page 2"


@pytest.mark.parametrize("body", ["[" * 2000, '{"filename": ' + "[" * 3000 + "]" * 3000 + "}", "{" * 100_000])
def test_json_nested_too_deeply_is_400_not_500(aws: boto3.session.Session, events_key: str, body: str) -> None:
    for function, event_name in (("FileUploadFunction", "create_upload_url"), ("OcrByKeyFunction", "ocr_by_key")):
        event = load_event(event_name)
        event["body"] = body
        result = invoke(function, event)
        assert result["statusCode"] == 400, result["body"]
        assert body_of(result)["error"] in {
            "The request body is nested too deeply",
            "The request body is not valid JSON",
        }

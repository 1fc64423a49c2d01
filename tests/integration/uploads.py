"""What the file-upload, upload-trigger, housekeeping and OCR-by-key handler tests share: the events user's
upload (the one events/*.json name), how to store and check it, and the buckets and balances they look at."""

from __future__ import annotations

import time
from typing import Any

import boto3

from snapscribe.services import from_environment
from snapscribe.storage.uploads import UploadRecord
from tests.conftest import PROJECT_ROOT, invoke, load_event

UPLOAD_ID = "0f8e2c55-6d1b-4d0a-9a53-3c1f4b2a7e10"
UPLOAD_KEY = f"ocr/events/{UPLOAD_ID}-scan 2026-11 (copy).png"
SAMPLE = (PROJECT_ROOT / "samples" / "invoice.png").read_bytes()


def bucket_name() -> str:
    return from_environment().settings.bucket_name  # type: ignore[attr-defined]


def s3_client(aws: boto3.session.Session) -> Any:
    return aws.client("s3")


def upload_record(
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


def trigger(event_name: str = "s3_upload_created") -> dict[str, Any]:
    return invoke("UploadEventsFunction", load_event(event_name))


def trigger_event(event: dict[str, Any]) -> dict[str, Any]:
    return invoke("UploadEventsFunction", event)


def upload_status(upload_id: str = UPLOAD_ID, user_id: str = "events") -> str | None:
    record = from_environment().uploads.get(user_id, upload_id)
    return record.status if record else None


def object_exists(aws: boto3.session.Session, key: str) -> bool:
    return any(item["Key"] == key for item in s3_client(aws).list_objects_v2(Bucket=bucket_name()).get("Contents", []))


def balance(user_id: str = "events") -> int:
    return int(from_environment().accounts.store.get_balance(user_id))

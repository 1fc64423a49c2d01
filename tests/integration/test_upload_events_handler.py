"""The upload trigger (UploadEventsFunction) with the S3 events in events/*.json under moto: a good upload
becomes ready; bad, oversized and unasked-for objects are deleted, saying why; a replaced object is checked again."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from snapscribe.services import from_environment
from tests.conftest import EVAL_DIR
from tests.integration.uploads import (
    SAMPLE,
    UPLOAD_ID,
    UPLOAD_KEY,
    bucket_name,
    object_exists,
    s3_client,
    trigger,
    upload_record,
)


def test_trigger_marks_a_good_upload_ready_from_a_url_encoded_key(uploaded: boto3.session.Session) -> None:
    result = trigger()
    assert result["checked"] == [{"key": UPLOAD_KEY, "outcome": "ready", "reason": ""}]
    record = from_environment().uploads.get("events", UPLOAD_ID)
    assert record is not None
    assert (record.status, record.image_format, record.size, record.pages) == ("ready", "PNG", len(SAMPLE), 1)
    assert trigger()["checked"][0]["outcome"] == "ready"  # delivered twice: same answer


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
    from_environment().uploads.create(upload_record())
    data = body.read_bytes() if isinstance(body, Path) else body
    s3_client(aws).put_object(Bucket=bucket_name(), Key=UPLOAD_KEY, Body=data)
    assert trigger()["checked"][0]["outcome"] == "rejected"
    assert not object_exists(aws, UPLOAD_KEY)
    record = from_environment().uploads.get("events", UPLOAD_ID)
    assert record is not None
    assert record.status == "rejected"
    assert reason_part in record.reason


def test_trigger_deletes_an_oversized_upload(aws: boto3.session.Session, events_key: str) -> None:
    from_environment().uploads.create(upload_record(max_bytes=10_000))  # the local S3 does not enforce the policy
    s3_client(aws).put_object(Bucket=bucket_name(), Key=UPLOAD_KEY, Body=SAMPLE)
    assert trigger()["checked"][0]["outcome"] == "rejected"
    assert not object_exists(aws, UPLOAD_KEY)
    assert "larger than" in from_environment().uploads.get("events", UPLOAD_ID).reason  # type: ignore[union-attr]


def test_trigger_deletes_objects_nobody_asked_for(aws: boto3.session.Session, events_key: str) -> None:
    s3_client(aws).put_object(Bucket=bucket_name(), Key=UPLOAD_KEY, Body=SAMPLE)  # no upload record
    assert trigger()["checked"][0]["outcome"] == "unknown-deleted"
    assert not object_exists(aws, UPLOAD_KEY)


def test_replaced_object_is_checked_again(uploaded: boto3.session.Session) -> None:
    assert trigger()["checked"][0]["outcome"] == "ready"
    s3_client(uploaded).put_object(Bucket=bucket_name(), Key=UPLOAD_KEY, Body=b"not an image any more")
    assert trigger()["checked"][0]["outcome"] == "rejected"
    assert not object_exists(uploaded, UPLOAD_KEY)

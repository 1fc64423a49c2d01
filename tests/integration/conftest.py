"""Fixtures of the handler tests under moto."""

from __future__ import annotations

import boto3
import pytest

from snapscribe.services import from_environment
from tests.integration.uploads import SAMPLE, UPLOAD_KEY, bucket_name, s3_client, upload_record


@pytest.fixture
def uploaded(aws: boto3.session.Session, events_key: str) -> boto3.session.Session:
    """The events user's upload, as the presigned POST leaves it: a pending record and the object."""
    from_environment().uploads.create(upload_record())
    s3_client(aws).put_object(Bucket=bucket_name(), Key=UPLOAD_KEY, Body=SAMPLE, ContentType="image/png")
    from_environment().accounts.store.add_credits("events", 99_000)
    return aws

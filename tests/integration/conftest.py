"""Fixtures of the handler tests under moto."""

from __future__ import annotations

import boto3
import pytest

from snapscribe import services
from tests.integration.uploads import SAMPLE, UPLOAD_KEY, bucket_name, s3_client, upload_record


@pytest.fixture
def uploaded(aws: boto3.session.Session, events_key: str) -> boto3.session.Session:
    """The events user's upload, as the presigned POST leaves it: a pending record and the object."""
    services.upload_store().create(upload_record())
    s3_client(aws).put_object(Bucket=bucket_name(), Key=UPLOAD_KEY, Body=SAMPLE, ContentType="image/png")
    services.account_service()._store.add_credits("events", 99_000)
    return aws

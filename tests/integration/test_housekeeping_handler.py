"""The housekeeping sweep (HousekeepingFunction) on its schedule event under moto: old temporary objects go,
uploads stay."""

from __future__ import annotations

import time

import boto3
import pytest

from tests.conftest import invoke, load_event
from tests.integration.uploads import bucket_name, object_exists, s3_client


def test_schedule_sweeps_old_temporary_objects(aws: boto3.session.Session, monkeypatch: pytest.MonkeyPatch) -> None:
    s3 = s3_client(aws)
    s3.put_object(Bucket=bucket_name(), Key="tmp/old-request/page-1.png", Body=b"x")
    s3.put_object(Bucket=bucket_name(), Key="ocr/events/keep.png", Body=b"x")
    sweep = load_event("housekeeping_schedule")
    assert invoke("HousekeepingFunction", sweep)["sweptTemporaryObjects"] == 0  # younger than 15 minutes
    monkeypatch.setenv("SNAPSCRIBE_TMP_MAX_AGE_SECONDS", "0")
    time.sleep(1.1)  # S3 keeps LastModified to the second
    assert invoke("HousekeepingFunction", sweep)["sweptTemporaryObjects"] == 1
    assert not object_exists(aws, "tmp/old-request/page-1.png")
    assert object_exists(aws, "ocr/events/keep.png")

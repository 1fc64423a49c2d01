"""The composition root: clients made once, and only when a request first uses them; botocore told which services
there are (so it does not stat its whole data folder on a cold start)."""

from __future__ import annotations

import pytest
from botocore.exceptions import UnknownServiceError

from snapscribe import services


def test_the_jobs_api_makes_no_queue_or_bucket_client_until_one_is_used() -> None:
    jobs = services.job_services()
    assert services.sqs_client.cache_info().currsize == 0
    assert services.s3_client.cache_info().currsize == 0
    assert jobs.work._client.meta.service_model.service_name == "sqs"  # the first use makes it
    assert services.sqs_client.cache_info().currsize == 1
    assert jobs.webhooks._client.meta is services.sqs_client().meta  # one client for both queues
    assert services.s3_client.cache_info().currsize == 0


def test_botocore_knows_the_services_used_and_names_them_for_any_other() -> None:
    session = services._botocore_session()
    for name in services.SERVICES_USED:
        assert session.create_client(name, region_name="us-east-1").meta.service_model.service_name == name
    with pytest.raises(UnknownServiceError, match="dynamodb, s3, sqs"):
        session.create_client("ec2", region_name="us-east-1")

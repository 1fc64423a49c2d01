"""One moto world per contract module, with the tables, bucket and queues template.yaml defines (made by the same
code as the `aws` fixture's), emptied before each test: the adapters' side of every contract runs against it.

Module-scoped, not per test: making the template's resources takes about 0.3 s and emptying them a few
milliseconds, so the suites stay fast. Adapters are built here directly, as snapscribe.services builds them, on
clients of this session and the names prepare_fresh_aws hands back."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws

from snapscribe_tools.invoke import prepare_fresh_aws


@dataclass
class World:
    """moto with the template's resources; `environment` holds the variables the functions would be given."""

    session: boto3.session.Session
    environment: dict[str, str]

    @cached_property
    def dynamodb(self) -> Any:
        return self.session.client("dynamodb")

    @cached_property
    def s3(self) -> Any:
        return self.session.client("s3", config=Config(signature_version="s3v4"))  # as services.s3_client

    @cached_property
    def sqs(self) -> Any:
        return self.session.client("sqs")

    @property
    def accounts_table(self) -> str:
        return self.environment["SNAPSCRIBE_ACCOUNTS_TABLE"]

    @property
    def jobs_table(self) -> str:
        return self.environment["SNAPSCRIBE_JOBS_TABLE"]

    @property
    def bucket(self) -> str:
        return self.environment["SNAPSCRIBE_BUCKET_NAME"]

    @property
    def work_queue_url(self) -> str:
        return self.environment["SNAPSCRIBE_WORK_QUEUE_URL"]

    def raw_item(self, table: str, pk: str, sk: str) -> dict[str, Any] | None:
        """An item as DynamoDB holds it (for what no protocol returns: TTL attributes, attempt counts)."""
        item: dict[str, Any] | None = self.dynamodb.get_item(
            TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
        ).get("Item")
        return item

    def received(self, queue_url: str) -> list[str]:
        """Every message body waiting on the queue (each received once, then deleted)."""
        bodies: list[str] = []
        while messages := self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages"):
            bodies.extend(message["Body"] for message in messages)
            self.sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)],
            )
        return bodies

    def empty(self) -> None:
        """Remove what earlier tests left: every item of every table, every object, every message."""
        for table in self.dynamodb.list_tables()["TableNames"]:
            keys = [
                attribute["AttributeName"]
                for attribute in self.dynamodb.describe_table(TableName=table)["Table"]["KeySchema"]
            ]
            for page in self.dynamodb.get_paginator("scan").paginate(TableName=table):
                for item in page.get("Items", []):
                    self.dynamodb.delete_item(TableName=table, Key={key: item[key] for key in keys})
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            for found in page.get("Contents", []):
                self.s3.delete_object(Bucket=self.bucket, Key=found["Key"])
        for queue_url in self.sqs.list_queues().get("QueueUrls", []):
            self.received(queue_url)  # drained, not purged: SQS allows one purge a minute


@pytest.fixture(scope="module")
def moto_world() -> Iterator[World]:
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        yield World(session, prepare_fresh_aws(session))


@pytest.fixture
def world(moto_world: World) -> World:
    """The module's moto world, as empty as when its resources were made."""
    moto_world.empty()
    return moto_world

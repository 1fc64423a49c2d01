"""The composition root: AWS clients and the adapters built on them, made once per process, lazily."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar, cast

from botocore.config import Config

from snapscribe.accounts.dynamodb import DynamoAccountStore
from snapscribe.accounts.service import AccountService
from snapscribe.config import get_settings
from snapscribe.storage.dynamodb import DynamoUploadStore
from snapscribe.storage.s3 import S3ObjectStore

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

    from snapscribe.jobs.plan import Deps
    from snapscribe.jobs.submit import JobServices
    from snapscribe.jobs.webhooks import WebhookSender
    from snapscribe.jobs.worker import Worker

# A worker's claim on an item lasts twice the worker's timeout, then another may take the item over: longer
# than any invocation, shorter than the work queue's visibility timeout (at least six times the timeout), so
# a message redelivered because its worker was stopped always finds the item free.
LEASE_TIMEOUTS = 2
ClientT = TypeVar("ClientT")
SERVICES_USED = ("dynamodb", "s3", "sqs")  # every client below; another is an UnknownServiceError naming these

_BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=10)


class _ClientOnFirstUse:
    """A client made when it is first used: an adapter a request may never call (the jobs API's queues and
    bucket, when it only lists jobs) costs it nothing (a client's creation is 20-50 ms of a cold start)."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make

    def __getattr__(self, name: str) -> Any:
        return getattr(self._make(), name)  # the factories are cached: one client per process


def _on_first_use(make: Callable[[], ClientT]) -> ClientT:
    return cast("ClientT", _ClientOnFirstUse(make))


@cache
def _botocore_session() -> Any:
    """botocore's session, not boto3's: the clients are botocore's either way, and boto3 would import s3transfer
    and its resources (about 100 ms of every cold start) for nothing this code uses."""
    import botocore.session
    from botocore.loaders import Loader

    class LoaderOfTheServicesUsed(Loader):  # type: ignore[misc]
        """botocore's loader, told which services there are: to find out, it stats about 900 files of its data
        (twice: service models and endpoint rules), about 20 ms of the first client of every cold start."""

        def list_available_services(self, type_name: str) -> list[str]:
            return list(SERVICES_USED)

    session = botocore.session.get_session()
    session.register_component("data_loader", LoaderOfTheServicesUsed())
    return session


@cache
def dynamodb_client() -> DynamoDBClient:
    return cast("DynamoDBClient", _botocore_session().create_client("dynamodb", config=_BOTO_CONFIG))


@cache
def s3_client() -> S3Client:
    # SigV4 everywhere: presigned POST and GET URLs must work in every region.
    config = _BOTO_CONFIG.merge(Config(signature_version="s3v4"))
    return cast("S3Client", _botocore_session().create_client("s3", config=config))


@cache
def sqs_client() -> SQSClient:
    return cast("SQSClient", _botocore_session().create_client("sqs", config=_BOTO_CONFIG))


@cache
def job_services() -> JobServices:
    """The jobs table, the job files in the bucket, the work and webhook queues."""
    from snapscribe.jobs.dynamodb import DynamoJobStore
    from snapscribe.jobs.files import JobFiles
    from snapscribe.jobs.sqs import SqsQueue
    from snapscribe.jobs.submit import JobServices

    settings = get_settings()
    return JobServices(
        store=DynamoJobStore(
            dynamodb_client(), settings.jobs_table, expire_after_seconds=settings.job_retention_days * 86400
        ),
        files=JobFiles(object_store(), max_input_bytes=settings.max_upload_bytes),
        work=SqsQueue(_on_first_use(sqs_client), settings.work_queue_url),
        webhooks=SqsQueue(_on_first_use(sqs_client), settings.webhook_queue_url),
        max_seconds=settings.job_max_seconds,
        direct_items=settings.job_direct_items,
        result_inline_bytes=settings.job_result_inline_bytes,
    )


@cache
def worker() -> Worker:
    from snapscribe.jobs.worker import Worker
    from snapscribe.operations.kinds import KINDS

    return Worker(
        job_services(),
        deps,
        KINDS,
        lease_seconds=get_settings().worker_timeout_seconds * LEASE_TIMEOUTS,
    )


@cache
def webhook_sender() -> WebhookSender:
    """Posts a finished job's webhook through the SSRF-safe client: vetted at every attempt, no redirects."""
    from snapscribe.images.fetch import FetchPolicy, post
    from snapscribe.jobs.webhooks import WebhookSender

    settings = get_settings()
    policy = FetchPolicy(
        max_bytes=64 * 1024,
        connect_timeout=settings.url_connect_timeout,
        read_timeout=settings.url_read_timeout,
        total_timeout=settings.url_total_timeout,
        allow_loopback=settings.allow_loopback_urls,
    )
    return WebhookSender(
        job_services().store,
        account_service(),
        lambda url, body, headers: post(url, body, headers, policy),
    )


@cache
def upload_store() -> DynamoUploadStore:
    return DynamoUploadStore(dynamodb_client(), get_settings().accounts_table)


@cache
def object_store() -> S3ObjectStore:
    return S3ObjectStore(_on_first_use(s3_client), get_settings().bucket_name)


@cache
def object_store_in(bucket: str) -> S3ObjectStore:
    """The bucket an S3 event names: the upload trigger cannot be told the name (the bucket's notification
    refers to the function, so the function cannot refer to the bucket without a cycle)."""
    return S3ObjectStore(_on_first_use(s3_client), bucket)


@cache
def account_service() -> AccountService:
    settings = get_settings()
    return AccountService(
        DynamoAccountStore(dynamodb_client(), settings.accounts_table), hold_grace_seconds=settings.hold_grace_seconds
    )


def deps() -> Deps:
    """What a charging operation uses: accounts, settings, engines, upload records and the bucket (whose client is
    made on first use, so a function that never reads the bucket never makes it)."""
    from snapscribe.engines.registry import get_engine
    from snapscribe.jobs.plan import BlobCache, Deps

    return Deps(
        accounts=account_service(),
        settings=get_settings(),
        engine_for=get_engine,
        uploads=upload_store(),
        objects=object_store(),
        # Per invocation: a replaced object must never be served from an earlier request's copy.
        cache=BlobCache(),
    )


@cache
def idempotency_store() -> Any:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    return DynamoDBPersistenceLayer(table_name=get_settings().idempotency_table, boto3_client=dynamodb_client())


def reset() -> None:
    """Forget every cached client and setting (tests switch environments between cases)."""
    from snapscribe.engines.registry import reset_engines

    get_settings.cache_clear()
    dynamodb_client.cache_clear()
    s3_client.cache_clear()
    upload_store.cache_clear()
    object_store.cache_clear()
    object_store_in.cache_clear()
    account_service.cache_clear()
    idempotency_store.cache_clear()
    sqs_client.cache_clear()
    job_services.cache_clear()
    worker.cache_clear()
    webhook_sender.cache_clear()
    reset_engines()

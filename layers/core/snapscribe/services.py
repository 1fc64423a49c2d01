"""The composition root: one function's settings, its AWS clients and the adapters built on them, each made on
first use. A handler composes its `Services` at its start (`composition(SettingsModel)`: the settings checked
then, a missing one a clear error) and hands them to the code it calls; tests build `Services` themselves, or let
the handler compose them anew from the environment each case sets up."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from botocore.config import Config

from snapscribe.accounts.dynamodb import DynamoAccountStore
from snapscribe.accounts.service import AccountService
from snapscribe.config import MissingSetting, Settings, load_settings
from snapscribe.metering import NO_METER, Meter, PowertoolsMeter
from snapscribe.storage.dynamodb import DynamoUploadStore
from snapscribe.storage.s3 import S3ObjectStore

if TYPE_CHECKING:
    from mypy_boto3_bedrock_runtime import BedrockRuntimeClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient
    from mypy_boto3_textract import TextractClient

    from snapscribe.engines.registry import Engines
    from snapscribe.jobs.model import WorkQueue
    from snapscribe.jobs.plan import Deps
    from snapscribe.jobs.submit import JobServices
    from snapscribe.jobs.webhooks import WebhookSender
    from snapscribe.jobs.worker import Worker
    from snapscribe.storage.uploads import ObjectStore

# A worker's claim on an item lasts twice the worker's timeout, then another may take the item over: longer
# than any invocation, shorter than the work queue's visibility timeout (at least six times the timeout), so
# a message redelivered because its worker was stopped always finds the item free.
LEASE_TIMEOUTS = 2
# Every client below; another is an UnknownServiceError naming these.
SERVICES_USED = ("dynamodb", "s3", "sqs", "ssm", "bedrock-runtime", "textract")

_BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=10)
# The engines' services: throttling retried with backoff (standard mode) a little longer; a model may think a minute.
_ENGINE_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=5, read_timeout=60)


class _OnFirstUse:
    """A client or adapter made when it is first used: one a request may never call (the jobs API's queues and
    bucket, when it only lists jobs) costs it nothing (a client's creation is 20-50 ms of a cold start), and one
    its function has no setting for (the webhook function's bucket) is never asked for its setting."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make

    def __getattr__(self, name: str) -> Any:
        return getattr(self._make(), name)  # what it makes is cached: one each per composition


# botocore's endpoints.json cut to the services used (endpoints_of_the_services_used; a test holds it to the installed
# botocore's): the whole is 1.3 MB of every partition's services, about 20 ms of the first client of every cold start.
ENDPOINTS_FILE = Path(__file__).with_name("endpoints_of_the_services_used.json")


def endpoints_of_the_services_used(endpoints: dict[str, Any]) -> dict[str, Any]:
    """botocore's endpoint data with each partition's services cut to SERVICES_USED: its resolver reads a service's
    entry and its partition's own fields only, so it resolves the services used as from the whole."""
    return {
        **endpoints,
        "partitions": [
            {
                **partition,
                "services": {
                    name: partition["services"][name] for name in SERVICES_USED if name in partition["services"]
                },
            }
            for partition in endpoints["partitions"]
        ],
    }


@cache
def botocore_session() -> Any:
    """botocore's session, not boto3's: the clients are botocore's either way, and boto3 would import s3transfer
    and its resources (about 100 ms of every cold start) for nothing this code uses."""
    return new_botocore_session()


def new_botocore_session() -> Any:
    import botocore.session
    from botocore.loaders import Loader

    class LoaderOfTheServicesUsed(Loader):  # type: ignore[misc]
        """botocore's loader, told which services there are: to find out, it stats about 900 files of its data
        (twice: service models and endpoint rules), about 20 ms of the first client of every cold start. Its
        endpoint data is the services used' (ENDPOINTS_FILE), given as botocore's own file: botocore treats
        endpoint data of another path as an override, and would hand its endpoints to the rules as the caller's."""

        def list_available_services(self, type_name: str) -> list[str]:
            return list(SERVICES_USED)

        def load_data_with_path(self, name: str) -> tuple[Any, str]:
            if name != "endpoints" or not ENDPOINTS_FILE.is_file():  # a package built without its data: the whole
                return super().load_data_with_path(name)  # type: ignore[no-any-return]
            return json.loads(ENDPOINTS_FILE.read_bytes()), os.path.join(self.BUILTIN_DATA_PATH, "endpoints.json")

    session = botocore.session.get_session()
    session.register_component("data_loader", LoaderOfTheServicesUsed())
    return session


class AwsClients:
    """The AWS clients of one composition, each made on first use."""

    @cached_property
    def dynamodb(self) -> DynamoDBClient:
        return cast("DynamoDBClient", botocore_session().create_client("dynamodb", config=_BOTO_CONFIG))

    @cached_property
    def s3(self) -> S3Client:
        # SigV4 everywhere: presigned POST and GET URLs must work in every region.
        config = _BOTO_CONFIG.merge(Config(signature_version="s3v4"))
        return cast("S3Client", botocore_session().create_client("s3", config=config))

    @cached_property
    def sqs(self) -> SQSClient:
        return cast("SQSClient", botocore_session().create_client("sqs", config=_BOTO_CONFIG))

    @cached_property
    def ssm(self) -> SSMClient:
        return cast("SSMClient", botocore_session().create_client("ssm", config=_BOTO_CONFIG))

    # No endpoint_url for the engines' services: botocore honours AWS_ENDPOINT_URL_BEDROCK_RUNTIME and
    # AWS_ENDPOINT_URL_TEXTRACT, so `make run` can point an engine at a stand-in or a proxy.
    @cached_property
    def bedrock_runtime(self) -> BedrockRuntimeClient:
        return cast("BedrockRuntimeClient", botocore_session().create_client("bedrock-runtime", config=_ENGINE_CONFIG))

    @cached_property
    def textract(self) -> TextractClient:
        return cast("TextractClient", botocore_session().create_client("textract", config=_ENGINE_CONFIG))

    def made(self) -> set[str]:
        """The clients made so far (a cached property keeps its value in the instance's dictionary)."""
        return {name for name in SERVICES_USED if name.replace("-", "_") in vars(self)}

    def s3_on_first_use(self) -> S3Client:
        return cast("S3Client", _OnFirstUse(lambda: self.s3))

    def sqs_on_first_use(self) -> SQSClient:
        return cast("SQSClient", _OnFirstUse(lambda: self.sqs))


class Services:
    """What one function's code uses, built from its settings and clients, each part on first use."""

    def __init__(self, settings: Settings, clients: AwsClients | None = None, meter: Meter | None = None) -> None:
        self.settings = settings
        self.clients = clients or AwsClients()
        # EMF through Powertools (metering.py), flushed by the handler; the engines and settlements count on it.
        self.meter: Meter = meter or PowertoolsMeter()
        self._buckets: dict[str, S3ObjectStore] = {}

    @cached_property
    def accounts(self) -> AccountService:
        store = DynamoAccountStore(self.clients.dynamodb, self.settings.resource("accounts_table"))
        return AccountService(store, hold_grace_seconds=self.settings.hold_grace_seconds, meter=self.meter)

    @cached_property
    def uploads(self) -> DynamoUploadStore:
        return DynamoUploadStore(self.clients.dynamodb, self.settings.resource("accounts_table"))

    @cached_property
    def objects(self) -> S3ObjectStore:
        return S3ObjectStore(self.clients.s3_on_first_use(), self.settings.resource("bucket_name"))

    def objects_in(self, bucket: str) -> S3ObjectStore:
        """The bucket an S3 event names: the upload trigger cannot be told the name (the bucket's notification
        refers to the function, so the function cannot refer to the bucket without a cycle)."""
        if bucket not in self._buckets:
            self._buckets[bucket] = S3ObjectStore(self.clients.s3_on_first_use(), bucket)
        return self._buckets[bucket]

    @cached_property
    def engines(self) -> Engines:
        from snapscribe.engines.registry import Engines

        return Engines(self.settings, self.clients, meter=self.meter)

    @cached_property
    def jobs(self) -> JobServices:
        """The jobs table, the job files in the bucket, the work and webhook queues (a function that sends to
        neither queue needs neither URL)."""
        from snapscribe.jobs.dynamodb import DynamoJobStore
        from snapscribe.jobs.files import JobFiles
        from snapscribe.jobs.submit import JobServices

        settings = self.settings
        expire_after = settings.job_retention_days * 86400
        return JobServices(
            store=DynamoJobStore(
                self.clients.dynamodb, settings.resource("jobs_table"), expire_after_seconds=expire_after
            ),
            files=JobFiles(
                cast("ObjectStore", _OnFirstUse(lambda: self.objects)), max_input_bytes=settings.max_upload_bytes
            ),
            work=self._queue("work_queue_url"),
            webhooks=self._queue("webhook_queue_url"),
            max_seconds=settings.job_max_seconds,
            direct_items=settings.job_direct_items,
            result_inline_bytes=settings.job_result_inline_bytes,
        )

    def _queue(self, field: str) -> WorkQueue:
        from snapscribe.jobs.sqs import SqsQueue

        url = getattr(self.settings, field)
        return SqsQueue(self.clients.sqs_on_first_use(), url) if url else _Unconfigured(field, self.settings)

    @cached_property
    def worker(self) -> Worker:
        from snapscribe.jobs.worker import Worker
        from snapscribe.operations.kinds import KINDS

        lease = self.settings.worker_timeout_seconds * LEASE_TIMEOUTS
        return Worker(self.jobs, self.deps, KINDS, lease_seconds=lease)

    @cached_property
    def webhook_sender(self) -> WebhookSender:
        """Posts a finished job's webhook through the SSRF-safe client: vetted at every attempt, no redirects."""
        from snapscribe.images.fetch import FetchPolicy, post
        from snapscribe.jobs.webhooks import WebhookSender

        settings = self.settings
        policy = FetchPolicy(
            max_bytes=64 * 1024,
            connect_timeout=settings.url_connect_timeout,
            read_timeout=settings.url_read_timeout,
            total_timeout=settings.url_total_timeout,
            allow_loopback=settings.allow_loopback_urls,
        )
        return WebhookSender(
            self.jobs.store, self.accounts, lambda url, body, headers: post(url, body, headers, policy)
        )

    @cached_property
    def idempotency_store(self) -> Any:
        from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

        table = self.settings.resource("idempotency_table")
        return DynamoDBPersistenceLayer(table_name=table, boto3_client=self.clients.dynamodb)

    def deps(self) -> Deps:
        """What a charging operation uses: accounts, settings, engines, upload records and the bucket (whose
        client is made on first use)."""
        from snapscribe.jobs.plan import BlobCache, Deps

        return Deps(
            accounts=self.accounts,
            settings=self.settings,
            engine_for=self.engines,
            uploads=self.uploads,
            objects=self.objects,
            # Per invocation: a replaced object must never be served from an earlier request's copy.
            cache=BlobCache(),
        )


class _Unconfigured:
    """A queue this function's settings do not name: sending to it is MissingSetting, naming the variable."""

    def __init__(self, field: str, settings: Settings) -> None:
        self.field, self.settings = field, settings

    def send(self, messages: list[dict[str, Any]]) -> None:
        self.settings.resource(self.field)


def _environment() -> tuple[tuple[str, str], ...]:
    return tuple(
        sorted((name, value) for name, value in os.environ.items() if name.startswith(("SNAPSCRIBE_", "AWS_")))
    )


def from_environment() -> Services:
    """Services on whatever the environment names (the admin CLI, the local stack's set-up, tools and tests). They
    count nothing: no handler flushes what they would count (it would reach the next handler's metrics)."""
    return Services(load_settings(Settings), meter=NO_METER)


def composition(model: type[Settings]) -> Callable[[], Services]:
    """A function's composition root, called at its start: its settings are read and checked now (MissingSetting
    names what is missing), and the returned callable gives the function's Services. In Lambda the environment
    never changes, so it is one Services per process; where it does (each test sets up its own AWS), the next
    call composes anew from it."""
    composed = _checked(Services(load_settings(model)))
    seen = _environment()
    lock = threading.Lock()

    def current() -> Services:
        nonlocal composed, seen
        environment = _environment()
        if environment != seen:
            with lock:
                composed, seen = _checked(Services(load_settings(model))), environment
        return composed

    return current


def _checked(services: Services) -> Services:
    """A function that runs engines starts only with a list of engines it can read (engines/catalog.py)."""
    if services.settings.runs_engines:
        try:
            services.engines.allowed()
        except ValueError as error:
            raise MissingSetting(f"SNAPSCRIBE_ENGINES is not valid: {error}") from None
    return services

"""Each function's settings: what every function shares (config.Settings) and the resources this function uses,
required (no default). template.yaml passes each function the variables its model requires, and a test holds the
two together; a function started without one stops at once, naming the variable (config.load_settings)."""

from __future__ import annotations

from typing import ClassVar

from snapscribe.config import Settings


class DocsSettings(Settings):
    """ApiDocsFunction: no data."""


class AccountSettings(Settings):
    """AccountFunction: keys, balances, the ledger."""

    accounts_table: str


class ChargingApiSettings(Settings):
    """The APIs that charge (extract-image, structured extraction, OCR by key, batch extraction): they run work now
    or admit it as a job."""

    runs_engines: ClassVar[bool] = True
    accounts_table: str
    idempotency_table: str
    bucket_name: str
    jobs_table: str
    work_queue_url: str


class FileUploadSettings(Settings):
    accounts_table: str
    idempotency_table: str
    bucket_name: str


class JobsApiSettings(Settings):
    """JobsFunction: reads and cancels jobs (a cancelled job's finalisation is queued); large results are in the
    bucket."""

    accounts_table: str
    bucket_name: str
    jobs_table: str
    work_queue_url: str


class UploadEventsSettings(Settings):
    """UploadEventsFunction: the bucket is the one each S3 event names."""

    accounts_table: str


class HousekeepingSettings(Settings):
    """HousekeepingFunction: reaps jobs (finishing them through the work queue), refunds holds, sweeps tmp/."""

    accounts_table: str
    bucket_name: str
    jobs_table: str
    work_queue_url: str


class WorkerSettings(Settings):
    """WorkerFunction: runs items, expands and finishes jobs, queues their webhooks."""

    runs_engines: ClassVar[bool] = True
    accounts_table: str
    bucket_name: str
    jobs_table: str
    work_queue_url: str
    webhook_queue_url: str
    work_dead_letter_queue: str


class WebhookSettings(Settings):
    """WebhookFunction: signs with the key's secret (accounts), records attempts (jobs), backs off (its queue)."""

    accounts_table: str
    jobs_table: str
    webhook_queue_url: str

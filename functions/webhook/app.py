"""WebhookFunction: delivers each finished job's webhook (Standard Webhooks), from the webhook queue. A failed
attempt is recorded on the job and comes back after an exponential backoff (the message's visibility); after
the last, the message rests in the webhook dead-letter queue."""

from __future__ import annotations

from snapscribe.web.cold_start import collector_paused

with collector_paused():  # the cold start's imports and composition (web/cold_start.py)
    import json
    from typing import Any

    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from snapscribe.function_settings import WebhookSettings
    from snapscribe.jobs.webhooks import backoff_seconds
    from snapscribe.services import composition
    from snapscribe.web.handler import instrumented

    processor = BatchProcessor(event_type=EventType.SQS)
    services = composition(WebhookSettings)


class NotDeliveredYet(Exception):
    """The receiver did not take it: the message comes back after its backoff."""


def deliver(record: SQSRecord) -> None:
    attempt = int(record.attributes.approximate_receive_count)
    if services().webhook_sender.deliver(str(json.loads(record.body)["job"]), attempt):
        return
    services().clients.sqs.change_message_visibility(
        QueueUrl=services().settings.resource("webhook_queue_url"),
        ReceiptHandle=record.receipt_handle,
        VisibilityTimeout=backoff_seconds(attempt),
    )
    raise NotDeliveredYet(f"attempt {attempt}")


def deliver_batch(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=deliver, processor=processor, context=context)


lambda_handler = instrumented(deliver_batch, services)

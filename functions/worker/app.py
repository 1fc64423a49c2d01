"""WorkerFunction (container image, with the local engine): runs jobs' work items from the work queue, and
resolves those the dead-letter queue gives up on. Partial batch responses: a message that fails comes back.

A batch from the work queue runs in the order jobs/batch.py gives: the messages whose item's worker died running
it (a redelivery of an unresolved claim past its lease) run last, one an invocation, so that an item that kills
its invocation every time takes no other item down with it; the batch's other such messages are handed back
(reported as failures) without running."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from snapscribe.function_settings import WorkerSettings
from snapscribe.jobs.batch import Delivery
from snapscribe.services import composition
from snapscribe.web.handler import instrumented

processor = BatchProcessor(event_type=EventType.SQS)
services = composition(WorkerSettings)


class HandedBack(Exception):
    """Not run in this invocation: another item whose worker died runs in it (the message comes back)."""


def _dead_letters(record: dict[str, Any]) -> bool:
    return str(record.get("eventSourceARN", "")).rsplit(":", 1)[-1] == services().settings.work_dead_letter_queue


def _delivery(record: dict[str, Any]) -> Delivery:
    try:
        message = json.loads(record.get("body") or "")
    except ValueError:
        message = None  # run_message fails it, in its turn
    count = str(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
    return Delivery(message if isinstance(message, dict) else {}, int(count) if count.isdecimal() else 1)


def run_message(record: SQSRecord) -> None:
    message = json.loads(record.body)
    worker = services().worker
    if _dead_letters(record.raw_event):
        worker.dead_letter(message)
    else:
        worker.handle(message, finish=False)


def run_batch(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = list(event.get("Records", []))
    handed_back: set[str] = set()
    if records and not _dead_letters(records[0]):  # one event source mapping: every record is of one queue
        order = services().worker.batch_order([_delivery(record) for record in records])
        handed_back = {str(records[position]["messageId"]) for position in order.handed_back}
        event = {**event, "Records": [records[position] for position in order.run + order.handed_back]}

    def run_in_order(record: SQSRecord) -> None:
        if record.message_id in handed_back:
            raise HandedBack(f"message {record.message_id} runs in an invocation of its own")
        run_message(record)

    answer = process_partial_response(event=event, record_handler=run_in_order, processor=processor, context=context)
    services().worker.finish_touched()  # once per job the batch touched, not once per item
    return dict(answer)


lambda_handler = instrumented(run_batch, services)

"""WorkerFunction (container image, with the local engine): runs jobs' work items from the work queue, and
resolves those the dead-letter queue gives up on. Partial batch responses: a message that fails comes back."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from snapscribe.function_settings import WorkerSettings
from snapscribe.services import composition
from snapscribe.web.handler import instrumented

processor = BatchProcessor(event_type=EventType.SQS)
services = composition(WorkerSettings)


def run_message(record: SQSRecord) -> None:
    message = json.loads(record.body)
    worker = services().worker
    if record.event_source_arn.rsplit(":", 1)[-1] == services().settings.work_dead_letter_queue:
        worker.dead_letter(message)
    else:
        worker.handle(message, finish=False)


def run_batch(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    answer = process_partial_response(event=event, record_handler=run_message, processor=processor, context=context)
    services().worker.finish_touched()  # once per job the batch touched, not once per item
    return answer


lambda_handler = instrumented(run_batch, services)

"""UploadEventsFunction: checks each new upload (S3 ObjectCreated) and sweeps tmp/ (a schedule)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from snapscribe.web import routes

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return routes.upload_event(event)

"""UploadEventsFunction: checks each new upload (S3 ObjectCreated) and deletes what is bad."""

from __future__ import annotations

from snapscribe.web.cold_start import collector_paused

with collector_paused():  # the cold start's imports and composition (web/cold_start.py)
    from typing import Any

    from aws_lambda_powertools import Metrics
    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.utilities.data_classes import S3Event
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from snapscribe.function_settings import UploadEventsSettings
    from snapscribe.operations.upload_events import check_upload
    from snapscribe.services import composition
    from snapscribe.web.handler import instrumented

    metrics = Metrics()  # shares its metric set with the one `instrumented` flushes
    services = composition(UploadEventsSettings)


def check_uploads(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    composed = services()
    results = [
        check_upload(
            record.s3.get_object.key,
            uploads=composed.uploads,
            objects=composed.objects_in(record.s3.bucket.name),
            settings=composed.settings,
        )
        for record in S3Event(event).records
        if record.event_name.startswith("ObjectCreated")
    ]
    for result in results:
        metrics.add_metric(name=f"Uploads{result.outcome.title().replace('-', '')}", unit=MetricUnit.Count, value=1)
    return {"checked": [{"key": result.key, "outcome": result.outcome, "reason": result.reason} for result in results]}


lambda_handler = instrumented(check_uploads, services)

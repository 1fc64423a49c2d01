"""HousekeepingFunction: on a schedule, deletes what no request can still be using (tmp/ objects)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from snapscribe import services
from snapscribe.config import get_settings
from snapscribe.operations.housekeeping import sweep_temporary_objects
from snapscribe.web.handler import instrumented

metrics = Metrics()  # shares its metric set with the one `instrumented` flushes


def sweep(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    swept = sweep_temporary_objects(objects=services.object_store(), settings=get_settings())
    metrics.add_metric(name="TemporaryObjectsSwept", unit=MetricUnit.Count, value=swept)
    return {"sweptTemporaryObjects": swept}


lambda_handler = instrumented(sweep)

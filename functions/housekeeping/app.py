"""HousekeepingFunction: on a schedule, reaps overdue jobs, refunds holds no invocation settled, and deletes
stale tmp/ objects."""

from __future__ import annotations

from snapscribe.web.cold_start import collector_paused

with collector_paused():  # the cold start's imports and composition (web/cold_start.py)
    import time
    from typing import Any

    from aws_lambda_powertools import Metrics
    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from snapscribe.function_settings import HousekeepingSettings
    from snapscribe.jobs.reaper import reap
    from snapscribe.operations.housekeeping import refund_overdue_holds, sweep_temporary_objects
    from snapscribe.services import composition
    from snapscribe.web.handler import instrumented

    metrics = Metrics()  # shares its metric set with the one `instrumented` flushes
    services = composition(HousekeepingSettings)


def housekeeping(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    composed = services()
    reaped = reap(composed.jobs, now=int(time.time()))
    refunded = refund_overdue_holds(accounts=composed.accounts)
    swept = sweep_temporary_objects(objects=composed.objects, settings=composed.settings)
    metrics.add_metric(name="OverdueJobsReaped", unit=MetricUnit.Count, value=reaped.overdue_jobs)
    metrics.add_metric(name="OverdueHoldsRefunded", unit=MetricUnit.Count, value=len(refunded))
    metrics.add_metric(name="TemporaryObjectsSwept", unit=MetricUnit.Count, value=swept)
    return {
        "reapedJobs": reaped.overdue_jobs,
        "finishRequests": reaped.finish_requests,
        "refundedHolds": len(refunded),
        "sweptTemporaryObjects": swept,
    }


lambda_handler = instrumented(housekeeping, services)

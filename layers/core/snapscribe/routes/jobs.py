"""The jobs API: follow, list and cancel the work a POST with `Prefer: respond-async` started."""

from __future__ import annotations

import time

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from snapscribe import services
from snapscribe.config import get_settings
from snapscribe.errors import InvalidRequest
from snapscribe.jobs.submit import iso
from snapscribe.operations import jobs as operations
from snapscribe.web.errors import JOBS_ERRORS
from snapscribe.web.middleware import account_checks
from snapscribe.web.requests import caller
from snapscribe.web.responses import json_response

router = APIGatewayRouter()
DEFAULT_PAGE = 20


def _limit() -> int:
    raw = router.current_event.get_query_string_value("limit", str(DEFAULT_PAGE)) or str(DEFAULT_PAGE)
    if not raw.isdigit():
        raise InvalidRequest("limit must be a whole number")
    return int(raw)


@router.get("/api/v1/jobs", middlewares=account_checks(JOBS_ERRORS))
def list_jobs() -> Response[str]:
    cursor = router.current_event.get_query_string_value("cursor", None)
    result = operations.list_jobs(caller(router), jobs=services.job_services(), limit=_limit(), cursor=cursor)
    return json_response(200, result.model_dump(exclude_none=True))


@router.get("/api/v1/jobs/<job_id>", middlewares=account_checks(JOBS_ERRORS))
def get_job(job_id: str) -> Response[str]:
    result = operations.get_job(
        caller(router),
        job_id,
        jobs=services.job_services(),
        result_url_expiry=get_settings().job_result_url_expiry_seconds,
    )
    return json_response(200, result.model_dump(exclude_none=True))


@router.delete("/api/v1/jobs/<job_id>", middlewares=account_checks(JOBS_ERRORS))
def cancel_job(job_id: str) -> Response[str]:
    result = operations.cancel_job(caller(router), job_id, jobs=services.job_services(), now=iso(time.time()))
    return json_response(200, result.model_dump(exclude_none=True))

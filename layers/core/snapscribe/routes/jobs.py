"""The jobs API: follow, list and cancel the work a POST with `Prefer: respond-async` started."""

from __future__ import annotations

import time

from aws_lambda_powertools.event_handler import Response

from snapscribe.contracts.errors import JOBS_ERRORS
from snapscribe.contracts.jobs import JobList, JobView
from snapscribe.errors import InvalidRequest
from snapscribe.jobs.submit import iso
from snapscribe.operations import jobs as operations
from snapscribe.web.requests import caller, services_of, whole_number_query
from snapscribe.web.responses import json_response
from snapscribe.web.routing import Api, QueryParameter

api = Api("jobs", "Work sent with `Prefer: respond-async`: follow, list and cancel it", JOBS_ERRORS)
router = api.router
DEFAULT_PAGE = 20
LIMIT = QueryParameter(
    "limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": DEFAULT_PAGE}, "Jobs per page"
)
CURSOR = QueryParameter("cursor", {"type": "string", "minLength": 1}, "The previous page's nextCursor")


def _cursor() -> str | None:
    cursor = router.current_event.get_query_string_value("cursor", None)
    if cursor is not None and not cursor.strip():
        raise InvalidRequest("cursor is not valid: send the previous page's nextCursor, or none for the first page")
    return cursor


@api.route(
    "get",
    "/api/v1/jobs",
    summary="The caller's jobs, newest first, a page at a time",
    answer=JobList,
    error_statuses=(400, 401, 429, 500),
    query=(LIMIT, CURSOR),
    links=((200, "GetFirstJob", {"operationId": "get_job", "parameters": {"jobId": "$response.body#/jobs/0/jobId"}}),),
)
def list_jobs() -> Response[str]:
    limit = whole_number_query(router, "limit", default=DEFAULT_PAGE, minimum=1, maximum=operations.MAX_PAGE)
    result = operations.list_jobs(caller(router), jobs=services_of(router).jobs, limit=limit, cursor=_cursor())
    return json_response(200, result.model_dump(exclude_none=True))


@api.route(
    "get",
    "/api/v1/jobs/{jobId}",
    summary="A job's progress and, once finished, the answer the synchronous call would have given",
    answer=JobView,
    error_statuses=(401, 404, 429, 500),
)
def get_job(job_id: str) -> Response[str]:
    result = operations.get_job(
        caller(router),
        job_id,
        jobs=services_of(router).jobs,
        result_url_expiry=services_of(router).settings.job_result_url_expiry_seconds,
    )
    return json_response(200, result.model_dump(exclude_none=True))


@api.route(
    "delete",
    "/api/v1/jobs/{jobId}",
    summary="Cancel a job: items not started do not run, and their hold comes back",
    answer=JobView,
    error_statuses=(401, 404, 409, 429, 500),
)
def cancel_job(job_id: str) -> Response[str]:
    result = operations.cancel_job(caller(router), job_id, jobs=services_of(router).jobs, now=iso(time.time()))
    return json_response(200, result.model_dump(exclude_none=True))

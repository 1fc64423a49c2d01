"""How a route performs a charging operation: now, in this invocation; or, when the request says
`Prefer: respond-async` (RFC 7240), as a job: admitted exactly as the call would be (the same checks and the
same hold), then 202 with where to follow it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

from snapscribe.contracts.jobs import JobAccepted
from snapscribe.errors import InvalidRequest
from snapscribe.images.fetch import FetchPolicy, vet_url
from snapscribe.jobs.plan import Deps, JobKind
from snapscribe.jobs.run import run_now
from snapscribe.jobs.submit import submit
from snapscribe.web.requests import (
    callback_url_header,
    caller,
    job_url,
    prefers_async,
    services_of,
    wants_fields,
)
from snapscribe.web.responses import json_response

MAX_CALLBACK_URL = 2048


def callback_url(router: BaseRouter, deps: Deps) -> str | None:
    """The `Callback-Url` for the job's webhook, refused (400) if the service may not reach it."""
    url = callback_url_header(router)
    if url is None:
        return None
    if not url or len(url) > MAX_CALLBACK_URL:
        raise InvalidRequest(f"Callback-Url must be a URL of at most {MAX_CALLBACK_URL} characters")
    policy = FetchPolicy(max_bytes=0, allow_loopback=deps.settings.allow_loopback_urls)
    vet_url(url, policy, deps.resolver, what="callback URL")
    return url


def perform(router: BaseRouter, kind: JobKind, request: Any, *, takes_fields: bool) -> Response[str]:
    """The kind's work on `request` now, or as a job when the client prefers (Prefer: respond-async). A route that
    `takes_fields` (it declares `?fields`) lets the client ask for each filled field's confidence and box."""
    with_fields = takes_fields and wants_fields(router)
    who = replace(caller(router), with_fields=with_fields)
    services = services_of(router)
    deps = services.deps()
    if not prefers_async(router):
        if router.current_event.headers.get("callback-url") is not None:
            # Checked before any work: a webhook the client expects would otherwise never come.
            raise InvalidRequest("Callback-Url applies to jobs: send it with the header 'Prefer: respond-async'")
        status, body = kind.answer(run_now(kind, request, who, deps))
        return json_response(status, body)
    job = submit(
        kind,
        request,
        who,
        deps,
        services.jobs,
        callback_url=callback_url(router, deps),
        status_url=lambda job_id: job_url(router, job_id),  # also in the signed webhook
    )
    status_url = job_url(router, job.job_id)
    accepted = JobAccepted(jobId=job.job_id, status=job.status, statusUrl=status_url, createdAt=job.created_at)
    location = urlsplit(status_url).path  # the same place, relative to the host
    return json_response(202, accepted, {"Location": location, "Preference-Applied": "respond-async"})

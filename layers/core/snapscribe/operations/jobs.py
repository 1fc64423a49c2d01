"""The jobs API: a job's status and result, the caller's jobs, cancelling one. The owner only: anyone else's
job is not found."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import cast

from snapscribe.caller import Caller
from snapscribe.contracts.jobs import JobList, JobStatus, JobView, Progress, Webhook, WebhookAttempt
from snapscribe.errors import InvalidRequest, JobFinished, NotFound
from snapscribe.jobs.model import CANCELLED_ITEM, ITEM_CANCELLED, Job
from snapscribe.jobs.submit import JobServices

MAX_PAGE = 100


def view(job: Job, *, result_url: Callable[[str], str] | None = None, with_result: bool = True) -> JobView:
    webhook = None
    if job.callback_url:
        webhook = Webhook(
            url=job.callback_url,
            state=job.webhook_state or "pending",
            attempts=[WebhookAttempt.model_validate(attempt) for attempt in job.webhook_attempts],
        )
    return JobView(
        jobId=job.job_id,
        status=cast(JobStatus, job.status),
        route=job.route,
        progress=Progress(total=job.total, done=job.done, failed=job.failed, cancelled=job.cancelled),
        createdAt=job.created_at,
        startedAt=job.started_at,
        finishedAt=job.finished_at,
        deadline=datetime.fromtimestamp(job.deadline, UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        held=job.hold.cost,
        charged=job.charged,
        resultStatus=job.result_status,
        result=json.loads(job.result) if with_result and job.result is not None else None,
        resultUrl=result_url(job.result_key) if with_result and job.result_key and result_url else None,
        webhook=webhook,
    )


def _owned(caller: Caller, job_id: str, jobs: JobServices) -> Job:
    job = jobs.store.get(job_id) if len(job_id) <= 64 else None
    if job is None or job.owner != caller.user_id:
        raise NotFound("Job not found")
    return job


def get_job(caller: Caller, job_id: str, *, jobs: JobServices, result_url_expiry: int) -> JobView:
    job = _owned(caller, job_id, jobs)
    return view(job, result_url=lambda key: jobs.files.result_url(key, result_url_expiry))


def list_jobs(caller: Caller, *, jobs: JobServices, limit: int, cursor: str | None) -> JobList:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE}")
    try:
        page = jobs.store.list_for(caller.user_id, limit=limit, cursor=cursor)
    except ValueError as error:  # a cursor that is not one of ours
        raise InvalidRequest("cursor is not valid") from error
    return JobList(jobs=[view(job, with_result=False) for job in page.jobs], nextCursor=page.cursor)


def cancel_job(caller: Caller, job_id: str, *, jobs: JobServices, now: str) -> JobView:
    """No item starts after this. The items not started are resolved as cancelled here and now (workers read the
    cancel before each item, and a claim finds such an item resolved); a job with nothing left running has its
    finalisation queued at once, so that their credits come back without waiting for its messages to drain.
    Items already running finish and are charged. The job is `cancelling` until its hold is settled, `cancelled`
    after. Cancelling again answers the job as it stands; a job that finished otherwise answers 409."""
    job = _owned(caller, job_id, jobs)
    if job.finished or not jobs.store.request_cancel(job_id, now):
        finished = jobs.store.get(job_id) or job
        if not finished.cancel_requested:
            raise JobFinished(f"The job has already finished ({finished.status})")
        return view(finished, with_result=False)
    jobs.store.resolve_unclaimed(job_id, range(job.total), ITEM_CANCELLED, error=CANCELLED_ITEM)
    cancelling = jobs.store.get(job_id)
    assert cancelling is not None
    if cancelling.remaining == 0 and not cancelling.finished:
        jobs.work.send([{"job": job_id, "finalize": True}])
    return view(cancelling, with_result=False)

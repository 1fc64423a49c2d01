"""Admit work as a job: the same checks and the same hold as the synchronous call, then the plan in the bucket,
the job in its table, and its items on the work queue. Nothing here waits for the work."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from snapscribe.caller import Caller
from snapscribe.jobs.files import JobFiles
from snapscribe.jobs.model import Job, JobStore, WorkQueue

if TYPE_CHECKING:  # the plan's module imports the image code: the jobs API and the reaper never need it
    from snapscribe.jobs.plan import Deps, JobKind

# A job's hold stays open this long past the job's deadline: time for the reaper to fail what is left and
# for a worker to finish the job and settle it, before the hold sweeper would give everything back.
JOB_HOLD_GRACE_SECONDS = 3600


@dataclass
class JobServices:
    store: JobStore
    files: JobFiles
    work: WorkQueue
    webhooks: WorkQueue
    max_seconds: int  # a job's deadline, from its admission
    direct_items: int = 100  # a job of more items is admitted with one "expand" message, a worker sends them
    result_inline_bytes: int = 300_000  # a larger result goes to the bucket (a DynamoDB item holds 400 KB)


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def item_messages(job_id: str, start: int, end: int) -> list[dict[str, Any]]:
    return [{"job": job_id, "item": index} for index in range(start, end)]


def submit(
    kind: JobKind,
    request: Any,
    caller: Caller,
    deps: Deps,
    jobs: JobServices,
    *,
    callback_url: str | None,
    status_url: Callable[[str], str] | None = None,
) -> Job:
    """The job, queued; or the API's typed error, before anything is held. `status_url` says where a job id
    is followed (for the webhook)."""
    job_id = str(uuid.uuid4())
    # Planned knowing it is a job (caller.job_id): a kind may split the work otherwise than for the synchronous call.
    plan = kind.plan(request, replace(caller, job_id=job_id), deps)
    now = time.time()
    deadline = int(now) + jobs.max_seconds
    job_caller = replace(caller, ends_at=float(deadline + JOB_HOLD_GRACE_SECONDS), job_id=job_id)
    with deps.accounts.hold(job_caller, plan.hold) as hold:
        jobs.files.put_plan(caller.user_id, job_id, plan)
        job = Job(
            job_id=job_id,
            owner=caller.user_id,
            key_id=caller.principal.key_id,
            kind=kind.name,
            route=caller.route,
            request_id=caller.request_id,
            total=len(plan.items),
            hold=hold.reservation,
            created_at=iso(now),
            deadline=deadline,
            remaining=len(plan.items),
            callback_url=callback_url,
            status_url=status_url(job_id) if status_url else None,
        )
        jobs.store.create(job)
        total = len(plan.items)
        if total <= jobs.direct_items:
            jobs.work.send(item_messages(job_id, 0, total))
        else:
            jobs.work.send([{"job": job_id, "expand": [0, total]}])
        hold.hand_over()  # the job's finaliser settles it
    return job

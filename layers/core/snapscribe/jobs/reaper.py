"""The reaper, on the housekeeping schedule: no job stays running forever.

A job whose deadline has passed has its unresolved items failed (each counted once, like any other
resolution), and a worker is asked to finish it. So is a job whose items are all resolved but that nobody
finished (the worker that resolved its last item was stopped before it could).
"""

from __future__ import annotations

from dataclasses import dataclass

from snapscribe.jobs.model import ITEM_FAILED
from snapscribe.jobs.submit import JobServices

OVERDUE_ITEM = {"type": "EngineTimeout", "message": "The item did not finish before the job's deadline"}


@dataclass(frozen=True)
class Reaped:
    overdue_jobs: int
    items_failed: int
    finish_requests: int


def reap(jobs: JobServices, *, now: int, limit: int = 200) -> Reaped:
    overdue = items_failed = finish_requests = 0
    for job in jobs.store.open_jobs(limit):
        if job.deadline < now and job.remaining > 0:
            overdue += 1
            for index in range(job.total):  # resolved items refuse: their condition fails
                items_failed += jobs.store.resolve_item(job.job_id, index, ITEM_FAILED, token=None, error=OVERDUE_ITEM)
            jobs.work.send([{"job": job.job_id, "finalize": True}])
            finish_requests += 1
        elif job.remaining == 0:
            jobs.work.send([{"job": job.job_id, "finalize": True}])
            finish_requests += 1
    return Reaped(overdue, items_failed, finish_requests)

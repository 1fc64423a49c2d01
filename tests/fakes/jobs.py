"""The JobStore protocol in memory (snapscribe.jobs.model), held to the DynamoDB adapter's behaviour by
tests/contracts/test_job_store_contract.py."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

from snapscribe.jobs.model import (
    BUSY,
    CANCELLED,
    CLAIMED,
    FAILED,
    ITEM_CANCELLED,
    ITEM_DONE,
    ITEM_FAILED,
    QUEUED,
    RESOLVED,
    RUNNING,
    SUCCEEDED,
    ItemRecord,
    Job,
    Page,
)


class FakeJobStore:
    """The JobStore protocol in memory, with the DynamoDB adapter's conditions: an item is claimed by one
    worker (taken over only when its lease has run out), resolved once and counted in the same step; a job is
    finished once."""

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.item_records: dict[tuple[str, int], dict[str, Any]] = {}
        self.finalizing: dict[str, int] = {}
        self.lock = threading.Lock()

    def create(self, job: Job) -> None:
        with self.lock:
            if job.job_id in self.jobs:
                raise ValueError(f"job {job.job_id} exists")
            self.jobs[job.job_id] = replace(job, remaining=job.total, webhook_attempts=[])

    def get(self, job_id: str) -> Job | None:
        with self.lock:
            job = self.jobs.get(job_id)
            return replace(job, webhook_attempts=list(job.webhook_attempts)) if job else None

    def list_for(self, owner: str, *, limit: int, cursor: str | None) -> Page:
        mine = sorted((job for job in self.jobs.values() if job.owner == owner), key=lambda job: job.created_at)
        mine.reverse()
        start = int(cursor or 0)
        end = start + limit
        return Page(mine[start:end], str(end) if end < len(mine) else None)

    def mark_running(self, job_id: str, now: str) -> None:
        with self.lock:
            job = self.jobs[job_id]
            if job.status == QUEUED:
                self.jobs[job_id] = replace(job, status=RUNNING, started_at=now)

    def claim_item(self, job_id: str, index: int, *, token: str, lease_until: int, now: int) -> str:
        with self.lock:
            item = self.item_records.get((job_id, index))
            if item is None:
                self.item_records[(job_id, index)] = {
                    "status": RUNNING,
                    "token": token,
                    "lease": lease_until,
                    "attempts": 1,
                }
                return CLAIMED
            if item["status"] != RUNNING:
                return RESOLVED
            if item["lease"] >= now:
                return BUSY
            item.update(token=token, lease=lease_until, attempts=item["attempts"] + 1)
            return CLAIMED

    def resolve_item(
        self,
        job_id: str,
        index: int,
        outcome: str,
        *,
        token: str | None,
        error: dict[str, str] | None,
        output: str | None = None,
        output_key: str | None = None,
    ) -> bool:
        with self.lock:
            item = self.item_records.get((job_id, index))
            if token is not None:
                allowed = item is not None and item["status"] == RUNNING and item["token"] == token
            elif outcome == ITEM_CANCELLED:
                allowed = item is None
            else:
                allowed = item is None or item["status"] == RUNNING
            if not allowed or job_id not in self.jobs:
                return False
            self.item_records[(job_id, index)] = {
                **(item or {}),
                "status": outcome,
                "error": error,
                "output": output,
                "output_key": output_key,
            }
            job = self.jobs[job_id]
            counter = {ITEM_DONE: "done", ITEM_FAILED: "failed", ITEM_CANCELLED: "cancelled"}[outcome]
            self.jobs[job_id] = replace(job, remaining=job.remaining - 1, **{counter: getattr(job, counter) + 1})
            return True

    def items(self, job_id: str) -> dict[int, ItemRecord]:
        with self.lock:
            return {
                index: ItemRecord(item["status"], item.get("error"), item.get("output"), item.get("output_key"))
                for (owner, index), item in self.item_records.items()
                if owner == job_id
            }

    def request_cancel(self, job_id: str, now: str) -> bool:
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None or job.finished_at is not None or job.status in (SUCCEEDED, FAILED):
                return False
            self.jobs[job_id] = replace(job, cancel_requested=True, status=CANCELLED)
            return True

    def claim_finalization(self, job_id: str, *, token: str, now: int, stale_after: int) -> bool:
        with self.lock:
            job = self.jobs[job_id]
            at = self.finalizing.get(job_id)
            if job.remaining != 0 or job.finished_at is not None or (at is not None and at >= now - stale_after):
                return False
            self.finalizing[job_id] = now
            return True

    def finish(
        self,
        job_id: str,
        *,
        status: str,
        result_status: int | None,
        result: str | None,
        result_key: str | None,
        charged: int,
        now: str,
    ) -> None:
        with self.lock:
            job = self.jobs[job_id]
            if job.finished_at is None:
                self.jobs[job_id] = replace(
                    job,
                    status=status,
                    result_status=result_status,
                    result=result,
                    result_key=result_key,
                    charged=charged,
                    finished_at=now,
                )

    def mark_webhook_queued(self, job_id: str) -> bool:
        with self.lock:
            job = self.jobs[job_id]
            if job.webhook_state is not None:
                return False
            self.jobs[job_id] = replace(job, webhook_state="queued")
            return True

    def record_webhook_attempt(self, job_id: str, attempt: dict[str, Any], state: str) -> None:
        with self.lock:
            job = self.jobs[job_id]
            self.jobs[job_id] = replace(job, webhook_attempts=[*job.webhook_attempts, attempt], webhook_state=state)

    def open_jobs(self, limit: int) -> list[Job]:
        with self.lock:
            return sorted((job for job in self.jobs.values() if job.finished_at is None), key=lambda job: job.deadline)[
                :limit
            ]

"""The JobStore protocol in memory (snapscribe.jobs.model), held to the DynamoDB adapter's behaviour by
tests/contracts/test_job_store_contract.py."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from snapscribe.jobs.model import (
    BUSY,
    CANCELLING,
    CLAIMED,
    FAILED,
    ITEM_CANCELLED,
    ITEM_DONE,
    ITEM_FAILED,
    ITEM_RETRY,
    QUEUED,
    RESOLVED,
    RUNNING,
    SUCCEEDED,
    ItemClaim,
    ItemRecord,
    Job,
    Page,
)

COUNTER = {ITEM_DONE: "done", ITEM_FAILED: "failed", ITEM_CANCELLED: "cancelled"}
CURSOR_KEYS = {"pk", "sk", "owner", "createdAt"}  # what the adapter's cursor carries (the ByOwner index's key)


def _copy(job: Job) -> Job:
    """A job as a read returns it: a record of its own, never the stored one."""
    return replace(job, webhook_attempts=[dict(attempt) for attempt in job.webhook_attempts])


def _cursor(job: Job) -> str:
    key = {"pk": {"S": f"JOB#{job.job_id}"}, "sk": {"S": "JOB"}, "owner": {"S": job.owner}}
    key["createdAt"] = {"S": job.created_at}
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def _after(cursor: str, owner: str) -> tuple[str, str]:
    """Where a cursor's page ended, (createdAt, job id); a ValueError for anything that is not a cursor of this
    owner's list, as the adapter's."""
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, RecursionError, TypeError) as error:
        raise ValueError("not a cursor") from error
    if not isinstance(key, dict) or set(key) != CURSOR_KEYS:
        raise ValueError("not a cursor")
    if not all(
        isinstance(value, dict) and set(value) == {"S"} and isinstance(value["S"], str) for value in key.values()
    ):
        raise ValueError("not a cursor")
    if key["owner"]["S"] != owner:
        raise ValueError("not this caller's cursor")
    return key["createdAt"]["S"], key["pk"]["S"].removeprefix("JOB#")


class FakeJobStore:
    """The JobStore protocol in memory, with the DynamoDB adapter's conditions: a job is created once with no
    progress; an item is claimed by one worker (taken over only when its lease has run out), resolved once and
    counted in the same step; a job is finalized by one claimant and finished once. Records keep the expiry the
    adapter writes for the table's TTL (`job_expiry`, an item record's "expires_at")."""

    def __init__(self, *, expire_after_seconds: int = 30 * 86400) -> None:
        self.jobs: dict[str, Job] = {}
        self.item_records: dict[tuple[str, int], dict[str, Any]] = {}
        self.finalizing: dict[str, int] = {}
        self.job_expiry: dict[str, int] = {}
        self.expire_after = expire_after_seconds
        self.lock = threading.Lock()

    def create(self, job: Job) -> None:
        with self.lock:
            if job.job_id in self.jobs:
                raise ValueError(f"job {job.job_id} exists")
            # What the adapter writes: the job's identity, its hold (its owner's), its links; no progress.
            self.jobs[job.job_id] = Job(
                job_id=job.job_id,
                owner=job.owner,
                key_id=job.key_id,
                kind=job.kind,
                route=job.route,
                request_id=job.request_id,
                total=job.total,
                hold=replace(job.hold, user_id=job.owner, request_id=job.request_id),
                created_at=job.created_at,
                deadline=job.deadline,
                status=job.status,
                remaining=job.total,
                callback_url=job.callback_url or None,
                status_url=job.status_url or None,
            )
            self.job_expiry[job.job_id] = job.deadline + self.expire_after

    def get(self, job_id: str) -> Job | None:
        with self.lock:
            job = self.jobs.get(job_id)
            return _copy(job) if job else None

    def list_for(self, owner: str, *, limit: int, cursor: str | None) -> Page:
        with self.lock:
            mine = [job for job in self.jobs.values() if job.owner == owner]
        mine.sort(key=lambda job: (job.created_at, job.job_id), reverse=True)  # the ByOwner index, descending
        if cursor:
            after = _after(cursor, owner)
            mine = [job for job in mine if (job.created_at, job.job_id) < after]
        page = mine[:limit]
        # Like moto, no cursor when nothing follows (DynamoDB itself may give one that leads to an empty page).
        return Page([_copy(job) for job in page], _cursor(page[-1]) if len(mine) > limit else None)

    def mark_running(self, job_id: str, now: str) -> None:
        with self.lock:
            job = self.jobs.get(job_id)
            if job is not None and job.status == QUEUED:
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
                    "expires_at": lease_until + self.expire_after,  # a take-over keeps it
                }
                return CLAIMED
            if item["status"] not in (RUNNING, ITEM_RETRY):
                return RESOLVED
            if item["status"] == RUNNING and item["lease"] >= now:
                return BUSY
            item.update(status=RUNNING, token=token, lease=lease_until, attempts=item["attempts"] + 1)
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
                allowed = item is not None and item["status"] == RUNNING and item.get("token") == token
            elif outcome == ITEM_CANCELLED:
                allowed = item is None or item["status"] == ITEM_RETRY
            else:
                allowed = item is None or item["status"] in (RUNNING, ITEM_RETRY)
            if not allowed:
                return False
            self._resolve(job_id, index, outcome, error, output, output_key)
            return True

    def _resolve(
        self,
        job_id: str,
        index: int,
        outcome: str,
        error: dict[str, str] | None,
        output: str | None = None,
        output_key: str | None = None,
    ) -> None:
        # An item resolved without a claim has no expiry: the adapter writes none (see the contract).
        self.item_records[(job_id, index)] = {
            **self.item_records.get((job_id, index), {}),
            "status": outcome,
            "error": dict(error) if error is not None else None,
            "output": output,
            "output_key": output_key,
        }
        job = self.jobs.get(job_id)
        if job is not None:  # the adapter resolves the item whether or not its job is still there
            counter = COUNTER[outcome]
            self.jobs[job_id] = replace(job, remaining=job.remaining - 1, **{counter: getattr(job, counter) + 1})

    def release_item(self, job_id: str, index: int, *, token: str) -> bool:
        with self.lock:
            item = self.item_records.get((job_id, index))
            if item is None or item["status"] != RUNNING or item.get("token") != token:
                return False
            item["status"] = ITEM_RETRY
            item.pop("token")
            return True

    def item_claim(self, job_id: str, index: int) -> ItemClaim | None:
        with self.lock:
            item = self.item_records.get((job_id, index))
            if item is None:
                return None
            return ItemClaim(item["status"], item.get("attempts", 0), item.get("lease"))

    def resolve_unclaimed(
        self, job_id: str, indexes: Sequence[int], outcome: str, *, error: dict[str, str] | None
    ) -> int:
        resolved = 0
        with self.lock:
            for index in indexes:
                item = self.item_records.get((job_id, index))
                if item is None or item["status"] == ITEM_RETRY:
                    self._resolve(job_id, index, outcome, error)
                    if job_id in self.job_expiry:  # as the adapter: the job's expiry, unless claimed before
                        self.item_records[(job_id, index)].setdefault("expires_at", self.job_expiry[job_id])
                    resolved += 1
        return resolved

    def cancel_requested(self, job_id: str) -> bool:
        with self.lock:
            job = self.jobs.get(job_id)
            return job is not None and job.cancel_requested

    def items(self, job_id: str) -> dict[int, ItemRecord]:
        with self.lock:
            return {
                index: ItemRecord(item["status"], item.get("error"), item.get("output"), item.get("output_key"))
                for (owner, index), item in sorted(self.item_records.items())
                if owner == job_id
            }

    def request_cancel(self, job_id: str, now: str) -> bool:
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None or job.finished_at is not None or job.status in (SUCCEEDED, FAILED):
                return False
            self.jobs[job_id] = replace(job, cancel_requested=True, status=CANCELLING)
            return True

    def claim_finalization(self, job_id: str, *, token: str, now: int, stale_after: int) -> bool:
        with self.lock:
            job = self.jobs.get(job_id)
            at = self.finalizing.get(job_id)
            if job is None or job.remaining != 0 or job.finished_at is not None:
                return False
            if at is not None and at >= now - stale_after:
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
            job = self.jobs.get(job_id)
            # A job that is gone: nothing (the adapter writes a partial record there, see the contract).
            if job is not None and job.finished_at is None:
                self.jobs[job_id] = replace(
                    job,
                    status=status,
                    result_status=result_status,
                    result=result,
                    result_key=result_key,
                    charged=charged,
                    finished_at=now,
                )
                self.finalizing.pop(job_id, None)

    def mark_webhook_queued(self, job_id: str) -> bool:
        with self.lock:
            job = self.jobs.get(job_id)
            # A job that is gone: False (the adapter writes a partial record and says True, see the contract).
            if job is None or job.webhook_state is not None:
                return False
            self.jobs[job_id] = replace(job, webhook_state="queued")
            return True

    def record_webhook_attempt(self, job_id: str, attempt: dict[str, Any], state: str) -> None:
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None:
                return  # attribute_exists(pk): nothing is written
            # The adapter stores an int as a number and anything else as its text.
            stored = {name: value if isinstance(value, int) else str(value) for name, value in attempt.items()}
            self.jobs[job_id] = replace(job, webhook_attempts=[*job.webhook_attempts, stored], webhook_state=state)

    def open_jobs(self, limit: int) -> list[Job]:
        with self.lock:
            unfinished = [job for job in self.jobs.values() if job.finished_at is None]
        unfinished.sort(key=lambda job: (job.deadline, job.job_id))  # the OpenJobs index: by deadline
        return [_copy(job) for job in unfinished[:limit]]

"""Jobs in their own table (JobsTable), and how a job, its items and a page cursor are written there:

    pk=JOB#<job_id>   sk=JOB          the job: owner, kind, counters, the hold, the result or its key
    pk=JOB#<job_id>   sk=ITEM#<n>     an item, written when first claimed: running, then done/failed/cancelled

Indexes: ByOwner (owner, createdAt) lists a user's jobs newest first; OpenJobs (openJob, deadline) is sparse,
holding jobs not finished, for the reaper.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from snapscribe.accounts.models import Reservation
from snapscribe.jobs.model import ItemRecord, Job

OPEN_JOB = "JOBS#open"
BY_OWNER_INDEX = "ByOwner"
OPEN_JOBS_INDEX = "OpenJobs"
ITEM_PREFIX = "ITEM#"


def string(value: str) -> dict[str, str]:
    return {"S": value}


def number(value: int) -> dict[str, str]:
    return {"N": str(value)}


def job_partition(job_id: str) -> dict[str, str]:
    return string(f"JOB#{job_id}")


def job_key(job_id: str) -> dict[str, Any]:
    return {"pk": job_partition(job_id), "sk": string("JOB")}


def item_key(job_id: str, index: int) -> dict[str, Any]:
    return {"pk": job_partition(job_id), "sk": string(f"{ITEM_PREFIX}{index:05d}")}


def job_item(job: Job, *, expires_at: int) -> dict[str, Any]:
    """A new job's record: nothing done yet, open (in OpenJobs) until it finishes."""
    item: dict[str, Any] = {
        **job_key(job.job_id),
        "jobId": string(job.job_id),
        "owner": string(job.owner),
        "keyId": string(job.key_id),
        "kind": string(job.kind),
        "route": string(job.route),
        "requestId": string(job.request_id),
        "total": number(job.total),
        "done": number(0),
        "failed": number(0),
        "cancelled": number(0),
        "remaining": number(job.total),
        "status": string(job.status),
        "createdAt": string(job.created_at),
        "deadline": number(job.deadline),
        "holdLedgerSk": string(job.hold.ledger_sk),
        "holdCost": number(job.hold.cost),
        "holdUntil": number(job.hold.hold_until),
        "openJob": string(OPEN_JOB),
        "expiresAt": number(expires_at),
    }
    if job.callback_url:
        item["callbackUrl"] = string(job.callback_url)
    if job.status_url:
        item["statusUrl"] = string(job.status_url)
    return item


def job_from_item(item: dict[str, Any]) -> Job:
    def optional_text(name: str) -> str | None:
        return item[name]["S"] if name in item else None

    def optional_number(name: str) -> int | None:
        return int(item[name]["N"]) if name in item else None

    owner = item["owner"]["S"]
    return Job(
        job_id=item["jobId"]["S"],
        owner=owner,
        key_id=item["keyId"]["S"],
        kind=item["kind"]["S"],
        route=item["route"]["S"],
        request_id=item["requestId"]["S"],
        total=int(item["total"]["N"]),
        hold=Reservation(
            user_id=owner,
            ledger_sk=item["holdLedgerSk"]["S"],
            cost=int(item["holdCost"]["N"]),
            request_id=item["requestId"]["S"],
            hold_until=int(item["holdUntil"]["N"]),
        ),
        created_at=item["createdAt"]["S"],
        deadline=int(item["deadline"]["N"]),
        status=item["status"]["S"],
        done=int(item["done"]["N"]),
        failed=int(item["failed"]["N"]),
        cancelled=int(item["cancelled"]["N"]),
        remaining=int(item["remaining"]["N"]),
        started_at=optional_text("startedAt"),
        finished_at=optional_text("finishedAt"),
        cancel_requested=item.get("cancelRequested", {}).get("BOOL", False),
        callback_url=optional_text("callbackUrl"),
        status_url=optional_text("statusUrl"),
        result_status=optional_number("resultStatus"),
        result=optional_text("result"),
        result_key=optional_text("resultKey"),
        charged=optional_number("charged"),
        webhook_state=optional_text("webhookState"),
        webhook_attempts=[_attempt(entry) for entry in item.get("webhookAttempts", {}).get("L", [])],
    )


def attempt_value(attempt: dict[str, Any]) -> dict[str, Any]:
    """A webhook attempt as the job's list holds it: numbers as numbers, anything else as its text."""
    return {
        "M": {
            name: (number(value) if isinstance(value, int) else string(str(value))) for name, value in attempt.items()
        }
    }


def _attempt(value: dict[str, Any]) -> dict[str, Any]:
    return {key: (entry["S"] if "S" in entry else int(entry["N"])) for key, entry in value["M"].items()}


def item_index(item: dict[str, Any]) -> int:
    return int(item["sk"]["S"].removeprefix(ITEM_PREFIX))


def item_record(item: dict[str, Any]) -> ItemRecord:
    error = item.get("error", {}).get("M")
    return ItemRecord(
        status=item["status"]["S"],
        error={name: value["S"] for name, value in error.items()} if error else None,
        output=item.get("output", {}).get("S"),
        output_key=item.get("outputKey", {}).get("S"),
    )


# The keys a ByOwner page ends at: the table's (pk, sk) and the index's (owner, createdAt), all strings.
CURSOR_KEYS = {"pk", "sk", "owner", "createdAt"}


def cursor_of(last_key: dict[str, Any]) -> str:
    """The cursor of the page after the one that ended at this key."""
    return base64.urlsafe_b64encode(json.dumps(last_key).encode()).decode()


def start_key(cursor: str, owner: str) -> dict[str, Any]:
    """The page key a cursor of ours carries, for this owner only: anything else (not base64, not JSON, nested
    too deeply, other keys, another owner's) is a ValueError, never a call DynamoDB refuses."""
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
    return key

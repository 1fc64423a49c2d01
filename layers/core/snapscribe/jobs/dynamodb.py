"""Jobs in their own table (JobsTable):

    pk=JOB#<job_id>   sk=JOB          the job: owner, kind, counters, the hold, the result or its key
    pk=JOB#<job_id>   sk=ITEM#<n>     an item, written when first claimed: running, then done/failed/cancelled

Indexes: ByOwner (owner, createdAt) lists a user's jobs newest first; OpenJobs (openJob, deadline) is sparse,
holding jobs not finished, for the reaper.

An item is resolved once (a conditional update of its record), then counted on its job once (an update
conditional on its index not yet being in the job's `counted` set). A worker stopped between the two leaves
its message on the queue; the redelivery finds the item resolved and completes the count. No transaction:
two conditional writes do it, and they stay cheap however many items a job has.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from snapscribe.accounts.models import Reservation
from snapscribe.jobs.model import (
    BUSY,
    CANCELLED,
    CLAIMED,
    ITEM_CANCELLED,
    ITEM_DONE,
    ITEM_FAILED,
    RESOLVED,
    RUNNING,
    ItemRecord,
    Job,
    Page,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

OPEN_JOB = "JOBS#open"
BY_OWNER_INDEX = "ByOwner"
OPEN_JOBS_INDEX = "OpenJobs"
COUNTER = {ITEM_DONE: "done", ITEM_FAILED: "failed", ITEM_CANCELLED: "cancelled"}


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _job_key(job_id: str) -> dict[str, Any]:
    return {"pk": _s(f"JOB#{job_id}"), "sk": _s("JOB")}


def _item_key(job_id: str, index: int) -> dict[str, Any]:
    return {"pk": _s(f"JOB#{job_id}"), "sk": _s(f"ITEM#{index:05d}")}


def _failed_condition(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in {
        "ConditionalCheckFailedException",
        "TransactionCanceledException",
    }


def _attempt(item: dict[str, Any]) -> dict[str, Any]:
    return {key: (value["S"] if "S" in value else int(value["N"])) for key, value in item["M"].items()}


def job_from_item(item: dict[str, Any]) -> Job:
    def text(name: str) -> str | None:
        return item[name]["S"] if name in item else None

    def number(name: str) -> int | None:
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
        started_at=text("startedAt"),
        finished_at=text("finishedAt"),
        cancel_requested=item.get("cancelRequested", {}).get("BOOL", False),
        callback_url=text("callbackUrl"),
        status_url=text("statusUrl"),
        result_status=number("resultStatus"),
        result=text("result"),
        result_key=text("resultKey"),
        charged=number("charged"),
        webhook_state=text("webhookState"),
        webhook_attempts=[_attempt(entry) for entry in item.get("webhookAttempts", {}).get("L", [])],
    )


# The keys a ByOwner page ends at: the table's (pk, sk) and the index's (owner, createdAt), all strings.
CURSOR_KEYS = {"pk", "sk", "owner", "createdAt"}


def _start_key(cursor: str, owner: str) -> dict[str, Any]:
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


class DynamoJobStore:
    def __init__(self, client: DynamoDBClient, table_name: str, *, expire_after_seconds: int) -> None:
        self._client = client
        self._table = table_name
        self._expire_after = expire_after_seconds

    def create(self, job: Job) -> None:
        item: dict[str, Any] = {
            **_job_key(job.job_id),
            "jobId": _s(job.job_id),
            "owner": _s(job.owner),
            "keyId": _s(job.key_id),
            "kind": _s(job.kind),
            "route": _s(job.route),
            "requestId": _s(job.request_id),
            "total": _n(job.total),
            "done": _n(0),
            "failed": _n(0),
            "cancelled": _n(0),
            "remaining": _n(job.total),
            "status": _s(job.status),
            "createdAt": _s(job.created_at),
            "deadline": _n(job.deadline),
            "holdLedgerSk": _s(job.hold.ledger_sk),
            "holdCost": _n(job.hold.cost),
            "holdUntil": _n(job.hold.hold_until),
            "openJob": _s(OPEN_JOB),
            "expiresAt": _n(job.deadline + self._expire_after),
        }
        if job.callback_url:
            item["callbackUrl"] = _s(job.callback_url)
        if job.status_url:
            item["statusUrl"] = _s(job.status_url)
        self._client.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)")

    def get(self, job_id: str) -> Job | None:
        found = self._client.get_item(TableName=self._table, Key=_job_key(job_id), ConsistentRead=True).get("Item")
        return job_from_item(found) if found else None

    def list_for(self, owner: str, *, limit: int, cursor: str | None) -> Page:
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": BY_OWNER_INDEX,
            "KeyConditionExpression": "#owner = :owner",
            "ExpressionAttributeNames": {"#owner": "owner"},
            "ExpressionAttributeValues": {":owner": _s(owner)},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor:
            arguments["ExclusiveStartKey"] = _start_key(cursor, owner)
        response = self._client.query(**arguments)
        last = response.get("LastEvaluatedKey")
        next_cursor = base64.urlsafe_b64encode(json.dumps(last).encode()).decode() if last else None
        return Page([job_from_item(item) for item in response.get("Items", [])], next_cursor)

    def _update(
        self,
        key: dict[str, Any],
        expression: str,
        condition: str,
        values: dict[str, Any],
        names: dict[str, str] | None = None,
    ) -> bool:
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "Key": key,
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        if names:
            arguments["ExpressionAttributeNames"] = names
        try:
            self._client.update_item(**arguments)
        except ClientError as error:
            if _failed_condition(error):
                return False
            raise
        return True

    def mark_running(self, job_id: str, now: str) -> None:
        self._update(
            _job_key(job_id),
            "SET #status = :running, startedAt = :now",
            "#status = :queued",
            {":running": _s(RUNNING), ":queued": _s("queued"), ":now": _s(now)},
            {"#status": "status"},
        )

    def claim_item(self, job_id: str, index: int, *, token: str, lease_until: int, now: int) -> str:
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    **_item_key(job_id, index),
                    "status": _s(RUNNING),
                    "token": _s(token),
                    "leaseUntil": _n(lease_until),
                    "attempts": _n(1),
                    "expiresAt": _n(lease_until + self._expire_after),
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
            return CLAIMED
        except ClientError as error:
            if not _failed_condition(error):
                raise
        # Claimed before: take it over only if that claim's worker is gone (its lease has run out).
        if self._update(
            _item_key(job_id, index),
            "SET #token = :token, leaseUntil = :lease ADD attempts :one",
            "#status = :running AND leaseUntil < :now",
            {":token": _s(token), ":lease": _n(lease_until), ":one": _n(1), ":now": _n(now), ":running": _s(RUNNING)},
            {"#token": "token", "#status": "status"},
        ):
            return CLAIMED
        found = self._client.get_item(TableName=self._table, Key=_item_key(job_id, index), ConsistentRead=True)
        status = found.get("Item", {}).get("status", {}).get("S")
        if status == RUNNING:
            return BUSY
        if status in COUNTER:  # a redelivery: its resolver may have stopped before counting it
            self._count(job_id, index, status)
        return RESOLVED

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
        values: dict[str, Any] = {":outcome": _s(outcome), ":running": _s(RUNNING)}
        names = {"#status": "status"}
        expression = "SET #status = :outcome"
        if error is not None:
            expression += ", #error = :error"
            values[":error"] = {"M": {name: _s(value) for name, value in error.items()}}
            names["#error"] = "error"
        if output is not None:
            expression += ", #output = :output"
            values[":output"] = _s(output)
            names["#output"] = "output"
        if output_key is not None:
            expression += ", outputKey = :output_key"
            values[":output_key"] = _s(output_key)
        if token is not None:  # the worker that claimed it
            condition = "#status = :running AND #token = :token"
            values[":token"] = _s(token)
            names["#token"] = "token"
        elif outcome == ITEM_CANCELLED:  # not started: never claimed
            condition = "attribute_not_exists(pk)"
            values.pop(":running")
        else:  # nobody resolved it: unclaimed, or claimed by a worker that is gone
            condition = "attribute_not_exists(pk) OR #status = :running"
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_item_key(job_id, index),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as failure:
            if not _failed_condition(failure):
                raise
            self.count_item(job_id, index)  # resolved before: make sure it is counted (once)
            return False
        self._count(job_id, index, outcome)
        return True

    def _count(self, job_id: str, index: int, outcome: str) -> None:
        self._update(
            _job_key(job_id),
            f"ADD {COUNTER[outcome]} :one, remaining :minus_one, counted :index_set",
            "attribute_exists(pk) AND NOT contains(counted, :index)",
            {":one": _n(1), ":minus_one": _n(-1), ":index_set": {"NS": [str(index)]}, ":index": _n(index)},
        )

    def count_item(self, job_id: str, index: int) -> None:
        found = self._client.get_item(TableName=self._table, Key=_item_key(job_id, index), ConsistentRead=True)
        status = found.get("Item", {}).get("status", {}).get("S")
        if status in COUNTER:
            self._count(job_id, index, status)

    def items(self, job_id: str) -> dict[int, ItemRecord]:
        found: dict[int, ItemRecord] = {}
        paginator = self._client.get_paginator("query")
        for page in paginator.paginate(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :items)",
            ExpressionAttributeValues={":pk": _s(f"JOB#{job_id}"), ":items": _s("ITEM#")},
        ):
            for item in page.get("Items", []):
                error = item.get("error", {}).get("M")
                found[int(item["sk"]["S"].removeprefix("ITEM#"))] = ItemRecord(
                    status=item["status"]["S"],
                    error={name: value["S"] for name, value in error.items()} if error else None,
                    output=item.get("output", {}).get("S"),
                    output_key=item.get("outputKey", {}).get("S"),
                )
        return found

    def request_cancel(self, job_id: str, now: str) -> bool:
        return self._update(
            _job_key(job_id),
            "SET cancelRequested = :true, #status = :cancelled, updatedAt = :now",
            "attribute_exists(pk) AND attribute_not_exists(finishedAt) AND NOT (#status IN (:succeeded, :failed))",
            {
                ":true": {"BOOL": True},
                ":cancelled": _s(CANCELLED),
                ":now": _s(now),
                ":succeeded": _s("succeeded"),
                ":failed": _s("failed"),
            },
            {"#status": "status"},
        )

    def claim_finalization(self, job_id: str, *, token: str, now: int, stale_after: int) -> bool:
        return self._update(
            _job_key(job_id),
            "SET finalizing = :token, finalizingAt = :now",
            "remaining = :zero AND attribute_not_exists(finishedAt) "
            "AND (attribute_not_exists(finalizingAt) OR finalizingAt < :stale)",
            {":token": _s(token), ":now": _n(now), ":zero": _n(0), ":stale": _n(now - stale_after)},
        )

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
        values: dict[str, Any] = {":status": _s(status), ":charged": _n(charged), ":now": _s(now)}
        expression = "SET #status = :status, charged = :charged, finishedAt = :now"
        if result_status is not None:
            expression += ", resultStatus = :result_status"
            values[":result_status"] = _n(result_status)
        if result is not None:
            expression += ", #result = :result"
            values[":result"] = _s(result)
        if result_key is not None:
            expression += ", resultKey = :result_key"
            values[":result_key"] = _s(result_key)
        names = {"#status": "status", **({"#result": "result"} if result is not None else {})}
        self._update(
            _job_key(job_id),
            expression + " REMOVE openJob, finalizing, finalizingAt",
            "attribute_not_exists(finishedAt)",
            values,
            names,
        )

    def mark_webhook_queued(self, job_id: str) -> bool:
        return self._update(
            _job_key(job_id),
            "SET webhookState = :queued",
            "attribute_not_exists(webhookState)",
            {":queued": _s("queued")},
        )

    def record_webhook_attempt(self, job_id: str, attempt: dict[str, Any], state: str) -> None:
        entry = {
            "M": {name: (_n(value) if isinstance(value, int) else _s(str(value))) for name, value in attempt.items()}
        }
        self._update(
            _job_key(job_id),
            "SET webhookAttempts = list_append(if_not_exists(webhookAttempts, :none), :attempt), webhookState = :state",
            "attribute_exists(pk)",
            {":none": {"L": []}, ":attempt": {"L": [entry]}, ":state": _s(state)},
        )

    def open_jobs(self, limit: int) -> list[Job]:
        response = self._client.query(
            TableName=self._table,
            IndexName=OPEN_JOBS_INDEX,
            KeyConditionExpression="openJob = :open",
            ExpressionAttributeValues={":open": _s(OPEN_JOB)},
            Limit=limit,
        )
        return [job_from_item(item) for item in response.get("Items", [])]

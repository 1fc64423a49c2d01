"""The job store in DynamoDB: a job's own record (the table's layout and how a job is written there: table.py;
its items, claimed, resolved and counted: dynamodb_items.py)."""

from __future__ import annotations

from typing import Any

from snapscribe.jobs.dynamodb_items import DynamoItems
from snapscribe.jobs.model import CANCELLING, RUNNING, Job, Page
from snapscribe.jobs.table import (
    BY_OWNER_INDEX,
    OPEN_JOB,
    OPEN_JOBS_INDEX,
    attempt_value,
    cursor_of,
    job_from_item,
    job_item,
    job_key,
    number,
    start_key,
    string,
)


class DynamoJobStore(DynamoItems):
    def create(self, job: Job) -> None:
        item = job_item(job, expires_at=job.deadline + self._expire_after)
        self._client.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)")

    def get(self, job_id: str) -> Job | None:
        found = self._client.get_item(TableName=self._table, Key=job_key(job_id), ConsistentRead=True).get("Item")
        return job_from_item(found) if found else None

    def list_for(self, owner: str, *, limit: int, cursor: str | None) -> Page:
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": BY_OWNER_INDEX,
            "KeyConditionExpression": "#owner = :owner",
            "ExpressionAttributeNames": {"#owner": "owner"},
            "ExpressionAttributeValues": {":owner": string(owner)},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor:
            arguments["ExclusiveStartKey"] = start_key(cursor, owner)
        response = self._client.query(**arguments)
        last = response.get("LastEvaluatedKey")
        return Page([job_from_item(item) for item in response.get("Items", [])], cursor_of(last) if last else None)

    def mark_running(self, job_id: str, now: str) -> None:
        self._update(
            job_key(job_id),
            "SET #status = :running, startedAt = :now",
            "#status = :queued",
            {":running": string(RUNNING), ":queued": string("queued"), ":now": string(now)},
            {"#status": "status"},
        )

    def cancel_requested(self, job_id: str) -> bool:
        found = self._client.get_item(
            TableName=self._table, Key=job_key(job_id), ConsistentRead=True, ProjectionExpression="cancelRequested"
        ).get("Item", {})
        return bool(found.get("cancelRequested", {}).get("BOOL", False))

    def request_cancel(self, job_id: str, now: str) -> bool:
        return self._update(
            job_key(job_id),
            "SET cancelRequested = :true, #status = :cancelling, updatedAt = :now",
            "attribute_exists(pk) AND attribute_not_exists(finishedAt) AND NOT (#status IN (:succeeded, :failed))",
            {
                ":true": {"BOOL": True},
                ":cancelling": string(CANCELLING),
                ":now": string(now),
                ":succeeded": string("succeeded"),
                ":failed": string("failed"),
            },
            {"#status": "status"},
        )

    def claim_finalization(self, job_id: str, *, token: str, now: int, stale_after: int) -> bool:
        return self._update(
            job_key(job_id),
            "SET finalizing = :token, finalizingAt = :now",
            "remaining = :zero AND attribute_not_exists(finishedAt) "
            "AND (attribute_not_exists(finalizingAt) OR finalizingAt < :stale)",
            {":token": string(token), ":now": number(now), ":zero": number(0), ":stale": number(now - stale_after)},
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
        values: dict[str, Any] = {":status": string(status), ":charged": number(charged), ":now": string(now)}
        expression = "SET #status = :status, charged = :charged, finishedAt = :now"
        if result_status is not None:
            expression += ", resultStatus = :result_status"
            values[":result_status"] = number(result_status)
        if result is not None:
            expression += ", #result = :result"
            values[":result"] = string(result)
        if result_key is not None:
            expression += ", resultKey = :result_key"
            values[":result_key"] = string(result_key)
        names = {"#status": "status", **({"#result": "result"} if result is not None else {})}
        self._update(
            job_key(job_id),
            expression + " REMOVE openJob, finalizing, finalizingAt",
            "attribute_exists(pk) AND attribute_not_exists(finishedAt)",  # a job gone (by TTL) stays gone
            values,
            names,
        )

    def mark_webhook_queued(self, job_id: str) -> bool:
        return self._update(
            job_key(job_id),
            "SET webhookState = :queued",
            "attribute_exists(pk) AND attribute_not_exists(webhookState)",
            {":queued": string("queued")},
        )

    def record_webhook_attempt(self, job_id: str, attempt: dict[str, Any], state: str) -> None:
        self._update(
            job_key(job_id),
            "SET webhookAttempts = list_append(if_not_exists(webhookAttempts, :none), :attempt), webhookState = :state",
            "attribute_exists(pk)",
            {":none": {"L": []}, ":attempt": {"L": [attempt_value(attempt)]}, ":state": string(state)},
        )

    def open_jobs(self, limit: int) -> list[Job]:
        response = self._client.query(
            TableName=self._table,
            IndexName=OPEN_JOBS_INDEX,
            KeyConditionExpression="openJob = :open",
            ExpressionAttributeValues={":open": string(OPEN_JOB)},
            Limit=limit,
        )
        return [job_from_item(item) for item in response.get("Items", [])]

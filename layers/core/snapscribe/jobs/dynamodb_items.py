"""A job's items in DynamoDB: claimed, given back, resolved and counted on their job (the store's item half; the
job's own record: dynamodb.py).

An item is resolved once (a conditional update of its record), then counted on its job once (an update
conditional on its index not yet being in the job's `counted` set). A worker stopped between the two leaves
its message on the queue; the redelivery finds the item resolved and completes the count. No transaction:
two conditional writes do it, and they stay cheap however many items a job has. Items resolved in bulk (a
cancel, a failed expansion) are written in parallel and counted fifty to an update.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from snapscribe.jobs.model import (
    BUSY,
    CLAIMED,
    ITEM_CANCELLED,
    ITEM_DONE,
    ITEM_FAILED,
    ITEM_RETRY,
    RESOLVED,
    RUNNING,
    ItemClaim,
    ItemRecord,
)
from snapscribe.jobs.table import (
    ITEM_PREFIX,
    item_index,
    item_key,
    item_record,
    job_key,
    job_partition,
    number,
    string,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# The job's counter of each outcome an item is resolved with.
COUNTER = {ITEM_DONE: "done", ITEM_FAILED: "failed", ITEM_CANCELLED: "cancelled"}
COUNT_CHUNK = 50  # items counted by one update in bulk (its condition names each: 4 KB of expression at most)
BULK_WRITERS = 8  # items resolved at once in bulk


def failed_condition(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in {
        "ConditionalCheckFailedException",
        "TransactionCanceledException",
    }


class DynamoItems:
    def __init__(self, client: DynamoDBClient, table_name: str, *, expire_after_seconds: int) -> None:
        self._client = client
        self._table = table_name
        self._expire_after = expire_after_seconds

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
            if failed_condition(error):
                return False
            raise
        return True

    def claim_item(self, job_id: str, index: int, *, token: str, lease_until: int, now: int) -> str:
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    **item_key(job_id, index),
                    "status": string(RUNNING),
                    "token": string(token),
                    "leaseUntil": number(lease_until),
                    "attempts": number(1),
                    "expiresAt": number(lease_until + self._expire_after),
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
            return CLAIMED
        except ClientError as error:
            if not failed_condition(error):
                raise
        # Claimed before: take it over if it was given back, or if that claim's worker is gone (its lease ran out).
        if self._update(
            item_key(job_id, index),
            "SET #status = :running, #token = :token, leaseUntil = :lease ADD attempts :one",
            "#status = :retry OR (#status = :running AND leaseUntil < :now)",
            {
                ":token": string(token),
                ":lease": number(lease_until),
                ":one": number(1),
                ":now": number(now),
                ":running": string(RUNNING),
                ":retry": string(ITEM_RETRY),
            },
            {"#token": "token", "#status": "status"},
        ):
            return CLAIMED
        # A redelivery of a resolved item: its resolver may have stopped before counting it.
        return RESOLVED if self._count_if_resolved(job_id, index) in COUNTER else BUSY

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
        values: dict[str, Any] = {
            ":outcome": string(outcome),
            ":running": string(RUNNING),
            ":retry": string(ITEM_RETRY),
        }
        names = {"#status": "status"}
        expression = "SET #status = :outcome"
        if error is not None:
            expression += ", #error = :error"
            values[":error"] = {"M": {name: string(value) for name, value in error.items()}}
            names["#error"] = "error"
        if output is not None:
            expression += ", #output = :output"
            values[":output"] = string(output)
            names["#output"] = "output"
        if output_key is not None:
            expression += ", outputKey = :output_key"
            values[":output_key"] = string(output_key)
        if token is not None:  # the worker that claimed it
            condition = "#status = :running AND #token = :token"
            values[":token"] = string(token)
            names["#token"] = "token"
            values.pop(":retry")
        elif outcome == ITEM_CANCELLED:  # not started: never claimed, or given back
            condition = "attribute_not_exists(pk) OR #status = :retry"
            values.pop(":running")
        else:  # nobody resolved it: unclaimed, given back, or claimed by a worker that is gone
            condition = "attribute_not_exists(pk) OR #status IN (:running, :retry)"
        try:
            self._client.update_item(
                TableName=self._table,
                Key=item_key(job_id, index),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as failure:
            if not failed_condition(failure):
                raise
            self._count_if_resolved(job_id, index)  # resolved before: make sure it is counted (once)
            return False
        self._count(job_id, index, outcome)
        return True

    def _count(self, job_id: str, index: int, outcome: str) -> None:
        self._update(
            job_key(job_id),
            f"ADD {COUNTER[outcome]} :one, remaining :minus_one, counted :index_set",
            "attribute_exists(pk) AND NOT contains(counted, :index)",
            {":one": number(1), ":minus_one": number(-1), ":index_set": {"NS": [str(index)]}, ":index": number(index)},
        )

    def _count_many(self, job_id: str, indexes: list[int], outcome: str) -> None:
        """Count these resolved items on the job in one update if none is counted yet; else one by one (each once)."""
        values: dict[str, Any] = {
            ":n": number(len(indexes)),
            ":minus_n": number(-len(indexes)),
            ":index_set": {"NS": [str(index) for index in indexes]},
        }
        values.update({f":i{position}": number(index) for position, index in enumerate(indexes)})
        condition = " AND ".join(
            ["attribute_exists(pk)", *(f"NOT contains(counted, :i{position})" for position in range(len(indexes)))]
        )
        expression = f"ADD {COUNTER[outcome]} :n, remaining :minus_n, counted :index_set"
        if not self._update(job_key(job_id), expression, condition, values):
            for index in indexes:  # someone counted one of them (a redelivery that found it resolved)
                self._count(job_id, index, outcome)

    def _count_if_resolved(self, job_id: str, index: int) -> str | None:
        """The item's status as it stands; a resolved one is counted on its job (once, whoever counted it)."""
        found = self._client.get_item(TableName=self._table, Key=item_key(job_id, index), ConsistentRead=True)
        status = found.get("Item", {}).get("status", {}).get("S")
        if status in COUNTER:
            self._count(job_id, index, status)
        return status

    def release_item(self, job_id: str, index: int, *, token: str) -> bool:
        return self._update(
            item_key(job_id, index),
            "SET #status = :retry REMOVE #token",
            "#status = :running AND #token = :token",
            {":retry": string(ITEM_RETRY), ":running": string(RUNNING), ":token": string(token)},
            {"#status": "status", "#token": "token"},
        )

    def item_claim(self, job_id: str, index: int) -> ItemClaim | None:
        found = self._client.get_item(
            TableName=self._table,
            Key=item_key(job_id, index),
            ConsistentRead=True,
            ProjectionExpression="#status, attempts, leaseUntil",
            ExpressionAttributeNames={"#status": "status"},
        ).get("Item")
        if not found:
            return None
        lease = found.get("leaseUntil")
        return ItemClaim(
            found["status"]["S"], int(found.get("attempts", {}).get("N", 0)), int(lease["N"]) if lease else None
        )

    def resolve_unclaimed(
        self, job_id: str, indexes: Sequence[int], outcome: str, *, error: dict[str, str] | None
    ) -> int:
        names = {"#status": "status"}
        values: dict[str, Any] = {":outcome": string(outcome), ":retry": string(ITEM_RETRY)}
        expression = "SET #status = :outcome"
        job = self._client.get_item(
            TableName=self._table, Key=job_key(job_id), ConsistentRead=True, ProjectionExpression="expiresAt"
        ).get("Item", {})
        if "expiresAt" in job:  # the records go when their job goes (a given-back claim keeps its own expiry)
            expression += ", expiresAt = if_not_exists(expiresAt, :expires)"
            values[":expires"] = job["expiresAt"]
        if error is not None:
            expression += ", #error = :error"
            values[":error"] = {"M": {name: string(value) for name, value in error.items()}}
            names["#error"] = "error"

        def resolve(index: int) -> bool:
            return self._update(
                item_key(job_id, index), expression, "attribute_not_exists(pk) OR #status = :retry", values, names
            )

        with ThreadPoolExecutor(max_workers=BULK_WRITERS, thread_name_prefix="resolve") as pool:
            resolved = [index for index, done in zip(indexes, pool.map(resolve, indexes), strict=True) if done]
        for start in range(0, len(resolved), COUNT_CHUNK):
            self._count_many(job_id, resolved[start : start + COUNT_CHUNK], outcome)
        return len(resolved)

    def items(self, job_id: str) -> dict[int, ItemRecord]:
        found: dict[int, ItemRecord] = {}
        paginator = self._client.get_paginator("query")
        for page in paginator.paginate(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :items)",
            ExpressionAttributeValues={":pk": job_partition(job_id), ":items": string(ITEM_PREFIX)},
        ):
            for item in page.get("Items", []):
                found[item_index(item)] = item_record(item)
        return found

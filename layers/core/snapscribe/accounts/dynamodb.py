"""The accounts table in DynamoDB: one table, items told apart by their keys.

    pk=KEY#<sha256>      sk=KEY                 an API key (hash only)
    pk=USER#<user_id>    sk=ACCOUNT             the credit balance
    pk=USER#<user_id>    sk=LEDGER#<ts>#<req>   one row per charged request; while its hold is open it
                                                carries openHold/holdUntil (the sparse OpenHolds index)
    pk=RATE#<key_id>     sk=<window start>      a fixed one-minute rate window (expires by TTL)
    pk=KEYID#<key_id>    sk=WEBHOOK             the key's webhook signing secret (it signs, so it is kept)
    pk=UPLOADS#<user_id> sk=<uuid>              an upload record (snapscribe.storage.dynamodb)

Each kind has its own partition prefix, so IAM can confine a function to the kinds it uses
(`dynamodb:LeadingKeys` in template.yaml).

Every change to a balance or a rate window is a conditional write, so parallel requests can never
over-admit or overspend.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from snapscribe.accounts.models import ApiKeyRecord, LedgerEntry, Reservation

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


# Open holds are indexed under one partition value (sparse: settling removes the attribute).
OPEN_HOLDS_INDEX = "OpenHolds"
OPEN_HOLD = "HOLDS#open"

logger = logging.getLogger(__name__)


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _is_conditional_failure(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


# A transaction DynamoDB cancelled for a reason other than a condition (another transaction on the same item,
# throttling) is tried again this many times, a little later each time, before it is an error.
TRANSACTION_TRIES = 5


def _token(*parts: str) -> str:
    """A ClientRequestToken (at most 36 characters) that is the same for every try of one operation."""
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:36]


class TransactionFailed(Exception):
    """A transaction that kept being cancelled for reasons other than its conditions."""


def _transact(client: Any, items: list[dict[str, Any]], token: str) -> list[str]:
    """Run a transaction; [] when it committed, else the cancellation code of each item ("None" for an item
    that was fine, "ConditionalCheckFailed" for a failed condition). Cancellations with no failed condition
    (a conflict with another transaction on the same item, throttling) are retried, never taken for a failed
    condition: a hold refused as 'insufficient' or a settlement taken as 'already done' would be wrong.
    `token` (ClientRequestToken) makes DynamoDB answer a repeat of a committed transaction with success, as
    when the SDK sends it again because the first answer was lost."""
    for attempt in range(TRANSACTION_TRIES):
        try:
            client.transact_write_items(TransactItems=items, ClientRequestToken=token)
            return []
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            codes = [str(reason.get("Code", "None")) for reason in error.response.get("CancellationReasons", [])]
            if "ConditionalCheckFailed" in codes:
                return codes
            logger.warning("transaction cancelled (%s); trying again", ",".join(codes) or "no reason given")
            time.sleep(0.05 * 2**attempt * (1 + random.random()))  # noqa: S311 - jitter, not a secret
    raise TransactionFailed(f"a transaction was cancelled {TRANSACTION_TRIES} times")


class DynamoAccountStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    # --- keys -----------------------------------------------------------------------------------
    @staticmethod
    def _key_from_item(item: dict[str, Any]) -> ApiKeyRecord:
        return ApiKeyRecord(
            key_hash=item["pk"]["S"].removeprefix("KEY#"),
            key_id=item["keyId"]["S"],
            user_id=item["userId"]["S"],
            rate_limit=int(item["rateLimit"]["N"]),
            created_at=item["createdAt"]["S"],
            revoked=item.get("revoked", {}).get("BOOL", False),
            label=item.get("label", {}).get("S", ""),
        )

    def get_key(self, key_hash: str) -> ApiKeyRecord | None:
        item = self._client.get_item(
            TableName=self._table, Key={"pk": _s(f"KEY#{key_hash}"), "sk": _s("KEY")}, ConsistentRead=True
        ).get("Item")
        return self._key_from_item(item) if item else None

    def put_key(self, record: ApiKeyRecord, initial_credits: int, webhook_secret: str) -> None:
        self._client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": {
                            "pk": _s(f"KEYID#{record.key_id}"),
                            "sk": _s("WEBHOOK"),
                            "secret": _s(webhook_secret),
                        },
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": {
                            "pk": _s(f"KEY#{record.key_hash}"),
                            "sk": _s("KEY"),
                            "keyId": _s(record.key_id),
                            "userId": _s(record.user_id),
                            "rateLimit": _n(record.rate_limit),
                            "createdAt": _s(record.created_at),
                            "revoked": {"BOOL": record.revoked},
                            "label": _s(record.label),
                        },
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": {"pk": _s(f"USER#{record.user_id}"), "sk": _s("ACCOUNT")},
                        "UpdateExpression": "SET balance = if_not_exists(balance, :zero) + :credits",
                        "ExpressionAttributeValues": {":zero": _n(0), ":credits": _n(initial_credits)},
                    }
                },
            ]
        )

    def webhook_secret(self, key_id: str) -> str | None:
        item = self._client.get_item(
            TableName=self._table, Key={"pk": _s(f"KEYID#{key_id}"), "sk": _s("WEBHOOK")}, ConsistentRead=True
        ).get("Item")
        return item["secret"]["S"] if item else None

    def set_webhook_secret(self, key_id: str, secret: str) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"pk": _s(f"KEYID#{key_id}"), "sk": _s("WEBHOOK")},
                UpdateExpression="SET secret = :secret",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":secret": _s(secret)},
            )
        except ClientError as error:
            if _is_conditional_failure(error):
                return False
            raise
        return True

    def list_keys(self) -> list[ApiKeyRecord]:
        records: list[ApiKeyRecord] = []
        paginator = self._client.get_paginator("scan")
        for page in paginator.paginate(
            TableName=self._table,
            FilterExpression="begins_with(pk, :prefix)",
            ExpressionAttributeValues={":prefix": _s("KEY#")},
        ):
            records.extend(self._key_from_item(item) for item in page.get("Items", []))
        return sorted(records, key=lambda record: record.created_at)

    def revoke_key(self, key_id: str) -> bool:
        for record in self.list_keys():
            if record.key_id == key_id:
                self._client.update_item(
                    TableName=self._table,
                    Key={"pk": _s(f"KEY#{record.key_hash}"), "sk": _s("KEY")},
                    UpdateExpression="SET revoked = :true",
                    ExpressionAttributeValues={":true": {"BOOL": True}},
                )
                return True
        return False

    # --- balances -------------------------------------------------------------------------------
    def add_credits(self, user_id: str, credits: int) -> int:
        response = self._client.update_item(
            TableName=self._table,
            Key={"pk": _s(f"USER#{user_id}"), "sk": _s("ACCOUNT")},
            UpdateExpression="SET balance = if_not_exists(balance, :zero) + :credits",
            ExpressionAttributeValues={":zero": _n(0), ":credits": _n(credits)},
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["balance"]["N"])

    def get_balance(self, user_id: str) -> int:
        item = self._client.get_item(
            TableName=self._table, Key={"pk": _s(f"USER#{user_id}"), "sk": _s("ACCOUNT")}, ConsistentRead=True
        ).get("Item")
        return int(item["balance"]["N"]) if item else 0

    def reserve(
        self,
        user_id: str,
        cost: int,
        request_id: str,
        route: str,
        key_id: str,
        created_at: str,
        hold_until: int,
        job_id: str | None = None,
        source: str | None = None,
    ) -> Reservation | None:
        ledger_sk = f"LEDGER#{created_at}#{request_id}"
        row: dict[str, Any] = {
            "pk": _s(f"USER#{user_id}"),
            "sk": _s(ledger_sk),
            "requestId": _s(request_id),
            "route": _s(route),
            "keyId": _s(key_id),
            "cost": _n(cost),
            "refund": _n(0),
            "status": _s("reserved"),
            "createdAt": _s(created_at),
            "openHold": _s(OPEN_HOLD),
            "holdUntil": _n(hold_until),
        }
        if job_id is not None:
            row["jobId"] = _s(job_id)
        if source:
            row["source"] = _s(source)
        codes = _transact(
            self._client,
            token=_token("hold", ledger_sk),
            items=[
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": {"pk": _s(f"USER#{user_id}"), "sk": _s("ACCOUNT")},
                        "UpdateExpression": "SET balance = balance - :cost",
                        "ConditionExpression": "balance >= :cost",
                        "ExpressionAttributeValues": {":cost": _n(cost)},
                    }
                },
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": row,
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ],
        )
        if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
            # The ledger row, unique to this request and this moment, exists: an earlier try of this very call
            # committed (its answer was lost to a timeout and the SDK sent it again), balance and row together.
            logger.info("hold %s was made by an earlier try of the same call", ledger_sk)
        elif codes:
            return None  # the balance is short
        return Reservation(
            user_id=user_id, ledger_sk=ledger_sk, cost=cost, request_id=request_id, hold_until=hold_until
        )

    def settle(self, reservation: Reservation, refund: int, status: str) -> None:
        ledger_update: dict[str, Any] = {
            "TableName": self._table,
            "Key": {"pk": _s(f"USER#{reservation.user_id}"), "sk": _s(reservation.ledger_sk)},
            "UpdateExpression": "SET refund = :refund, #status = :status REMOVE openHold",
            # Settling twice would refund twice: only a row still `reserved` can be settled.
            "ConditionExpression": "#status = :reserved",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {
                ":refund": _n(refund),
                ":status": _s(status),
                ":reserved": _s("reserved"),
            },
        }
        items: list[dict[str, Any]] = [{"Update": ledger_update}]
        if refund:
            items.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": {"pk": _s(f"USER#{reservation.user_id}"), "sk": _s("ACCOUNT")},
                        "UpdateExpression": "SET balance = balance + :refund",
                        "ExpressionAttributeValues": {":refund": _n(refund)},
                    }
                }
            )
        # A failed condition: already settled (a retry of the same settlement), nothing more to give back.
        _transact(self._client, items, token=_token("settle", reservation.ledger_sk, str(refund), status))

    @staticmethod
    def _ledger_entry(user_id: str, item: dict[str, Any]) -> LedgerEntry:
        return LedgerEntry(
            user_id=user_id,
            request_id=item["requestId"]["S"],
            route=item["route"]["S"],
            key_id=item["keyId"]["S"],
            cost=int(item["cost"]["N"]),
            refund=int(item["refund"]["N"]),
            status=item["status"]["S"],
            created_at=item["createdAt"]["S"],
            job_id=item.get("jobId", {}).get("S"),
            source=item.get("source", {}).get("S"),
        )

    def _ledger_query(self, user_id: str) -> dict[str, Any]:
        return {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :ledger)",
            "ExpressionAttributeValues": {":pk": _s(f"USER#{user_id}"), ":ledger": _s("LEDGER#")},
        }

    def ledger(self, user_id: str) -> list[LedgerEntry]:
        entries: list[LedgerEntry] = []
        paginator = self._client.get_paginator("query")
        for page in paginator.paginate(**self._ledger_query(user_id)):
            entries.extend(self._ledger_entry(user_id, item) for item in page.get("Items", []))
        return entries

    def recent_ledger(self, user_id: str, limit: int) -> list[LedgerEntry]:
        response = self._client.query(**self._ledger_query(user_id), ScanIndexForward=False, Limit=limit)
        return [self._ledger_entry(user_id, item) for item in response.get("Items", [])]

    def overdue_holds(self, now: int, limit: int) -> list[Reservation]:
        response = self._client.query(
            TableName=self._table,
            IndexName=OPEN_HOLDS_INDEX,
            KeyConditionExpression="openHold = :open AND holdUntil < :now",
            ExpressionAttributeValues={":open": _s(OPEN_HOLD), ":now": _n(now)},
            Limit=limit,
        )
        return [
            Reservation(
                user_id=item["pk"]["S"].removeprefix("USER#"),
                ledger_sk=item["sk"]["S"],
                cost=int(item["cost"]["N"]),
                request_id=item["requestId"]["S"],
                hold_until=int(item["holdUntil"]["N"]),
            )
            for item in response.get("Items", [])
        ]

    # --- rate windows ---------------------------------------------------------------------------
    def hit_rate_window(self, key_id: str, window_start: int, limit: int, expires_at: int) -> int | None:
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key={"pk": _s(f"RATE#{key_id}"), "sk": _s(str(window_start))},
                UpdateExpression="ADD hits :one SET expiresAt = :expires",
                ConditionExpression="attribute_not_exists(hits) OR hits < :limit",
                ExpressionAttributeValues={":one": _n(1), ":limit": _n(limit), ":expires": _n(expires_at)},
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as error:
            if _is_conditional_failure(error):
                return None
            raise
        return int(response["Attributes"]["hits"]["N"])

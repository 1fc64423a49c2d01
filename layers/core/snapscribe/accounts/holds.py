"""The ledger and its holds in the accounts table: a request's credits are held (taken off the balance with a
ledger row, in one transaction), then settled (what was not used given back, the row closed, once); the rows
read back as the usage ledger, and holds left open past their time are found for the reaper."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

from snapscribe.accounts.models import LedgerEntry, Reservation
from snapscribe.accounts.table import OPEN_HOLD, OPEN_HOLDS_INDEX, account_key, ledger_key, number, string
from snapscribe.accounts.transactions import request_token, transact

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = logging.getLogger(__name__)


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


class HoldLedger:
    """The account store's holds and ledger (DynamoAccountStore is one): its client and table are the store's."""

    _client: DynamoDBClient
    _table: str

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
            **ledger_key(user_id, ledger_sk),
            "requestId": string(request_id),
            "route": string(route),
            "keyId": string(key_id),
            "cost": number(cost),
            "refund": number(0),
            "status": string("reserved"),
            "createdAt": string(created_at),
            "openHold": string(OPEN_HOLD),
            "holdUntil": number(hold_until),
        }
        if job_id is not None:
            row["jobId"] = string(job_id)
        if source:
            row["source"] = string(source)
        codes = transact(
            self._client,
            token=request_token("hold", ledger_sk),
            items=[
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": account_key(user_id),
                        "UpdateExpression": "SET balance = balance - :cost",
                        "ConditionExpression": "balance >= :cost",
                        "ExpressionAttributeValues": {":cost": number(cost)},
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

    def settle(self, reservation: Reservation, refund: int, status: str) -> bool:
        ledger_update: dict[str, Any] = {
            "TableName": self._table,
            "Key": ledger_key(reservation.user_id, reservation.ledger_sk),
            "UpdateExpression": "SET refund = :refund, #status = :status REMOVE openHold",
            # Settling twice would refund twice: only a row still `reserved` can be settled.
            "ConditionExpression": "#status = :reserved",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {
                ":refund": number(refund),
                ":status": string(status),
                ":reserved": string("reserved"),
            },
        }
        items: list[dict[str, Any]] = [{"Update": ledger_update}]
        if refund:
            items.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": account_key(reservation.user_id),
                        "UpdateExpression": "SET balance = balance + :refund",
                        "ExpressionAttributeValues": {":refund": number(refund)},
                    }
                }
            )
        # A failed condition: already settled (a retry of the same settlement), nothing more to give back. The token
        # is this call's own (its tries share it): DynamoDB answers a token it has seen with success for ten minutes,
        # so one shared by every settlement of the row would tell a second settler, too, that it settled it.
        token = request_token("settle", reservation.ledger_sk, uuid.uuid4().hex)
        return not transact(self._client, items, token=token)

    def _ledger_query(self, user_id: str) -> dict[str, Any]:
        return {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :ledger)",
            "ExpressionAttributeValues": {":pk": string(f"USER#{user_id}"), ":ledger": string("LEDGER#")},
        }

    def ledger(self, user_id: str) -> list[LedgerEntry]:
        entries: list[LedgerEntry] = []
        paginator = self._client.get_paginator("query")
        for page in paginator.paginate(**self._ledger_query(user_id)):
            entries.extend(_ledger_entry(user_id, item) for item in page.get("Items", []))
        return entries

    def recent_ledger(self, user_id: str, limit: int) -> list[LedgerEntry]:
        response = self._client.query(**self._ledger_query(user_id), ScanIndexForward=False, Limit=limit)
        return [_ledger_entry(user_id, item) for item in response.get("Items", [])]

    def overdue_holds(self, now: int, limit: int) -> list[Reservation]:
        response = self._client.query(
            TableName=self._table,
            IndexName=OPEN_HOLDS_INDEX,
            KeyConditionExpression="openHold = :open AND holdUntil < :now",
            ExpressionAttributeValues={":open": string(OPEN_HOLD), ":now": number(now)},
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

"""The account store in DynamoDB (the table's layout: table.py): API keys and their webhook secrets, credit
balances and rate windows here; holds and the ledger in holds.py, which this store is built on.

Every change to a balance or a rate window is a conditional write, so parallel requests can never
over-admit or overspend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from snapscribe.accounts.holds import HoldLedger
from snapscribe.accounts.models import ApiKeyRecord
from snapscribe.accounts.table import account_key, api_key_key, number, rate_window_key, string, webhook_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def _is_conditional_failure(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


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


class DynamoAccountStore(HoldLedger):
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    # --- keys -----------------------------------------------------------------------------------
    def get_key(self, key_hash: str) -> ApiKeyRecord | None:
        item = self._client.get_item(TableName=self._table, Key=api_key_key(key_hash), ConsistentRead=True).get("Item")
        return _key_from_item(item) if item else None

    def put_key(self, record: ApiKeyRecord, initial_credits: int, webhook_secret: str) -> None:
        self._client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": {**webhook_key(record.key_id), "secret": string(webhook_secret)},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": {
                            **api_key_key(record.key_hash),
                            "keyId": string(record.key_id),
                            "userId": string(record.user_id),
                            "rateLimit": number(record.rate_limit),
                            "createdAt": string(record.created_at),
                            "revoked": {"BOOL": record.revoked},
                            "label": string(record.label),
                        },
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": account_key(record.user_id),
                        "UpdateExpression": "SET balance = if_not_exists(balance, :zero) + :credits",
                        "ExpressionAttributeValues": {":zero": number(0), ":credits": number(initial_credits)},
                    }
                },
            ]
        )

    def webhook_secret(self, key_id: str) -> str | None:
        item = self._client.get_item(TableName=self._table, Key=webhook_key(key_id), ConsistentRead=True).get("Item")
        return item["secret"]["S"] if item else None

    def set_webhook_secret(self, key_id: str, secret: str) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=webhook_key(key_id),
                UpdateExpression="SET secret = :secret",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":secret": string(secret)},
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
            ExpressionAttributeValues={":prefix": string("KEY#")},
        ):
            records.extend(_key_from_item(item) for item in page.get("Items", []))
        return sorted(records, key=lambda record: record.created_at)

    def revoke_key(self, key_id: str) -> bool:
        for record in self.list_keys():
            if record.key_id == key_id:
                self._client.update_item(
                    TableName=self._table,
                    Key=api_key_key(record.key_hash),
                    UpdateExpression="SET revoked = :true",
                    ExpressionAttributeValues={":true": {"BOOL": True}},
                )
                return True
        return False

    # --- balances (holds take from them and give back: holds.py) -----------------------------------
    def add_credits(self, user_id: str, credits: int) -> int:
        response = self._client.update_item(
            TableName=self._table,
            Key=account_key(user_id),
            UpdateExpression="SET balance = if_not_exists(balance, :zero) + :credits",
            ExpressionAttributeValues={":zero": number(0), ":credits": number(credits)},
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["balance"]["N"])

    def get_balance(self, user_id: str) -> int:
        item = self._client.get_item(TableName=self._table, Key=account_key(user_id), ConsistentRead=True).get("Item")
        return int(item["balance"]["N"]) if item else 0

    # --- rate windows ---------------------------------------------------------------------------
    def hit_rate_window(self, key_id: str, window_start: int, limit: int, expires_at: int) -> int | None:
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=rate_window_key(key_id, window_start),
                UpdateExpression="ADD hits :one SET expiresAt = :expires",
                ConditionExpression="attribute_not_exists(hits) OR hits < :limit",
                ExpressionAttributeValues={":one": number(1), ":limit": number(limit), ":expires": number(expires_at)},
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as error:
            if _is_conditional_failure(error):
                return None
            raise
        return int(response["Attributes"]["hits"]["N"])

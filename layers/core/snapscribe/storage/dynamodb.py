"""Upload records in the accounts table: pk=UPLOADS#<user_id>, sk=<uuid>, expiring by TTL.

Their own partition prefix lets IAM confine a function to upload records (`dynamodb:LeadingKeys`
UPLOADS#*): the S3 trigger, which parses untrusted files, can never touch keys or balances."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from snapscribe.storage.uploads import PENDING, READY, REJECTED, UploadRecord

UPLOADS_PREFIX = "UPLOADS#"

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def _key(user_id: str, upload_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"{UPLOADS_PREFIX}{user_id}"}, "sk": {"S": upload_id}}


class DynamoUploadStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def create(self, record: UploadRecord) -> None:
        self._client.put_item(
            TableName=self._table,
            Item={
                **_key(record.user_id, record.upload_id),
                "objectKey": {"S": record.key},
                "filename": {"S": record.filename},
                "contentType": {"S": record.content_type},
                "maxBytes": {"N": str(record.max_bytes)},
                "createdAt": {"S": record.created_at},
                "expiresAt": {"N": str(record.expires_at)},
                "uploadStatus": {"S": record.status},
            },
            ConditionExpression="attribute_not_exists(pk)",
        )

    def get(self, user_id: str, upload_id: str) -> UploadRecord | None:
        item = self._client.get_item(TableName=self._table, Key=_key(user_id, upload_id), ConsistentRead=True).get(
            "Item"
        )
        if not item:
            return None
        return UploadRecord(
            upload_id=upload_id,
            user_id=user_id,
            key=item["objectKey"]["S"],
            filename=item["filename"]["S"],
            content_type=item["contentType"]["S"],
            max_bytes=int(item["maxBytes"]["N"]),
            created_at=item["createdAt"]["S"],
            expires_at=int(item["expiresAt"]["N"]),
            status=item["uploadStatus"]["S"],
            reason=item.get("reason", {}).get("S", ""),
            image_format=item.get("imageFormat", {}).get("S", ""),
            size=int(item.get("size", {}).get("N", "0")),
            pages=int(item.get("pages", {}).get("N", "0")),
        )

    def _transition(self, user_id: str, upload_id: str, update: str, values: dict[str, Any]) -> bool:
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "Key": _key(user_id, upload_id),
            "UpdateExpression": update,
            # Rejected is final (the object is gone). A ready upload is checked again when its object is
            # replaced through the same presigned POST, so it can still become rejected.
            "ConditionExpression": "uploadStatus IN (:pending, :ready_state)",
            "ExpressionAttributeValues": {":pending": {"S": PENDING}, ":ready_state": {"S": READY}, **values},
        }
        if "#size" in update:
            arguments["ExpressionAttributeNames"] = {"#size": "size"}
        try:
            self._client.update_item(**arguments)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def mark_ready(self, user_id: str, upload_id: str, *, image_format: str, size: int, pages: int) -> bool:
        return self._transition(
            user_id,
            upload_id,
            "SET uploadStatus = :ready, imageFormat = :format, #size = :size, pages = :pages",
            {
                ":ready": {"S": READY},
                ":format": {"S": image_format},
                ":size": {"N": str(size)},
                ":pages": {"N": str(pages)},
            },
        )

    def mark_rejected(self, user_id: str, upload_id: str, *, reason: str) -> bool:
        return self._transition(
            user_id,
            upload_id,
            "SET uploadStatus = :rejected, reason = :reason",
            {":rejected": {"S": REJECTED}, ":reason": {"S": reason}},
        )

    def delete(self, user_id: str, upload_id: str) -> None:
        self._client.delete_item(TableName=self._table, Key=_key(user_id, upload_id))

"""The accounts table in DynamoDB: one table, items told apart by their keys.

    pk=KEY#<sha256>      sk=KEY                 an API key (hash only)
    pk=USER#<user_id>    sk=ACCOUNT             the credit balance
    pk=USER#<user_id>    sk=LEDGER#<ts>#<req>   one row per charged request; while its hold is open it
                                                carries openHold/holdUntil (the sparse OpenHolds index)
    pk=RATE#<key_id>     sk=<window start>      a fixed one-minute rate window (expires by TTL)
    pk=KEYID#<key_id>    sk=WEBHOOK             the key's webhook signing secret (it signs, so it is kept)
    pk=UPLOADS#<user_id> sk=<uuid>              an upload record (snapscribe.storage.dynamodb)

Each kind has its own partition prefix, so IAM can confine a function to the kinds it uses
(`dynamodb:LeadingKeys` in template.yaml). Here: the key of each kind and the attribute values they are made of.
"""

from __future__ import annotations

from typing import Any

# Open holds are indexed under one partition value (sparse: settling removes the attribute).
OPEN_HOLDS_INDEX = "OpenHolds"
OPEN_HOLD = "HOLDS#open"


def string(value: str) -> dict[str, str]:
    return {"S": value}


def number(value: int) -> dict[str, str]:
    return {"N": str(value)}


def api_key_key(key_hash: str) -> dict[str, Any]:
    return {"pk": string(f"KEY#{key_hash}"), "sk": string("KEY")}


def webhook_key(key_id: str) -> dict[str, Any]:
    return {"pk": string(f"KEYID#{key_id}"), "sk": string("WEBHOOK")}


def account_key(user_id: str) -> dict[str, Any]:
    return {"pk": string(f"USER#{user_id}"), "sk": string("ACCOUNT")}


def ledger_key(user_id: str, ledger_sk: str) -> dict[str, Any]:
    return {"pk": string(f"USER#{user_id}"), "sk": string(ledger_sk)}


def rate_window_key(key_id: str, window_start: int) -> dict[str, Any]:
    return {"pk": string(f"RATE#{key_id}"), "sk": string(str(window_start))}

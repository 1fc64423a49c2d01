"""DynamoDB transactions as the accounts table makes them: tried again while they collide with another one,
never taken for a failed condition, and made idempotent by a token that is the same for every try."""

from __future__ import annotations

import hashlib
import logging
import random
import time
from typing import Any

from botocore.exceptions import ClientError

logger = logging.getLogger(__name__)

# A transaction DynamoDB cancelled for a reason other than a condition (another transaction on the same item,
# throttling) is tried again this many times, a little later each time, before it is an error.
TRANSACTION_TRIES = 5


def request_token(*parts: str) -> str:
    """A ClientRequestToken (at most 36 characters) that is the same for every try of one operation."""
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:36]


class TransactionFailed(Exception):
    """A transaction that kept being cancelled for reasons other than its conditions."""


def transact(client: Any, items: list[dict[str, Any]], token: str) -> list[str]:
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

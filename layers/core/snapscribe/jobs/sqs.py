"""A queue of JSON messages on SQS, sent ten at a time, batches in parallel."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

BATCH = 10  # SQS's most per SendMessageBatch
SENDS_IN_PARALLEL = 8


class SqsQueue:
    def __init__(self, client: SQSClient, url: str) -> None:
        self.client = client
        self.url = url

    def _send_batch(self, batch: list[dict[str, Any]]) -> None:
        entries = [{"Id": str(number), "MessageBody": json.dumps(message)} for number, message in enumerate(batch)]
        for _attempt in range(3):
            response = self.client.send_message_batch(QueueUrl=self.url, Entries=entries)  # type: ignore[arg-type]
            failed = {entry["Id"] for entry in response.get("Failed", [])}
            entries = [entry for entry in entries if entry["Id"] in failed]
            if not entries:
                return
        raise RuntimeError(f"SQS refused {len(entries)} messages three times")

    def send(self, messages: list[dict[str, Any]]) -> None:
        batches = [messages[start : start + BATCH] for start in range(0, len(messages), BATCH)]
        if len(batches) == 1:
            self._send_batch(batches[0])
            return
        with ThreadPoolExecutor(max_workers=SENDS_IN_PARALLEL, thread_name_prefix="send") as pool:
            list(pool.map(self._send_batch, batches))

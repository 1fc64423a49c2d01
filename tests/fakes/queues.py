"""The WorkQueue protocol in memory (snapscribe.jobs.model), held to the SQS adapter's behaviour by
tests/contracts/test_work_queue_contract.py."""

from __future__ import annotations

import json
import threading
from typing import Any

BATCH = 10  # SqsQueue's batch: SQS's most per SendMessageBatch


class FakeQueue:
    """A queue that keeps what is sent, in order, as JSON makes it; `take()` hands the messages out (at least
    once: a test may hand one out again). Sent ten at a time, as SqsQueue sends them: a batch with a message JSON
    cannot hold keeps none of its messages, the other batches are kept (SqsQueue's may be: its threads have usually
    started them), then the error is raised."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def send(self, messages: list[dict[str, Any]]) -> None:
        failure: TypeError | None = None
        for start in range(0, len(messages), BATCH):
            try:
                bodies = [json.dumps(message) for message in messages[start : start + BATCH]]
            except TypeError as error:
                failure = failure or error
                continue
            with self.lock:
                self.messages.extend(json.loads(body) for body in bodies)
        if failure is not None:
            raise failure

    def take(self) -> list[dict[str, Any]]:
        with self.lock:
            taken, self.messages = self.messages, []
            return taken

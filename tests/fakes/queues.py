"""The WorkQueue protocol in memory (snapscribe.jobs.model), held to the SQS adapter's behaviour by
tests/contracts/test_work_queue_contract.py."""

from __future__ import annotations

import json
import threading
from typing import Any


class FakeQueue:
    """A queue that keeps what is sent, in order; `take()` hands the messages out (at least once: a test may
    hand one out again)."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def send(self, messages: list[dict[str, Any]]) -> None:
        with self.lock:
            self.messages.extend(json.loads(json.dumps(message)) for message in messages)

    def take(self) -> list[dict[str, Any]]:
        with self.lock:
            taken, self.messages = self.messages, []
            return taken

"""Lambda's SQS event source mapping, locally: poll a queue, hand batches to a function, delete what it did.

As in AWS: up to BatchSize messages per invocation; with ReportBatchItemFailures the messages the function
names as failed stay on the queue and the rest are deleted; a function error (or a timeout) leaves the whole
batch, which comes back when its visibility timeout ends, and after maxReceiveCount receives SQS (moto here)
moves a message to the dead-letter queue; at most MaximumConcurrency invocations run at once.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("snapscribe.event_sources")
POLL_INTERVAL_SECONDS = 0.2
IDLE_WAIT_SECONDS = 1.0  # with a waiter: an empty queue is received from again after this at the latest
MAX_RECEIVE = 10  # SQS's most per ReceiveMessage


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str = "us-east-1") -> dict[str, Any]:
    """The event Lambda sends for a batch of received SQS messages."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": dict(message.get("Attributes", {})),
                "messageAttributes": message.get("MessageAttributes", {}),
                "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }


@dataclass
class SqsEventSource:
    sqs: Any
    queue_url: str
    queue_arn: str
    invoke: Callable[[dict[str, Any]], Any]
    batch_size: int = 10
    concurrency: int = 1
    report_failures: bool = True
    stop_event: threading.Event = field(default_factory=threading.Event)
    # Blocks until the queue may have a message to receive, or the timeout (the local stack's in-process long
    # poll); without one, an empty queue is polled again every POLL_INTERVAL_SECONDS.
    wait_for_messages: Callable[[float], object] | None = None
    delivered: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def pump_once(self) -> int:
        """Receive one batch and deliver it; the number of messages delivered (0 when the queue is empty)."""
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(self.batch_size, MAX_RECEIVE),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,  # a long poll would hold the one-request-at-a-time moto server
        )
        messages = response.get("Messages", [])
        if not messages:
            return 0
        try:
            result = self.invoke(sqs_event(messages, self.queue_arn))
        except Exception:  # a function error or a timeout: the whole batch comes back after its visibility
            log.exception("%s: the batch failed; its messages will be delivered again", self.queue_arn)
            return len(messages)
        failed = set()
        if self.report_failures and isinstance(result, dict):
            failed = {item["itemIdentifier"] for item in result.get("batchItemFailures", [])}
        done = [message for message in messages if message["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(index), "ReceiptHandle": m["ReceiptHandle"]} for index, m in enumerate(done)],
            )
        with self._lock:
            self.delivered += len(done)
        return len(messages)

    def _poll(self) -> None:
        while not self.stop_event.is_set():
            try:
                if self.pump_once():
                    continue
                if self.wait_for_messages is None:
                    self.stop_event.wait(POLL_INTERVAL_SECONDS)
                else:
                    self.wait_for_messages(IDLE_WAIT_SECONDS)
            except Exception:  # the queue itself failed (the stack stopping): wait, then poll again
                log.debug("polling %s failed", self.queue_url, exc_info=True)
                self.stop_event.wait(1.0)

    def start(self) -> list[threading.Thread]:
        threads = [
            threading.Thread(target=self._poll, name=f"sqs-{self.queue_arn.rsplit(':', 1)[-1]}-{number}", daemon=True)
            for number in range(max(1, self.concurrency))
        ]
        for thread in threads:
            thread.start()
        return threads


def drain(sources: list[SqsEventSource], *, quiet_seconds: float = 0.0, timeout: float = 600) -> None:
    """Pump every source until all their queues stay empty (for tests and tools; not timed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(source.pump_once() for source in sources):
            continue
        if quiet_seconds:
            time.sleep(quiet_seconds)
            if any(source.pump_once() for source in sources):
                continue
        return
    raise TimeoutError("the queues did not drain")

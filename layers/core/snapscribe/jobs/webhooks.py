"""A job's end, POSTed to its Callback-Url and signed per the Standard Webhooks specification.

Headers webhook-id (the same for every attempt of one message), webhook-timestamp (seconds) and
webhook-signature ("v1," + base64 of HMAC-SHA256 over "<id>.<timestamp>.<body>", keyed with the API key's
secret, "whsec_" + base64). A failed attempt is tried again later, backing off exponentially (SQS visibility)
for more than a day; every attempt is recorded on the job.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from snapscribe.errors import SnapscribeError
from snapscribe.jobs.model import Job, JobStore

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
MAX_ATTEMPTS = 15  # the webhook queue's maxReceiveCount: then the message rests in its dead-letter queue
FIRST_DELAY_SECONDS = 30
LONGEST_DELAY_SECONDS = 6 * 3600
DELIVERED, RETRYING, FAILED = "delivered", "retrying", "failed"


class WebhookSecrets(Protocol):
    def webhook_secret(self, key_id: str) -> str | None: ...


Send = Callable[[str, bytes, dict[str, str]], int]  # (url, body, headers) -> HTTP status


def sign(secret: str, message_id: str, timestamp: int, body: str) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    mac = hmac.new(key, f"{message_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode("ascii")


def backoff_seconds(attempt: int) -> int:
    """How long after failed attempt `attempt` the next one comes: 30 s, 1 min, 2 min, ... up to 6 h (after
    14 failures, more than a day has passed)."""
    return int(min(FIRST_DELAY_SECONDS * 2 ** (attempt - 1), LONGEST_DELAY_SECONDS))


def payload(job: Job, sent_at: str) -> dict[str, Any]:
    """What the receiver is told: the job's end, not its result (which may be large): GET its status URL."""
    return {
        "type": f"job.{job.status}",
        "timestamp": sent_at,
        "data": {
            "jobId": job.job_id,
            "status": job.status,
            "route": job.route,
            "progress": {"total": job.total, "done": job.done, "failed": job.failed, "cancelled": job.cancelled},
            "resultStatus": job.result_status,
            "charged": job.charged,
            "createdAt": job.created_at,
            "finishedAt": job.finished_at,
            "statusUrl": job.status_url,
        },
    }


class WebhookSender:
    def __init__(
        self, store: JobStore, keys: WebhookSecrets, send: Send, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.keys = keys
        self.send = send
        self.clock = clock

    def deliver(self, job_id: str, attempt: int) -> bool:
        """Attempt `attempt` (1-based) at the job's webhook; True when there is nothing more to do."""
        job = self.store.get(job_id)
        if job is None or not job.callback_url or job.webhook_state == DELIVERED or not job.finished:
            return True
        now = self.clock()
        sent_at = datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        secret = self.keys.webhook_secret(job.key_id)
        status, error = 0, ""
        if secret is None:
            error = "the API key that started the job has no webhook secret"
        else:
            body = json.dumps(payload(job, sent_at), ensure_ascii=False)
            message_id = f"msg_{job.job_id}"
            headers = {
                "content-type": "application/json",
                "webhook-id": message_id,
                "webhook-timestamp": str(int(now)),
                "webhook-signature": sign(secret, message_id, int(now), body),
            }
            try:
                status = self.send(job.callback_url, body.encode("utf-8"), headers)
                error = "" if 200 <= status < 300 else f"the receiver answered HTTP {status}"
            except SnapscribeError as failure:
                error = failure.message
        delivered = not error
        state = DELIVERED if delivered else (FAILED if attempt >= MAX_ATTEMPTS or secret is None else RETRYING)
        self.store.record_webhook_attempt(
            job_id, {"attempt": attempt, "at": sent_at, "status": status, "error": error}, state
        )
        return delivered or secret is None

"""A job, its items, and what the job store must do for them (every write that counts is conditional)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from snapscribe.accounts.models import Reservation

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "queued", "running", "succeeded", "failed", "cancelled"
CANCELLING = "cancelling"  # cancel requested: nothing more starts; `cancelled` once the hold is settled
FINISHED = frozenset({SUCCEEDED, FAILED, CANCELLED})
# An item: claimed by one worker at a time (running), then resolved once: done, failed or cancelled. A claim given
# back after a passing fault (retry) waits for its message's next delivery, which claims it again at once.
ITEM_DONE, ITEM_FAILED, ITEM_CANCELLED, ITEM_RETRY = "done", "failed", "cancelled", "retry"
# The errors items resolved without running carry.
CANCELLED_ITEM = {"type": "Cancelled", "message": "The job was cancelled before this item ran"}
DEAD_ITEM = {"type": "EngineError", "message": "The item failed three times: its worker stopped or timed out"}
# What a claim finds: the item is ours now; or resolved already; or another worker's lease is still live.
CLAIMED, RESOLVED, BUSY = "claimed", "resolved", "busy"


@dataclass
class Job:
    job_id: str
    owner: str  # the user id
    key_id: str
    kind: str  # the JobKind's name: extract_image, extract_structured, ocr_by_key, extract_batch
    route: str  # the ledger's name for the request that started it
    request_id: str
    total: int
    hold: Reservation
    created_at: str
    deadline: int  # epoch seconds: items not resolved by then are failed by the reaper
    status: str = QUEUED
    done: int = 0
    failed: int = 0
    cancelled: int = 0
    remaining: int = 0
    started_at: str | None = None
    finished_at: str | None = None
    cancel_requested: bool = False
    callback_url: str | None = None
    status_url: str | None = None  # where the client follows it (what the 202 said)
    result_status: int | None = None  # None: no result (a job cancelled before its work could answer)
    result: str | None = None  # the result body as JSON text, when it fits in the job's record
    result_key: str | None = None  # else the object that holds it
    charged: int | None = None  # what the finished job cost (the hold minus what came back)
    webhook_state: str | None = None  # queued, delivered, failed
    webhook_attempts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED and self.finished_at is not None


@dataclass(frozen=True)
class ItemRecord:
    """A resolved (or running) item: its status, and its error or its output (inline JSON, or an object key)."""

    status: str
    error: dict[str, str] | None = None
    output: str | None = None
    output_key: str | None = None


@dataclass(frozen=True)
class ItemClaim:
    """Where an item's claims stand: its status (running, retry, or resolved), how often it was claimed, and
    until when its last claim's lease lives (None for an item resolved without a claim)."""

    status: str
    attempts: int
    lease_until: int | None


@dataclass(frozen=True)
class Page:
    jobs: list[Job]
    cursor: str | None  # where the next page starts; None at the end


class JobStore(Protocol):
    def create(self, job: Job) -> None: ...

    def get(self, job_id: str) -> Job | None: ...

    def list_for(self, owner: str, *, limit: int, cursor: str | None) -> Page:
        """The owner's jobs, newest first."""
        ...

    def mark_running(self, job_id: str, now: str) -> None:
        """queued -> running (nothing if it already runs or has finished)."""
        ...

    def claim_item(self, job_id: str, index: int, *, token: str, lease_until: int, now: int) -> str:
        """CLAIMED: item `index` is this worker's to run (new, given back after a passing fault, or its last
        claim's lease has run out: its worker is gone), its attempts counted;
        RESOLVED: it is done, failed or cancelled (and counted: a redelivery completes a count its resolver
        did not make); BUSY: another worker's lease on it is still live."""
        ...

    def resolve_item(
        self,
        job_id: str,
        index: int,
        outcome: str,
        *,
        token: str | None,
        error: dict[str, str] | None,
        output: str | None = None,
        output_key: str | None = None,
    ) -> bool:
        """Resolve the item once, with its error or its output, and count it on the job once. With `token`,
        only the worker that claimed it can; without, an item nobody resolved (unclaimed, or running: a dead
        worker's, or given back); cancelled, only an item no worker holds. False if it was resolved already (then
        its count is made sure of): nothing counts twice."""
        ...

    def release_item(self, job_id: str, index: int, *, token: str) -> bool:
        """Give back this worker's claim after a passing fault (status retry): the message's next delivery claims
        the item again at once instead of finding it busy; its attempts stay counted. False if the claim is no
        longer this token's."""
        ...

    def item_claim(self, job_id: str, index: int) -> ItemClaim | None:
        """The item's claim as it stands (a consistent read); None for an item never claimed nor resolved."""
        ...

    def resolve_unclaimed(
        self, job_id: str, indexes: Sequence[int], outcome: str, *, error: dict[str, str] | None
    ) -> int:
        """Resolve with `outcome` (cancelled or failed) every one of these items that no worker holds: never
        claimed, or given back (retry); each counted on the job once, whoever else resolves or counts it. The
        number resolved here."""
        ...

    def cancel_requested(self, job_id: str) -> bool:
        """Whether the job's cancel is requested (a consistent read of that one attribute; False if it is gone)."""
        ...

    def items(self, job_id: str) -> dict[int, ItemRecord]:
        """Every item record of the job, by index (an item never claimed has none)."""
        ...

    def request_cancel(self, job_id: str, now: str) -> bool:
        """Mark a job that has not finished as cancelling: its items not yet started will not run. True again for
        a job already cancelling."""
        ...

    def claim_finalization(self, job_id: str, *, token: str, now: int, stale_after: int) -> bool:
        """The right to finish the job, once every item is resolved; reclaimable if its holder died."""
        ...

    def finish(
        self,
        job_id: str,
        *,
        status: str,
        result_status: int | None,
        result: str | None,
        result_key: str | None,
        charged: int,
        now: str,
    ) -> None: ...

    def mark_webhook_queued(self, job_id: str) -> bool:
        """True once: whoever gets it sends the job's webhook."""
        ...

    def record_webhook_attempt(self, job_id: str, attempt: dict[str, Any], state: str) -> None: ...

    def open_jobs(self, limit: int) -> list[Job]:
        """Jobs not finished yet (for the reaper), soonest deadline first."""
        ...


class WorkQueue(Protocol):
    def send(self, messages: list[dict[str, Any]]) -> None: ...

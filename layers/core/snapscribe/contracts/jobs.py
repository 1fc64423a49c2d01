"""The jobs API: GET /api/v1/jobs, GET and DELETE /api/v1/jobs/{jobId}; and the 202 that admits a job."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

# A job's status: queued, then running; cancelling from its DELETE (nothing more starts) until its hold is settled;
# then one of the three ends.
JobStatus = Literal["queued", "running", "cancelling", "succeeded", "failed", "cancelled"]


class Progress(BaseModel):
    total: int  # work items: pages, images, or model calls
    done: int
    failed: int
    cancelled: int


class WebhookAttempt(BaseModel):
    attempt: int
    at: str
    status: int  # the receiver's HTTP status; 0 when there was no answer
    error: str = ""


class Webhook(BaseModel):
    url: str
    state: str  # pending, queued, delivered, failed
    attempts: list[WebhookAttempt]


class JobView(BaseModel):
    jobId: str
    status: JobStatus = Field(
        description="queued, running, or cancelling (cancel requested: nothing more starts, the items running "
        "finish) until it ends: succeeded, failed, or cancelled (its hold settled: what was not run came back)"
    )
    route: str  # the request that started it, e.g. "POST /v1/image-extraction"
    progress: Progress
    createdAt: str
    startedAt: str | None = None
    finishedAt: str | None = None
    deadline: str
    held: int  # credits or tokens reserved when it was admitted
    charged: int | None = None  # what it cost, once finished; the rest came back
    resultStatus: int | None = None  # the HTTP status the synchronous call would have answered
    result: Any = None  # the body the synchronous call would have answered
    resultUrl: str | None = None  # where a result too large for the record is (a presigned GET)
    webhook: Webhook | None = None


class JobList(BaseModel):
    jobs: list[JobView]
    nextCursor: str | None = None


class JobAccepted(BaseModel):
    """The 202 of a charging route sent with `Prefer: respond-async`: the job was admitted (and its hold taken)."""

    jobId: str
    status: str  # queued
    statusUrl: str  # GET it for the job's progress and, once finished, its result
    createdAt: str

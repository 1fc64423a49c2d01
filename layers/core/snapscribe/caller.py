"""Who asks for an operation, whatever carried the request: API Gateway, or a job on the work queue."""

from __future__ import annotations

from dataclasses import dataclass

from snapscribe.accounts.models import Principal


@dataclass(frozen=True)
class Caller:
    principal: Principal
    request_id: str
    route: str  # what the usage ledger calls the request, e.g. "POST /api/v1/extract-image"
    ends_at: float | None = None  # epoch seconds when the invocation serving it is stopped (None: no limit)
    job_id: str | None = None  # set when the request runs as a job
    source: str | None = None  # what the client says it is (Request-Source), kept in the usage ledger
    with_fields: bool = False  # the client asked for each filled field's confidence and box (?fields=true)

    @property
    def user_id(self) -> str:
        return self.principal.user_id

"""Each API's error answers, part of its contract: one table per API turns typed domain errors into its status
codes and bodies, and names the model of the body each status answers (the OpenAPI document reads it)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

from snapscribe import errors as e
from snapscribe.contracts import structured_extraction as structured


class ErrorMessage(BaseModel):
    error: str  # what was wrong, for a person to read; never the details of an internal failure


class EmptyBody(BaseModel):
    """The batch-extraction API's 404: an empty object, as its contract shows."""

    model_config = ConfigDict(extra="forbid")


BodyBuilder = Callable[[e.SnapscribeError], dict[str, Any]]


@dataclass(frozen=True)
class ErrorResponse:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass(frozen=True)
class ErrorTable:
    """Most specific class first; the first row whose class matches the error answers."""

    name: str
    rows: tuple[tuple[type[e.SnapscribeError], int, BodyBuilder], ...]
    internal: Callable[[], ErrorResponse]
    body_model: type[BaseModel] = ErrorMessage  # the model of every error body this API answers...
    body_models: Mapping[int, type[BaseModel]] = field(default_factory=dict)  # ...but these statuses'

    def model_for(self, status: int) -> type[BaseModel]:
        return self.body_models.get(status, self.body_model)

    def respond(self, error: BaseException) -> ErrorResponse:
        if isinstance(error, e.SnapscribeError):
            for error_type, status, build in self.rows:
                if isinstance(error, error_type):
                    return ErrorResponse(status, build(error), _extra_headers(error))
        return self.internal()


def _extra_headers(error: e.SnapscribeError) -> dict[str, str]:
    if isinstance(error, e.RateLimited):
        return {
            "X-RateLimit-Limit": str(error.limit),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(error.reset_at),
            "Retry-After": str(error.retry_after),
        }
    if isinstance(error, e.EngineThrottled):
        return {"Retry-After": str(ENGINE_RETRY_AFTER_SECONDS)}
    return {}


def _message(error: e.SnapscribeError) -> dict[str, Any]:
    return {"error": error.message}


def _extraction_failed(error: e.SnapscribeError) -> dict[str, Any]:
    return {"error": f"Failed to extract image data: {error.message}"}


Rows = tuple[tuple[type[e.SnapscribeError], int, BodyBuilder], ...]

# What every {"error": ...} API answers for the account checks that run before any route.
ACCOUNT_ROWS: Rows = (
    (e.Unauthorized, 401, _message),
    (e.InsufficientBalance, 402, _message),
    (e.RateLimited, 429, _message),
    (e.RequestInProgress, 409, _message),
    # Too much work for one synchronous request: nothing was charged; the message says to send it as a job.
    (e.TooLongForSync, 413, _message),
)

# The engine's service (a model's quota, its capacity) refused after the client's retries: the caller may retry.
ENGINE_RETRY_AFTER_SECONDS = 5

# The engine's service still refusing after retries, or an engine not configured or its model not enabled: 503,
# the deployment's side (the message names the fix).
ENGINE_ROWS: Rows = ((e.EngineThrottled, 503, _message), (e.EngineUnavailable, 503, _message))

# The extract-image API.
EXTRACT_IMAGE_ERRORS = ErrorTable(
    name="extract-image",
    rows=(
        *ACCOUNT_ROWS,
        (e.InvalidRequest, 400, _message),
        (e.EngineThrottled, 503, _extraction_failed),
        (e.EngineUnavailable, 503, _extraction_failed),
        (e.EngineError, 500, _extraction_failed),
    ),
    internal=lambda: ErrorResponse(500, {"error": "Failed to extract image data: internal error"}, {}),
)


def _ocr_failed(error: e.SnapscribeError) -> dict[str, Any]:
    return {"error": f"OCR failed: {error.message}"}


# The file-upload and OCR-by-key APIs (one contract: upload, then OCR by key): {"error": ...}, with file statuses.
FILES_ERRORS = ErrorTable(
    name="files",
    rows=(
        *ACCOUNT_ROWS,
        (e.UploadPending, 409, _message),
        (e.NotFound, 404, _message),
        (e.InvalidRequest, 400, _message),
        (e.EngineThrottled, 503, _ocr_failed),
        (e.EngineUnavailable, 503, _ocr_failed),
        (e.EngineError, 500, _ocr_failed),
    ),
    internal=lambda: ErrorResponse(500, {"error": "Internal error"}, {}),
)


def _base_resp(code: int) -> BodyBuilder:
    def build(error: e.SnapscribeError) -> dict[str, Any]:
        return structured.error_body(code, error.message)

    return build


# The structured-extraction API: every answer carries base_resp; the HTTP status follows the code's class.
# (error, HTTP status, base_resp.status_code): the OpenAPI document lists the codes of each status from here.
BASE_RESP_ROWS: tuple[tuple[type[e.SnapscribeError], int, int], ...] = (
    (e.Unauthorized, 401, structured.AUTHENTICATION_FAILED),
    (e.InsufficientBalance, 402, structured.INSUFFICIENT_BALANCE),
    (e.RateLimited, 429, structured.RATE_LIMITED),
    (e.RequestInProgress, 409, structured.CONFLICT),
    (e.TooLongForSync, 413, structured.REQUEST_TIMEOUT),
    (e.MissingField, 400, structured.MISSING_REQUIRED),
    (e.UnsupportedImageFormat, 400, structured.INVALID_IMAGE_FORMAT),
    (e.ImageTooLarge, 400, structured.IMAGE_TOO_LARGE),
    (e.CorruptImage, 400, structured.IMAGE_CORRUPT),
    (e.DecompressionBomb, 400, structured.IMAGE_CORRUPT),
    (e.EngineInputTooLarge, 400, structured.IMAGE_TOO_LARGE),
    (e.InvalidRequest, 400, structured.MISSING_REQUIRED),
    (e.EngineTimeout, 504, structured.UPSTREAM_TIMEOUT),
    # The model's quota or capacity: retry later, as after the caller's own rate limit.
    (e.EngineThrottled, 503, structured.RATE_LIMITED),
    (e.EngineUnavailable, 503, structured.INTERNAL_ERROR),
    (e.EngineError, 500, structured.INTERNAL_ERROR),
)
STRUCTURED_EXTRACTION_ERRORS = ErrorTable(
    name="structured-extraction",
    rows=tuple((error, status, _base_resp(code)) for error, status, code in BASE_RESP_ROWS),
    internal=lambda: ErrorResponse(500, structured.error_body(structured.INTERNAL_ERROR, "Internal system error"), {}),
    body_model=structured.StructuredExtractionResponse,
)


def _empty(_error: e.SnapscribeError) -> dict[str, Any]:
    return {}


# The batch-extraction API: 404 is an empty object, as its contract shows; the rest speak {"error": ...}.
BATCH_EXTRACTION_ERRORS = ErrorTable(
    name="batch-extraction",
    rows=(
        *ACCOUNT_ROWS,
        (e.NotFound, 404, _empty),
        (e.UploadPending, 409, _message),
        (e.InvalidRequest, 400, _message),
        *ENGINE_ROWS,
        (e.EngineError, 500, _message),
    ),
    internal=lambda: ErrorResponse(500, {"error": "Internal error"}, {}),
    body_models={404: EmptyBody},
)


# The jobs and account APIs: {"error": ...}, like the APIs whose work they follow.
JOBS_ERRORS = ErrorTable(
    name="jobs",
    rows=(
        *ACCOUNT_ROWS,
        (e.NotFound, 404, _message),
        (e.JobFinished, 409, _message),
        (e.InvalidRequest, 400, _message),
    ),
    internal=lambda: ErrorResponse(500, {"error": "Internal error"}, {}),
)


# The API's own description (public): nothing to refuse, only an internal error to answer in the usual shape.
DOCS_ERRORS = ErrorTable(name="docs", rows=(), internal=lambda: ErrorResponse(500, {"error": "Internal error"}, {}))

"""Typed domain errors. Each contract's error table (snapscribe.contracts.errors) maps them to responses."""

from __future__ import annotations


class SnapscribeError(Exception):
    """Base class: `message` is safe to show to the client (no secrets, no image bytes)."""

    # True for a passing fault (an upstream model's throttling): a job's item is delivered again rather than failed.
    retryable = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def prefixed(self, prefix: str) -> SnapscribeError:
        """The same error (same type, same fields) with its message prefixed, e.g. by `images[3]: `."""
        clone = type(self).__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.message = f"{prefix}{self.message}"
        clone.args = (clone.message,)
        return clone


# --- the client's fault -------------------------------------------------------------------------
class InvalidRequest(SnapscribeError):
    """Malformed or missing input."""


class MissingField(InvalidRequest):
    """A required field is absent or empty."""


class LimitExceeded(InvalidRequest):
    """Too many items or too many bytes."""


class ImageTooLarge(LimitExceeded):
    """One image is over its byte limit."""


class UnsupportedImageFormat(InvalidRequest):
    """The bytes are not an image format this route accepts."""


class CorruptImage(InvalidRequest):
    """The bytes claim a supported format but cannot be decoded."""


class DecompressionBomb(InvalidRequest):
    """More pixels than the service will decode."""


class UrlNotAllowed(InvalidRequest):
    """A URL input points at a scheme or address the service refuses to fetch."""


class UrlFetchFailed(InvalidRequest):
    """A URL input could not be fetched (status, timeout, too many redirects)."""


class TooLongForSync(SnapscribeError):
    """The work cannot finish within a synchronous request's time: it must be sent as a job."""


class IdempotencyKeyReused(InvalidRequest):
    """The same Idempotency-Key was sent with a different request: its body, or its Prefer or Callback-Url."""


# --- accounts -----------------------------------------------------------------------------------
class Unauthorized(SnapscribeError):
    def __init__(self, message: str = "Invalid or missing Authorization header") -> None:
        super().__init__(message)


class RateLimited(SnapscribeError):
    def __init__(self, limit: int, reset_at: int, retry_after: int) -> None:
        super().__init__(f"Rate limit of {limit} requests per minute exceeded; retry in {retry_after} s")
        self.limit = limit
        self.reset_at = reset_at
        self.retry_after = retry_after


class InsufficientBalance(SnapscribeError):
    def __init__(self, needed: int, available: int) -> None:
        super().__init__(f"Insufficient credits: this request needs {needed}, the balance is {available}")
        self.needed = needed
        self.available = available


class RequestInProgress(SnapscribeError):
    """A request with the same Idempotency-Key is still running."""


# --- the service's side -------------------------------------------------------------------------
class EngineError(SnapscribeError):
    """The extraction engine failed."""


class EngineTimeout(EngineError):
    """The engine (an upstream model) did not answer in time."""


class EngineUnavailable(EngineError):
    """The engine is not installed or not configured in this function."""


class EngineThrottled(EngineError):
    """The engine's service refused for now (throttling, capacity) after the client's own retries with backoff."""

    retryable = True


class UnknownEngine(InvalidRequest):
    """The client asked for an engine id that this deployment does not offer; the message lists what it does."""


class EngineInputTooLarge(LimitExceeded):
    """The input is over what the engine takes (image bytes or sides, pages, the model's context)."""


class LanguageNotSupported(InvalidRequest):
    """The request asks for a language or script the engine does not read."""


# --- files ----------------------------------------------------------------------------------------
class InvalidFileKey(InvalidRequest):
    def __init__(self, message: str = "Invalid file key format") -> None:
        super().__init__(message)


class NotFound(SnapscribeError):
    """Missing, or another user's: the two are answered alike, so existence never leaks."""

    def __init__(self, message: str = "File not found") -> None:
        super().__init__(message)


class JobFinished(SnapscribeError):
    """A job that has finished cannot be cancelled."""


class UploadPending(SnapscribeError):
    """The upload has not been checked yet (or not uploaded at all)."""


class UploadRejected(InvalidRequest):
    """The upload was checked and refused; the message says why."""

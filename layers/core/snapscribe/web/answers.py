"""How each API answers a charging operation's result or typed error: the status and the exact body. The
synchronous route and a job's finaliser use the same table, so a job's result is what the call returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from snapscribe.contracts.batch_extraction import BatchExtractionAnswer
from snapscribe.errors import SnapscribeError
from snapscribe.web.errors import (
    BATCH_EXTRACTION_ERRORS,
    EXTRACT_IMAGE_ERRORS,
    FILES_ERRORS,
    STRUCTURED_EXTRACTION_ERRORS,
    ErrorTable,
)


@dataclass(frozen=True)
class Answer:
    status: int
    body: Callable[[BaseModel], dict[str, Any]]
    errors: ErrorTable


def _as_is(result: BaseModel) -> dict[str, Any]:
    return result.model_dump()


def _under_data(result: BaseModel) -> dict[str, Any]:
    """The batch-extraction contract's shape: the extraction under `data`; a page's `error` only if it failed."""
    return BatchExtractionAnswer.model_validate({"data": result}).model_dump(exclude_none=True)


ANSWERS: dict[str, Answer] = {
    "extract_image": Answer(200, _as_is, EXTRACT_IMAGE_ERRORS),
    "extract_structured": Answer(200, _as_is, STRUCTURED_EXTRACTION_ERRORS),
    "ocr_by_key": Answer(200, _as_is, FILES_ERRORS),
    "extract_batch": Answer(201, _under_data, BATCH_EXTRACTION_ERRORS),
}


def answer(kind: str, outcome: BaseModel | SnapscribeError) -> tuple[int, dict[str, Any]]:
    """The status and body the API answers for a result, or for a typed error, of work of this kind."""
    shape = ANSWERS[kind]
    if isinstance(outcome, SnapscribeError):
        refused = shape.errors.respond(outcome)
        return refused.status, refused.body
    return shape.status, shape.body(outcome)

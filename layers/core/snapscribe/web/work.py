"""How a route performs a charging operation: now, in this invocation, or (with `Prefer: respond-async`) as a
job. And how each API answers a kind's result: its success status and body, and its error table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from pydantic import BaseModel

from snapscribe.jobs.plan import Deps, JobKind
from snapscribe.jobs.run import run_now
from snapscribe.web.errors import (
    BATCH_EXTRACTION_ERRORS,
    EXTRACT_IMAGE_ERRORS,
    FILES_ERRORS,
    STRUCTURED_EXTRACTION_ERRORS,
    ErrorTable,
)
from snapscribe.web.requests import caller
from snapscribe.web.responses import json_response


@dataclass(frozen=True)
class Answer:
    status: int
    body: Callable[[BaseModel], dict[str, Any]]
    errors: ErrorTable


def _as_is(result: BaseModel) -> dict[str, Any]:
    return result.model_dump()


def _under_data(result: BaseModel) -> dict[str, Any]:
    """The batch-extraction contract's shape: the extraction under `data`; a page's `error` only if it failed."""
    return {"data": result.model_dump(exclude_none=True)}


ANSWERS: dict[str, Answer] = {
    "extract_image": Answer(200, _as_is, EXTRACT_IMAGE_ERRORS),
    "extract_structured": Answer(200, _as_is, STRUCTURED_EXTRACTION_ERRORS),
    "ocr_by_key": Answer(200, _as_is, FILES_ERRORS),
    "extract_batch": Answer(201, _under_data, BATCH_EXTRACTION_ERRORS),
}


def perform(router: BaseRouter, kind: JobKind, request: Any, deps: Deps) -> Response[str]:
    answer = ANSWERS[kind.name]
    result = run_now(kind, request, caller(router), deps)
    return json_response(answer.status, answer.body(result))

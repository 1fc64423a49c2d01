"""The batch-extraction API: every page of up to 5 stored files, charged per page; kept extractions by uuid.
Its contract documents the call as GET with a JSON body; POST is served too."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response

from snapscribe.contracts.batch_extraction import BatchExtractionAnswer, BatchExtractionRequest
from snapscribe.contracts.errors import BATCH_EXTRACTION_ERRORS
from snapscribe.operations import batch_extraction as operations
from snapscribe.web.requests import caller, json_body, services_of
from snapscribe.web.responses import json_response
from snapscribe.web.routing import Api

api = Api("batch-extraction", "Every page of up to 5 uploads", BATCH_EXTRACTION_ERRORS)
router = api.router

EXTRACTION: dict[str, Any] = {
    "kind": operations.EXTRACT_BATCH,
    "read": lambda source: json_body(source, BatchExtractionRequest),
    "summary": "Every page of up to 5 uploaded files, charged per page",
    "description": "Pages that fail are refunded (returned_credits).",
    "error_statuses": (400, 401, 402, 404, 409, 413, 429, 500, 503),
    "body": BatchExtractionRequest,
    "example": {"engine": {"name": "local"}, "files": [{"uuid": "5f0c7a4e-1d2b-4c3a-9e8f-7a6b5c4d3e2f"}]},
    "links": (
        (
            201,
            "GetBatchExtraction",
            {"operationId": "get_batch_extraction", "parameters": {"uuid": "$response.body#/data/uuid"}},
        ),
    ),
}
api.charging("post", "/v1/image-extraction", name="extract_batch", idempotent=True, **EXTRACTION)
api.charging(
    "get",
    "/v1/image-extraction",
    name="extract_batch_by_get",
    **EXTRACTION
    | {
        "summary": "The same as POST /v1/image-extraction: its contract documents the call as GET with a JSON body",
        "description": "Prefer POST: many HTTP clients and proxies drop a GET's body. No Idempotency-Key on GET.",
    },
)


@api.route(
    "get",
    "/v1/image-extraction/{uuid}",
    summary="A kept batch extraction, by its uuid",
    answer=BatchExtractionAnswer,
    error_statuses=(401, 404, 429, 500),
)
def get_batch_extraction(uuid: str) -> Response[str]:
    extraction = operations.get_batch_extraction(caller(router), uuid, objects=services_of(router).objects)
    _status, body = operations.EXTRACT_BATCH.answer(extraction)
    return json_response(200, body)

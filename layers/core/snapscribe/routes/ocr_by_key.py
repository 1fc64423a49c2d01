"""The OCR-by-key API: the text of an upload, by its key (tokens charged as used); kept results by id."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from snapscribe.contracts.errors import FILES_ERRORS
from snapscribe.contracts.ocr_by_key import OcrByKeyRequest, OcrByKeyResponse
from snapscribe.operations import ocr_by_key as operations
from snapscribe.web.requests import caller, json_body, services_of
from snapscribe.web.responses import json_response
from snapscribe.web.routing import Api

api = Api("ocr-by-key", "The text of an upload, by its key", FILES_ERRORS)
router = api.router

api.charging(
    "post",
    "/api/ocr/process",
    name="ocr_by_key",
    kind=operations.OCR_BY_KEY,
    read=lambda source: json_body(source, OcrByKeyRequest),
    summary="The text of an upload, by its key; the result is kept",
    description="Holds up to 2,306 tokens a page (plus 24) and charges what was used.",
    error_statuses=(400, 401, 402, 404, 409, 413, 429, 500, 503),
    body=OcrByKeyRequest,
    idempotent=True,
    example={"key": "ocr/0b6f2c1e-user/5f0c7a4e-1d2b-4c3a-9e8f-7a6b5c4d3e2f-scan.png"},
    links=((200, "GetOcrResult", {"operationId": "get_ocr_result", "parameters": {"id": "$response.body#/id"}}),),
)


@api.route(
    "get",
    "/api/ocr/results/{id}",
    summary="A kept OCR result, with a fresh link to its file",
    answer=OcrByKeyResponse,
    error_statuses=(401, 404, 429, 500),
)
def get_ocr_result(id: str) -> Response[str]:
    result = operations.get_ocr_result(
        caller(router), id, objects=services_of(router).objects, settings=services_of(router).settings
    )
    return json_response(200, result)

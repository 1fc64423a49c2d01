"""The OCR-by-key API: the text of an upload, by its key (tokens charged as used); kept results by id."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from snapscribe import services
from snapscribe.config import get_settings
from snapscribe.contracts.ocr_by_key import OcrByKeyRequest
from snapscribe.operations import ocr_by_key as operations
from snapscribe.web.errors import FILES_ERRORS
from snapscribe.web.middleware import account_checks
from snapscribe.web.requests import caller, json_body
from snapscribe.web.responses import json_response
from snapscribe.web.work import perform

router = APIGatewayRouter()


@router.post("/api/ocr/process", middlewares=account_checks(FILES_ERRORS, idempotent=True))
def ocr_by_key() -> Response[str]:
    return perform(router, operations.OCR_BY_KEY, json_body(router, OcrByKeyRequest), services.deps(files=True))


@router.get("/api/ocr/results/<id>", middlewares=account_checks(FILES_ERRORS))
def get_ocr_result(id: str) -> Response[str]:
    result = operations.get_ocr_result(caller(router), id, objects=services.object_store(), settings=get_settings())
    return json_response(200, result)

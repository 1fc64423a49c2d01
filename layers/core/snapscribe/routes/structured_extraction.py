"""The structured-extraction API: one image and a prompt as multipart -> the filled template, in base_resp's
shape."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from snapscribe import services
from snapscribe.config import get_settings
from snapscribe.contracts.structured_extraction import MAX_IMAGE_BYTES, StructuredExtractionForm
from snapscribe.engines.registry import get_engine
from snapscribe.operations import structured_extraction as operations
from snapscribe.web.errors import STRUCTURED_EXTRACTION_ERRORS
from snapscribe.web.middleware import account_checks
from snapscribe.web.requests import caller, form_body
from snapscribe.web.responses import json_response

router = APIGatewayRouter()


@router.post("/v1/ocr/image/extract", middlewares=account_checks(STRUCTURED_EXTRACTION_ERRORS, idempotent=True))
def extract_structured() -> Response[str]:
    parts = form_body(router, max_file_bytes=MAX_IMAGE_BYTES)
    result = operations.extract_structured(
        StructuredExtractionForm.from_parts(parts.fields, parts.files),
        caller(router),
        accounts=services.account_service(),
        engine_for=get_engine,
        settings=get_settings(),
    )
    return json_response(200, result)

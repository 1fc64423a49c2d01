"""The structured-extraction API: one image and a prompt as multipart -> the filled template, in base_resp's
shape."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from snapscribe import services
from snapscribe.contracts.structured_extraction import MAX_IMAGE_BYTES, StructuredExtractionForm
from snapscribe.operations import structured_extraction as operations
from snapscribe.web.errors import STRUCTURED_EXTRACTION_ERRORS
from snapscribe.web.middleware import account_checks
from snapscribe.web.requests import form_body, wants_fields
from snapscribe.web.work import perform

router = APIGatewayRouter()


@router.post("/v1/ocr/image/extract", middlewares=account_checks(STRUCTURED_EXTRACTION_ERRORS, idempotent=True))
def extract_structured() -> Response[str]:
    parts = form_body(router, max_file_bytes=MAX_IMAGE_BYTES)
    form = StructuredExtractionForm.from_parts(parts.fields, parts.files)
    return perform(router, operations.EXTRACT_STRUCTURED, form, services.deps(), with_fields=wants_fields(router))

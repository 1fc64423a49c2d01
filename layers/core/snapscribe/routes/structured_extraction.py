"""The structured-extraction API: one image and a prompt as multipart -> the filled template, in base_resp's
shape."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from snapscribe.contracts.errors import STRUCTURED_EXTRACTION_ERRORS
from snapscribe.contracts.structured_extraction import MAX_IMAGE_BYTES, StructuredExtractionForm
from snapscribe.operations import structured_extraction as operations
from snapscribe.web.requests import form_body
from snapscribe.web.routing import FIELDS, Api

api = Api(
    "structured-extraction",
    "One image and a prompt as a multipart form: a filled JSON template, in base_resp's shape",
    STRUCTURED_EXTRACTION_ERRORS,
)
router = api.router


def read_form(router: APIGatewayRouter) -> StructuredExtractionForm:
    parts = form_body(router, max_file_bytes=MAX_IMAGE_BYTES)
    return StructuredExtractionForm.from_parts(parts.fields, parts.files)


api.charging(
    "post",
    "/v1/ocr/image/extract",
    name="extract_structured",
    kind=operations.EXTRACT_STRUCTURED,
    read=read_form,
    summary="Fill the JSON template of a prompt from one image (multipart form)",
    description="Every answer carries base_resp: status_code 0 is success; the error codes of each HTTP status "
    "are listed with it. Tokens are charged as used.",
    error_statuses=(400, 401, 402, 409, 413, 429, 500, 503, 504),
    body=StructuredExtractionForm,
    form=True,
    query=(FIELDS,),
    idempotent=True,
)

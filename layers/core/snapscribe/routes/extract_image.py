"""The extract-image API: images by URL or base64 and a prompt -> the engine's answer; and its formats."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from snapscribe.contracts.errors import EXTRACT_IMAGE_ERRORS
from snapscribe.contracts.extract_image import ExtractImageRequest, ImageFormats
from snapscribe.operations import extract_image as operations
from snapscribe.web.requests import json_body, services_of
from snapscribe.web.responses import json_response
from snapscribe.web.routing import FIELDS, Api

api = Api(
    "extract-image", "Images by URL or base64 and a prompt: text, or a filled JSON template", EXTRACT_IMAGE_ERRORS
)
router = api.router

api.charging(
    "post",
    "/api/v1/extract-image",
    name="extract_image",
    kind=operations.EXTRACT_IMAGE,
    read=lambda source: json_body(source, ExtractImageRequest),
    summary="Extract text or JSON from images sent by URL or base64, following a prompt",
    description="Costs 10 credits plus 1 per image. With jsonMode, a JSON template in the prompt is filled.",
    error_statuses=(400, 401, 402, 409, 413, 429, 500, 503),
    body=ExtractImageRequest,
    query=(FIELDS,),
    idempotent=True,
    example={
        "inputMethod": "url",
        "images": ["https://example.com/receipt.jpg"],
        "prompt": 'Extract with this schema: {"total": "", "date": ""}',
        "jsonMode": True,
    },
)


@api.route(
    "get",
    "/api/v1/extract-image",
    summary="The image formats the service reads (free of charge)",
    answer=ImageFormats,
    error_statuses=(401, 429, 500),
)
def list_image_formats() -> Response[str]:
    engines = services_of(router).engines
    return json_response(200, operations.list_image_formats(engines.allowed(), engines.choice().id))

"""The extract-image API: images by URL or base64 and a prompt -> the engine's answer; and its formats."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from snapscribe import services
from snapscribe.contracts.extract_image import ExtractImageRequest
from snapscribe.operations import extract_image as operations
from snapscribe.web.errors import EXTRACT_IMAGE_ERRORS
from snapscribe.web.middleware import account_checks
from snapscribe.web.requests import json_body, wants_fields
from snapscribe.web.responses import json_response
from snapscribe.web.work import perform

router = APIGatewayRouter()


@router.post("/api/v1/extract-image", middlewares=account_checks(EXTRACT_IMAGE_ERRORS, idempotent=True))
def extract_image() -> Response[str]:
    request = json_body(router, ExtractImageRequest)
    return perform(router, operations.EXTRACT_IMAGE, request, services.deps(), with_fields=wants_fields(router))


@router.get("/api/v1/extract-image", middlewares=account_checks(EXTRACT_IMAGE_ERRORS))
def list_image_formats() -> Response[str]:
    return json_response(200, operations.list_image_formats())

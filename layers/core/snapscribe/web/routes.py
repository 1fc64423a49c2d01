"""The route bodies the handlers call: each wires an operation to its contract and its services."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from snapscribe import services
from snapscribe.config import get_settings
from snapscribe.engines.registry import get_engine
from snapscribe.images.formats import supported_formats
from snapscribe.operations import extract_image as extract_image_operation
from snapscribe.web.calls import Call, Outcome
from snapscribe.web.endpoint import json_response, run_endpoint
from snapscribe.web.errors import EXTRACT_IMAGE_ERRORS


def _request_id(event: APIGatewayProxyEvent, context: LambdaContext | None) -> str:
    request_id = event.request_context.request_id
    if request_id:
        return request_id
    return context.aws_request_id if context is not None else "local"


def extract_image(event: APIGatewayProxyEvent, context: LambdaContext | None) -> Response[str]:
    def operation(call: Call) -> Outcome:
        settings = get_settings()
        return extract_image_operation.extract_image(
            call, accounts=services.account_service(), engine=get_engine(), settings=settings
        )

    return run_endpoint(
        headers=event.headers or {},
        body=event.decoded_body if event.is_base64_encoded else event.body,
        method=event.http_method,
        request_id=_request_id(event, context),
        route=extract_image_operation.ROUTE,
        errors=EXTRACT_IMAGE_ERRORS,
        operation=operation,
        context=context,
    )


def extract_image_formats(event: APIGatewayProxyEvent, context: LambdaContext | None) -> Response[str]:
    """GET /api/v1/extract-image: authenticated like every route, and free of charge."""
    return run_endpoint(
        headers=event.headers or {},
        body=None,
        method=event.http_method,
        request_id=_request_id(event, context),
        route="GET /api/v1/extract-image",
        errors=EXTRACT_IMAGE_ERRORS,
        operation=lambda _call: Outcome(200, supported_formats()),
        context=context,
    )


__all__ = ["extract_image", "extract_image_formats", "json_response"]

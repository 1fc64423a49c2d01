"""The route bodies the handlers call: each wires an operation to its contract and its services."""

from __future__ import annotations

import base64
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent, S3Event
from aws_lambda_powertools.utilities.typing import LambdaContext

from snapscribe import services
from snapscribe.config import get_settings
from snapscribe.engines.registry import get_engine
from snapscribe.images.formats import supported_formats
from snapscribe.operations import extract_image as extract_image_operation
from snapscribe.operations import image_extraction, ocr_extract, ocr_process, upload_events, uploads
from snapscribe.web.calls import Call, Outcome
from snapscribe.web.endpoint import Operation, run_endpoint
from snapscribe.web.errors import (
    EXTRACT_IMAGE_ERRORS,
    FILES_ERRORS,
    IMAGE_EXTRACTION_ERRORS,
    OCR_EXTRACT_ERRORS,
    ErrorTable,
)

metrics = Metrics()  # shares its metric set with the handler's Metrics, which flushes it


def _request_id(event: APIGatewayProxyEvent, context: LambdaContext | None) -> str:
    request_id = event.request_context.request_id
    if request_id:
        return request_id
    return context.aws_request_id if context is not None else "local"


def _text_body(event: APIGatewayProxyEvent) -> str | None:
    """The body as text. A JSON route whose body arrived base64-encoded gets it decoded; bytes that are not
    UTF-8 become U+FFFD and fail JSON parsing with a 400, never a 500."""
    if event.is_base64_encoded and event.body:
        return base64.b64decode(event.body).decode("utf-8", errors="replace")
    return event.body


def _serve(
    event: APIGatewayProxyEvent,
    context: LambdaContext | None,
    route: str,
    errors: ErrorTable,
    operation: Operation,
    *,
    binary: bool = False,
) -> Response[str]:
    return run_endpoint(
        headers=event.headers or {},
        # A binary route reads its bytes itself; its body here (as sent) only keys idempotency.
        body=event.body if binary else _text_body(event),
        method=event.http_method,
        request_id=_request_id(event, context),
        route=route,
        errors=errors,
        operation=operation,
        context=context,
    )


# --- seed 001 ------------------------------------------------------------------------------------
def extract_image(event: APIGatewayProxyEvent, context: LambdaContext | None) -> Response[str]:
    def operation(call: Call) -> Outcome:
        return extract_image_operation.extract_image(
            call, accounts=services.account_service(), engine=get_engine(), settings=get_settings()
        )

    return _serve(event, context, extract_image_operation.ROUTE, EXTRACT_IMAGE_ERRORS, operation)


def extract_image_formats(event: APIGatewayProxyEvent, context: LambdaContext | None) -> Response[str]:
    """GET /api/v1/extract-image: authenticated like every route, and free of charge."""
    return _serve(
        event,
        context,
        "GET /api/v1/extract-image",
        EXTRACT_IMAGE_ERRORS,
        lambda _call: Outcome(200, supported_formats()),
    )


# --- seed 002 ------------------------------------------------------------------------------------
def ocr_image_extract(event: APIGatewayProxyEvent, context: LambdaContext | None) -> Response[str]:
    # Multipart arrives base64-encoded (a binary media type of the API); its bytes are parsed as they are.
    raw = base64.b64decode(event.body or "") if event.is_base64_encoded else (event.body or "").encode("utf-8")
    content_type = ocr_extract.content_type_of(event.headers or {})

    def operation(call: Call) -> Outcome:
        form = ocr_extract.parse_form(raw, content_type)
        return ocr_extract.extract(
            call, form, accounts=services.account_service(), engine_for=get_engine, settings=get_settings()
        )

    return _serve(event, context, ocr_extract.ROUTE, OCR_EXTRACT_ERRORS, operation, binary=True)


# --- seed 003 ------------------------------------------------------------------------------------
def upload_url(event: APIGatewayProxyEvent, context: LambdaContext | None) -> Response[str]:
    def operation(call: Call) -> Outcome:
        return uploads.create_upload_url(
            call, uploads=services.upload_store(), objects=services.object_store(), settings=get_settings()
        )

    return _serve(event, context, uploads.UPLOAD_URL_ROUTE, FILES_ERRORS, operation)


def delete_upload(event: APIGatewayProxyEvent, context: LambdaContext | None, upload_id: str) -> Response[str]:
    def operation(call: Call) -> Outcome:
        return uploads.delete_upload(call, upload_id, uploads=services.upload_store(), objects=services.object_store())

    return _serve(event, context, uploads.DELETE_ROUTE, FILES_ERRORS, operation)


def process_upload(event: APIGatewayProxyEvent, context: LambdaContext | None) -> Response[str]:
    def operation(call: Call) -> Outcome:
        settings = get_settings()
        return ocr_process.process(
            call,
            accounts=services.account_service(),
            uploads=services.upload_store(),
            objects=services.object_store(),
            engine=get_engine(default=settings.ocr_engine),
            settings=settings,
        )

    return _serve(event, context, ocr_process.ROUTE, FILES_ERRORS, operation)


def ocr_result(event: APIGatewayProxyEvent, context: LambdaContext | None, result_id: str) -> Response[str]:
    def operation(call: Call) -> Outcome:
        return ocr_process.get_result(call, result_id, objects=services.object_store(), settings=get_settings())

    return _serve(event, context, ocr_process.RESULT_ROUTE, FILES_ERRORS, operation)


# --- seed 004 ------------------------------------------------------------------------------------
def start_extraction(event: APIGatewayProxyEvent, context: LambdaContext | None) -> Response[str]:
    """POST, or GET with a JSON body as the seed documents it."""

    def operation(call: Call) -> Outcome:
        return image_extraction.extract(
            call,
            accounts=services.account_service(),
            uploads=services.upload_store(),
            objects=services.object_store(),
            engine_for=get_engine,
            settings=get_settings(),
        )

    return _serve(event, context, image_extraction.ROUTE, IMAGE_EXTRACTION_ERRORS, operation)


def get_extraction(event: APIGatewayProxyEvent, context: LambdaContext | None, extraction_id: str) -> Response[str]:
    def operation(call: Call) -> Outcome:
        return image_extraction.get(call, extraction_id, objects=services.object_store())

    return _serve(event, context, image_extraction.GET_ROUTE, IMAGE_EXTRACTION_ERRORS, operation)


# --- the S3 trigger -------------------------------------------------------------------------------
def upload_event(event: dict[str, Any]) -> dict[str, Any]:
    """ObjectCreated records from S3, or the scheduled sweep of temporary objects."""
    settings = get_settings()
    if "Records" not in event:
        return {
            "sweptTemporaryObjects": upload_events.sweep_temporary_objects(
                objects=services.object_store(), settings=settings
            )
        }
    s3_event = S3Event(event)
    results = [
        upload_events.check_upload(
            record.s3.get_object.key,
            uploads=services.upload_store(),
            objects=services.object_store(),
            settings=settings,
        )
        for record in s3_event.records
        if record.event_name.startswith("ObjectCreated")
    ]
    for result in results:
        metrics.add_metric(name=f"Uploads{result.outcome.title().replace('-', '')}", unit=MetricUnit.Count, value=1)
    return {"checked": [{"key": result.key, "outcome": result.outcome, "reason": result.reason} for result in results]}

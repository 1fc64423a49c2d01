"""The batch-extraction API: every page of up to 5 stored files, charged per page; kept extractions by uuid.
Its contract documents the call as GET with a JSON body; POST is served too."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from snapscribe import services
from snapscribe.config import get_settings
from snapscribe.contracts.batch_extraction import BatchExtractionRequest, ProcessedExtraction
from snapscribe.engines.registry import get_engine
from snapscribe.operations import batch_extraction as operations
from snapscribe.web.errors import BATCH_EXTRACTION_ERRORS
from snapscribe.web.middleware import account_checks
from snapscribe.web.requests import caller, json_body
from snapscribe.web.responses import json_response

router = APIGatewayRouter()


def _body(extraction: ProcessedExtraction) -> dict[str, object]:
    """The contract's shape: the extraction under `data`; a page's `error` only where it failed."""
    return {"data": extraction.model_dump(exclude_none=True)}


@router.post("/v1/image-extraction", middlewares=account_checks(BATCH_EXTRACTION_ERRORS, idempotent=True))
@router.get("/v1/image-extraction", middlewares=account_checks(BATCH_EXTRACTION_ERRORS))
def extract_batch() -> Response[str]:
    result = operations.extract_batch(
        json_body(router, BatchExtractionRequest),
        caller(router),
        accounts=services.account_service(),
        uploads=services.upload_store(),
        objects=services.object_store(),
        engine_for=get_engine,
        settings=get_settings(),
    )
    return json_response(201, _body(result))


@router.get("/v1/image-extraction/<uuid>", middlewares=account_checks(BATCH_EXTRACTION_ERRORS))
def get_batch_extraction(uuid: str) -> Response[str]:
    return json_response(
        200, _body(operations.get_batch_extraction(caller(router), uuid, objects=services.object_store()))
    )

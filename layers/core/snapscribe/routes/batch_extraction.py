"""The batch-extraction API: every page of up to 5 stored files, charged per page; kept extractions by uuid.
Its contract documents the call as GET with a JSON body; POST is served too."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from snapscribe import services
from snapscribe.contracts.batch_extraction import BatchExtractionRequest
from snapscribe.operations import batch_extraction as operations
from snapscribe.web.answers import answer
from snapscribe.web.errors import BATCH_EXTRACTION_ERRORS
from snapscribe.web.middleware import account_checks
from snapscribe.web.requests import caller, json_body
from snapscribe.web.responses import json_response
from snapscribe.web.work import perform

router = APIGatewayRouter()


@router.post("/v1/image-extraction", middlewares=account_checks(BATCH_EXTRACTION_ERRORS, idempotent=True))
@router.get("/v1/image-extraction", middlewares=account_checks(BATCH_EXTRACTION_ERRORS))
def extract_batch() -> Response[str]:
    request = json_body(router, BatchExtractionRequest)
    return perform(router, operations.EXTRACT_BATCH, request, services.deps(files=True))


@router.get("/v1/image-extraction/<uuid>", middlewares=account_checks(BATCH_EXTRACTION_ERRORS))
def get_batch_extraction(uuid: str) -> Response[str]:
    extraction = operations.get_batch_extraction(caller(router), uuid, objects=services.object_store())
    _status, body = answer(operations.EXTRACT_BATCH.name, extraction)
    return json_response(200, body)

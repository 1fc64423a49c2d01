"""The file-upload API: a presigned POST straight into the private bucket, and deleting one's own upload."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from snapscribe import services
from snapscribe.config import get_settings
from snapscribe.contracts.file_upload import UploadUrlRequest
from snapscribe.operations import file_upload as operations
from snapscribe.web.errors import FILES_ERRORS
from snapscribe.web.middleware import account_checks
from snapscribe.web.requests import caller, json_body
from snapscribe.web.responses import json_response

router = APIGatewayRouter()


@router.post("/api/files/upload-url", middlewares=account_checks(FILES_ERRORS, idempotent=True))
def create_upload_url() -> Response[str]:
    result = operations.create_upload_url(
        json_body(router, UploadUrlRequest),
        caller(router),
        uploads=services.upload_store(),
        objects=services.object_store(),
        settings=get_settings(),
    )
    return json_response(200, result)


@router.delete("/api/files/<uuid>", middlewares=account_checks(FILES_ERRORS))
def delete_upload(uuid: str) -> Response[str]:
    result = operations.delete_upload(
        caller(router), uuid, uploads=services.upload_store(), objects=services.object_store()
    )
    return json_response(200, result)

"""The file-upload API: a presigned POST straight into the private bucket, and deleting one's own upload."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from snapscribe.contracts.errors import FILES_ERRORS
from snapscribe.contracts.file_upload import DeletedUpload, UploadUrlRequest, UploadUrlResponse
from snapscribe.operations import file_upload as operations
from snapscribe.web.requests import caller, json_body, services_of
from snapscribe.web.responses import json_response
from snapscribe.web.routing import Api

api = Api("file-upload", "Upload first (a presigned POST), then OCR by key or batch extraction", FILES_ERRORS)
router = api.router
UPLOADED_KEY = {"key": "$response.body#/key"}
UPLOADED_UUID = {"uuid": "$response.body#/uuid"}


@api.route(
    "post",
    "/api/files/upload-url",
    summary="A presigned POST to upload a file straight into the service's private bucket",
    description="POST the file to uploadUrl as multipart/form-data: the fields first, the file last (as `file`). "
    "The upload is checked when it lands; until then using it answers 409.",
    answer=UploadUrlResponse,
    error_statuses=(400, 401, 409, 429, 500),
    body=UploadUrlRequest,
    idempotent=True,
    example={"filename": "scan.png", "contentType": "image/png", "size": 48213},
    links=(
        (200, "OcrByKey", {"operationId": "ocr_by_key", "requestBody": UPLOADED_KEY}),
        (
            200,
            "OcrByKeyAsJob",
            {
                "operationId": "ocr_by_key",
                "requestBody": UPLOADED_KEY,
                "parameters": {"header.Prefer": "respond-async"},
            },
        ),
        (
            200,
            "ExtractBatch",
            {"operationId": "extract_batch", "requestBody": {"engine": {"name": "local"}, "files": [UPLOADED_UUID]}},
        ),
        (200, "DeleteUpload", {"operationId": "delete_upload", "parameters": UPLOADED_UUID}),
    ),
)
def create_upload_url() -> Response[str]:
    result = operations.create_upload_url(
        json_body(router, UploadUrlRequest),
        caller(router),
        uploads=services_of(router).uploads,
        objects=services_of(router).objects,
        settings=services_of(router).settings,
    )
    return json_response(200, result)


@api.route(
    "delete",
    "/api/files/{uuid}",
    summary="Delete one's own upload",
    answer=DeletedUpload,
    error_statuses=(401, 404, 429, 500),
)
def delete_upload(uuid: str) -> Response[str]:
    result = operations.delete_upload(
        caller(router), uuid, uploads=services_of(router).uploads, objects=services_of(router).objects
    )
    return json_response(200, result)

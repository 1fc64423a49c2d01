"""What the OpenAPI document says of each route: data only (the document is built by `document.py`).

Each entry's name is the route's name everywhere: the operationId here, the template's event id in CamelCase,
the handler function and the operation. The request and answer models are the ones the code validates and
answers with; the error bodies come from the API's error table. tests/template/test_openapi.py checks that
this list, the template's events and the functions' routers name the same routes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel

from snapscribe import errors as e
from snapscribe.contracts.account import AccountView
from snapscribe.contracts.batch_extraction import BatchExtractionAnswer, BatchExtractionRequest
from snapscribe.contracts.extract_image import ExtractImageRequest, ExtractImageResponse, ImageFormats
from snapscribe.contracts.file_upload import DeletedUpload, UploadUrlRequest, UploadUrlResponse
from snapscribe.contracts.jobs import JobList, JobView
from snapscribe.contracts.ocr_by_key import OcrByKeyRequest, OcrByKeyResponse
from snapscribe.contracts.structured_extraction import StructuredExtractionForm, StructuredExtractionResponse
from snapscribe.web.errors import (
    BATCH_EXTRACTION_ERRORS,
    EXTRACT_IMAGE_ERRORS,
    FILES_ERRORS,
    JOBS_ERRORS,
    STRUCTURED_EXTRACTION_ERRORS,
    ErrorTable,
)


@dataclass(frozen=True)
class QueryParameter:
    name: str
    schema: dict[str, Any]
    description: str


@dataclass(frozen=True)
class DocumentedRoute:
    name: str
    method: str
    path: str  # as the template writes it: /api/v1/jobs/{jobId}
    api: str  # the tag: which API it belongs to
    summary: str
    status: int  # of success
    answer: type[BaseModel] | None  # None: any JSON object, or the page of a text/html route
    errors: ErrorTable | None = None  # None: a public route, no API key
    error_statuses: tuple[int, ...] = ()
    body: type[BaseModel] | None = None
    form: bool = False  # the body is multipart/form-data
    query: tuple[QueryParameter, ...] = ()
    charging: bool = False  # it charges: Prefer: respond-async (202, a job) and Callback-Url
    idempotent: bool = False  # Idempotency-Key
    description: str = ""
    example: dict[str, Any] | None = None  # a request body
    content_type: str = "application/json"  # of the answer
    links: tuple[tuple[int, str, dict[str, Any]], ...] = ()  # (status, name, OpenAPI link): what a client does next


FIELDS = QueryParameter(
    "fields",
    {"type": "string", "enum": ["true", "false", "1", "0"], "default": "false"},
    "true adds `fields` to the answer: each filled field's value, confidence (0-1), page and box by JSON pointer. "
    "Without it the body is exactly as the contract specifies.",
)
LIMIT = QueryParameter("limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}, "Jobs per page")
CURSOR = QueryParameter("cursor", {"type": "string"}, "The previous page's nextCursor")


def _follow_job(status: int = 202) -> tuple[tuple[int, str, dict[str, Any]], ...]:
    job_id = {"jobId": "$response.body#/jobId"}
    return (
        (status, "GetJob", {"operationId": "get_job", "parameters": job_id}),
        (status, "CancelJob", {"operationId": "cancel_job", "parameters": job_id}),
    )


UPLOADED_KEY = {"key": "$response.body#/key"}
UPLOADED_UUID = {"uuid": "$response.body#/uuid"}

EXTRACT_BATCH = DocumentedRoute(
    name="extract_batch",
    method="post",
    path="/v1/image-extraction",
    api="batch-extraction",
    summary="Every page of up to 5 uploaded files, charged per page",
    description="Pages that fail are refunded (returned_credits).",
    status=201,
    answer=BatchExtractionAnswer,
    errors=BATCH_EXTRACTION_ERRORS,
    error_statuses=(400, 401, 402, 404, 409, 413, 429, 500),
    body=BatchExtractionRequest,
    charging=True,
    idempotent=True,
    example={"engine": {"name": "local"}, "files": [{"uuid": "5f0c7a4e-1d2b-4c3a-9e8f-7a6b5c4d3e2f"}]},
    links=(
        (
            201,
            "GetBatchExtraction",
            {"operationId": "get_batch_extraction", "parameters": {"uuid": "$response.body#/data/uuid"}},
        ),
        *_follow_job(),
    ),
)

ROUTES: tuple[DocumentedRoute, ...] = (
    DocumentedRoute(
        name="extract_image",
        method="post",
        path="/api/v1/extract-image",
        api="extract-image",
        summary="Extract text or JSON from images sent by URL or base64, following a prompt",
        description="Costs 10 credits plus 1 per image. With jsonMode, a JSON template in the prompt is filled.",
        status=200,
        answer=ExtractImageResponse,
        errors=EXTRACT_IMAGE_ERRORS,
        error_statuses=(400, 401, 402, 409, 413, 429, 500),
        body=ExtractImageRequest,
        query=(FIELDS,),
        charging=True,
        idempotent=True,
        example={
            "inputMethod": "url",
            "images": ["https://example.com/receipt.jpg"],
            "prompt": 'Extract with this schema: {"total": "", "date": ""}',
            "jsonMode": True,
        },
        links=_follow_job(),
    ),
    DocumentedRoute(
        name="list_image_formats",
        method="get",
        path="/api/v1/extract-image",
        api="extract-image",
        summary="The image formats the service reads (free of charge)",
        status=200,
        answer=ImageFormats,
        errors=EXTRACT_IMAGE_ERRORS,
        error_statuses=(401, 429, 500),
    ),
    DocumentedRoute(
        name="extract_structured",
        method="post",
        path="/v1/ocr/image/extract",
        api="structured-extraction",
        summary="Fill the JSON template of a prompt from one image (multipart form)",
        description="Every answer carries base_resp: status_code 0 is success; the error codes of each HTTP status "
        "are listed with it. Tokens are charged as used.",
        status=200,
        answer=StructuredExtractionResponse,
        errors=STRUCTURED_EXTRACTION_ERRORS,
        error_statuses=(400, 401, 402, 409, 413, 429, 500, 504),
        body=StructuredExtractionForm,
        form=True,
        query=(FIELDS,),
        charging=True,
        idempotent=True,
        links=_follow_job(),
    ),
    DocumentedRoute(
        name="create_upload_url",
        method="post",
        path="/api/files/upload-url",
        api="file-upload",
        summary="A presigned POST to upload a file straight into the service's private bucket",
        description="POST the file to uploadUrl as multipart/form-data: the fields first, the file last (as `file`). "
        "The upload is checked when it lands; until then using it answers 409.",
        status=200,
        answer=UploadUrlResponse,
        errors=FILES_ERRORS,
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
                {
                    "operationId": "extract_batch",
                    "requestBody": {"engine": {"name": "local"}, "files": [UPLOADED_UUID]},
                },
            ),
            (200, "DeleteUpload", {"operationId": "delete_upload", "parameters": UPLOADED_UUID}),
        ),
    ),
    DocumentedRoute(
        name="delete_upload",
        method="delete",
        path="/api/files/{uuid}",
        api="file-upload",
        summary="Delete one's own upload",
        status=200,
        answer=DeletedUpload,
        errors=FILES_ERRORS,
        error_statuses=(401, 404, 429, 500),
    ),
    DocumentedRoute(
        name="ocr_by_key",
        method="post",
        path="/api/ocr/process",
        api="ocr-by-key",
        summary="The text of an upload, by its key; the result is kept",
        description="Holds up to 2,306 tokens a page (plus 24) and charges what was used.",
        status=200,
        answer=OcrByKeyResponse,
        errors=FILES_ERRORS,
        error_statuses=(400, 401, 402, 404, 409, 413, 429, 500),
        body=OcrByKeyRequest,
        charging=True,
        idempotent=True,
        example={"key": "ocr/0b6f2c1e-user/5f0c7a4e-1d2b-4c3a-9e8f-7a6b5c4d3e2f-scan.png"},
        links=(
            (200, "GetOcrResult", {"operationId": "get_ocr_result", "parameters": {"id": "$response.body#/id"}}),
            *_follow_job(),
        ),
    ),
    DocumentedRoute(
        name="get_ocr_result",
        method="get",
        path="/api/ocr/results/{id}",
        api="ocr-by-key",
        summary="A kept OCR result, with a fresh link to its file",
        status=200,
        answer=OcrByKeyResponse,
        errors=FILES_ERRORS,
        error_statuses=(401, 404, 429, 500),
    ),
    EXTRACT_BATCH,
    replace(
        EXTRACT_BATCH,
        name="extract_batch_by_get",
        method="get",
        summary="The same as POST /v1/image-extraction: its contract documents the call as GET with a JSON body",
        description="Prefer POST: many HTTP clients and proxies drop a GET's body. No Idempotency-Key on GET.",
        idempotent=False,
    ),
    DocumentedRoute(
        name="get_batch_extraction",
        method="get",
        path="/v1/image-extraction/{uuid}",
        api="batch-extraction",
        summary="A kept batch extraction, by its uuid",
        status=200,
        answer=BatchExtractionAnswer,
        errors=BATCH_EXTRACTION_ERRORS,
        error_statuses=(401, 404, 429, 500),
    ),
    DocumentedRoute(
        name="list_jobs",
        method="get",
        path="/api/v1/jobs",
        api="jobs",
        summary="The caller's jobs, newest first, a page at a time",
        status=200,
        answer=JobList,
        errors=JOBS_ERRORS,
        error_statuses=(400, 401, 429, 500),
        query=(LIMIT, CURSOR),
        links=(
            (200, "GetFirstJob", {"operationId": "get_job", "parameters": {"jobId": "$response.body#/jobs/0/jobId"}}),
        ),
    ),
    DocumentedRoute(
        name="get_job",
        method="get",
        path="/api/v1/jobs/{jobId}",
        api="jobs",
        summary="A job's progress and, once finished, the answer the synchronous call would have given",
        status=200,
        answer=JobView,
        errors=JOBS_ERRORS,
        error_statuses=(401, 404, 429, 500),
    ),
    DocumentedRoute(
        name="cancel_job",
        method="delete",
        path="/api/v1/jobs/{jobId}",
        api="jobs",
        summary="Cancel a job: items not started do not run, and their hold comes back",
        status=200,
        answer=JobView,
        errors=JOBS_ERRORS,
        error_statuses=(401, 404, 409, 429, 500),
    ),
    DocumentedRoute(
        name="get_account",
        method="get",
        path="/api/v1/account",
        api="account",
        summary="The caller's balance, rate limit and recent usage",
        status=200,
        answer=AccountView,
        errors=JOBS_ERRORS,
        error_statuses=(401, 429, 500),
    ),
    DocumentedRoute(
        name="get_openapi",
        method="get",
        path="/openapi.json",
        api="docs",
        summary="This document",
        status=200,
        answer=None,
    ),
    DocumentedRoute(
        name="get_api_docs",
        method="get",
        path="/docs",
        api="docs",
        summary="This document in Swagger UI",
        status=200,
        answer=None,
        content_type="text/html",
    ),
)

TAGS: dict[str, str] = {
    "extract-image": "Images by URL or base64 and a prompt: text, or a filled JSON template",
    "structured-extraction": "One image and a prompt as a multipart form: a filled JSON template, in base_resp's shape",
    "file-upload": "Upload first (a presigned POST), then OCR by key or batch extraction",
    "ocr-by-key": "The text of an upload, by its key",
    "batch-extraction": "Every page of up to 5 uploads",
    "jobs": "Work sent with `Prefer: respond-async`: follow, list and cancel it",
    "account": "Balance, rate limit and usage",
    "docs": "This description of the API",
}

# What each error means, for the description of the statuses that answer it.
ERROR_MEANINGS: dict[type[e.SnapscribeError], str] = {
    e.Unauthorized: "no API key, or not a valid one",
    e.InsufficientBalance: "the balance cannot pay for the request (nothing was charged)",
    e.RateLimited: "the key's requests per minute are used up: retry after Retry-After seconds",
    e.RequestInProgress: "a request with this Idempotency-Key is still running",
    e.TooLongForSync: "too much work for one synchronous request (nothing was charged): send it as a job",
    e.MissingField: "a required field is missing",
    e.UnsupportedImageFormat: "the image's format is not accepted",
    e.ImageTooLarge: "the image is too large",
    e.CorruptImage: "the image cannot be read",
    e.DecompressionBomb: "the image would be too large once decoded",
    e.InvalidRequest: "the request is invalid: the message says what is wrong",
    e.UploadPending: "the upload has not been checked yet (or was never uploaded)",
    e.NotFound: "not found, or not the caller's (the two are answered alike)",
    e.JobFinished: "the job has finished",
    e.EngineTimeout: "the engine did not answer in time",
    e.EngineError: "the engine failed",
}

"""Seed 003, step two: OCR an upload by its key, charge tokens, keep the result for its owner."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from snapscribe.accounts.service import AccountService
from snapscribe.config import Settings
from snapscribe.contracts.files import OcrProcessRequest, OcrProcessResponse
from snapscribe.contracts.parsing import parse_json_body
from snapscribe.engines.base import Engine, ExtractionRequest
from snapscribe.errors import EngineError, NotFound, SnapscribeError, UploadPending, UploadRejected
from snapscribe.images.prepare import PreparedImage, prepare_pages
from snapscribe.language import detect_language
from snapscribe.storage.keys import RESULTS_PREFIX, parse_upload_key
from snapscribe.storage.uploads import PENDING, REJECTED, ObjectStore, UploadRecord, UploadStore
from snapscribe.web.calls import Call, Outcome

ROUTE = "POST /api/ocr/process"
RESULT_ROUTE = "GET /api/ocr/results/{id}"
# What an LLM engine is asked; the local engine reads the text whatever the prompt.
OCR_PROMPT = "Transcribe all text in this image exactly as printed, in reading order. Output only the text."


class OcrFailed(EngineError):
    """The engine failed on an accepted upload; the tokens held for it come back."""


def result_key(user_id: str, result_id: str) -> str:
    return f"{RESULTS_PREFIX}{user_id}/{result_id}.json"


def owned_upload(call: Call, key: object, uploads: UploadStore) -> UploadRecord:
    """The caller's upload for `key`: 400 if malformed; 404 alike for missing and for another user's."""
    parsed = parse_upload_key(key)
    if parsed.user_id != call.principal.user_id or parsed.upload_id is None:
        raise NotFound()
    record = uploads.get(parsed.user_id, parsed.upload_id)
    if record is None or record.key != parsed.key:
        raise NotFound()
    return checked_upload(record)


def checked_upload(record: UploadRecord) -> UploadRecord:
    """The upload, if the trigger found it good: 409 while it has not looked, 400 when it refused it."""
    if record.status == PENDING:
        raise UploadPending("The upload has not been checked yet; retry in a few seconds")
    if record.status == REJECTED:
        raise UploadRejected(f"The upload was rejected: {record.reason}")
    return record


def read_pages(record: UploadRecord, objects: ObjectStore, engine: Engine, settings: Settings) -> list[PreparedImage]:
    data = objects.read(record.key, max_bytes=record.max_bytes)
    if data is None:
        raise NotFound()
    pages = prepare_pages(
        data,
        max_side=engine.max_image_side,
        max_pixels=settings.max_image_pixels,
        max_pages=settings.max_pages_per_file,
    )
    for page in pages:
        if isinstance(page, SnapscribeError):
            raise page
    return [page for page in pages if isinstance(page, PreparedImage)]


def process(
    call: Call,
    *,
    accounts: AccountService,
    uploads: UploadStore,
    objects: ObjectStore,
    engine: Engine,
    settings: Settings,
) -> Outcome:
    request = parse_json_body(call.body, OcrProcessRequest)
    record = owned_upload(call, request.key, uploads)
    hold = engine.token_hold(max(1, record.pages), OCR_PROMPT)
    reservation = accounts.reserve(call.principal, hold, request_id=call.request_id, route=ROUTE)
    settled = False
    try:
        pages = read_pages(record, objects, engine, settings)
        try:
            result = engine.extract(ExtractionRequest(images=pages, prompt=OCR_PROMPT))
        except EngineError as error:
            raise OcrFailed(error.message) from error
        tokens_used = min(result.total_tokens, hold)
        result_id = str(uuid.uuid4())
        response = OcrProcessResponse(
            id=result_id,
            text=result.text,
            key=record.key,
            fileUrl=objects.presigned_get(record.key, expires_in=settings.file_url_expiry_seconds),
            createdAt=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            wordCount=len(result.text.split()),
            tokensUsed=tokens_used,
            language=detect_language(result.text),
        ).model_dump()
        objects.put_json(result_key(call.principal.user_id, result_id), response)
        accounts.settle(reservation, refund=hold - tokens_used)
        settled = True
        return Outcome(200, response)
    finally:
        if not settled:
            accounts.settle(reservation, refund=hold)


def get_result(call: Call, result_id: str, *, objects: ObjectStore, settings: Settings) -> Outcome:
    """A kept result, to its owner only, with a fresh link to the file."""
    try:
        result_id = str(uuid.UUID(result_id))
    except ValueError as error:
        raise NotFound("Result not found") from error
    stored = objects.get_json(result_key(call.principal.user_id, result_id))
    if stored is None:
        raise NotFound("Result not found")
    stored["fileUrl"] = objects.presigned_get(str(stored["key"]), expires_in=settings.file_url_expiry_seconds)
    return Outcome(200, stored)

"""The OCR-by-key API: OCR an upload by its key, charge the tokens used, keep the result for its owner."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from snapscribe.accounts.service import AccountService
from snapscribe.config import Settings
from snapscribe.contracts.ocr_by_key import OcrByKeyRequest, OcrByKeyResponse
from snapscribe.engines.base import Engine, ExtractionRequest
from snapscribe.errors import EngineError, NotFound, SnapscribeError, UploadPending, UploadRejected
from snapscribe.images.prepare import PreparedImage, prepare_pages
from snapscribe.language import detect_language
from snapscribe.operations.caller import Caller
from snapscribe.storage.keys import RESULTS_PREFIX, parse_upload_key
from snapscribe.storage.uploads import PENDING, REJECTED, ObjectStore, UploadRecord, UploadStore

# What an LLM engine is asked; the local engine reads the text whatever the prompt.
OCR_PROMPT = "Transcribe all text in this image exactly as printed, in reading order. Output only the text."


class OcrFailed(EngineError):
    """The engine failed on an accepted upload; the tokens held for it come back."""


def result_key(user_id: str, result_id: str) -> str:
    return f"{RESULTS_PREFIX}{user_id}/{result_id}.json"


def owned_upload(user_id: str, key: object, uploads: UploadStore) -> UploadRecord:
    """The user's upload for `key`: InvalidFileKey if malformed; NotFound alike for missing and for another
    user's, so that existence never leaks."""
    parsed = parse_upload_key(key)
    if parsed.user_id != user_id or parsed.upload_id is None:
        raise NotFound()
    record = uploads.get(parsed.user_id, parsed.upload_id)
    if record is None or record.key != parsed.key:
        raise NotFound()
    return checked_upload(record)


def checked_upload(record: UploadRecord) -> UploadRecord:
    """The upload, if the trigger found it good: UploadPending while it has not looked, UploadRejected when it
    refused it."""
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


def ocr_by_key(
    request: OcrByKeyRequest,
    caller: Caller,
    *,
    accounts: AccountService,
    uploads: UploadStore,
    objects: ObjectStore,
    engine: Engine,
    settings: Settings,
) -> OcrByKeyResponse:
    record = owned_upload(caller.user_id, request.key, uploads)
    with accounts.hold(caller, engine.token_hold(max(1, record.pages), OCR_PROMPT)) as hold:
        pages = read_pages(record, objects, engine, settings)
        try:
            result = engine.extract(ExtractionRequest(images=pages, prompt=OCR_PROMPT))
        except EngineError as error:
            raise OcrFailed(error.message) from error
        hold.use(result.total_tokens)
        response = OcrByKeyResponse(
            id=str(uuid.uuid4()),
            text=result.text,
            key=record.key,
            fileUrl=objects.presigned_get(record.key, expires_in=settings.file_url_expiry_seconds),
            createdAt=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            wordCount=len(result.text.split()),
            tokensUsed=hold.used,
            language=detect_language(result.text),
        )
        objects.put_json(result_key(caller.user_id, response.id), response.model_dump())
        return response


def get_ocr_result(caller: Caller, result_id: str, *, objects: ObjectStore, settings: Settings) -> OcrByKeyResponse:
    """A kept result, to its owner only, with a fresh link to the file."""
    try:
        result_id = str(uuid.UUID(result_id))
    except ValueError as error:
        raise NotFound("Result not found") from error
    stored = objects.get_json(result_key(caller.user_id, result_id))
    if stored is None:
        raise NotFound("Result not found")
    result = OcrByKeyResponse.model_validate(stored)
    result.fileUrl = objects.presigned_get(result.key, expires_in=settings.file_url_expiry_seconds)
    return result

"""The OCR-by-key API: OCR an upload by its key, charge the tokens used, keep the result for its owner."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from snapscribe.caller import Caller
from snapscribe.config import Settings
from snapscribe.contracts.errors import FILES_ERRORS
from snapscribe.contracts.ocr_by_key import OcrByKeyRequest, OcrByKeyResponse
from snapscribe.engines.base import ExtractionRequest, ExtractionResult, page_engine
from snapscribe.engines.layout import OcrLine
from snapscribe.errors import (
    CorruptImage,
    EngineError,
    EngineThrottled,
    EngineUnavailable,
    NotFound,
    SnapscribeError,
    UploadPending,
    UploadRejected,
)
from snapscribe.images.prepare import PreparedImage, prepare_pages
from snapscribe.jobs.plan import Deps, Finished, ItemOutcome, JobKind, PlanContext, WorkPlan, first_failure
from snapscribe.language import detect_language
from snapscribe.operations.whole_files import is_whole_file, read_whole_file, whole_file_item
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


class OcrByKeyContext(PlanContext):
    key: str  # the upload's key
    max_bytes: int  # what it may hold (its presigned POST's limit)
    pages: int
    tokens_held: int = 0  # the most tokens the engine can count for the file (its hold, before its price)


def _read_upload(plan: WorkPlan, deps: Deps) -> bytes:
    context = OcrByKeyContext.of(plan)
    key, max_bytes = context.key, context.max_bytes
    data = deps.cache.get(key, lambda: deps.object_store().read(key, max_bytes=max_bytes))
    if data is None:
        raise NotFound()
    return data


class OcrByKey(JobKind):
    name = "ocr_by_key"
    all_or_nothing = True  # one text for the whole file: a page that fails fails the request
    answer_model = OcrByKeyResponse
    errors = FILES_ERRORS
    context_model = OcrByKeyContext

    def plan(self, request: OcrByKeyRequest, caller: Caller, deps: Deps) -> WorkPlan:
        record = owned_upload(caller.user_id, request.key, deps.upload_store())
        engine_id = deps.settings.ocr_engine
        engine = deps.engine_for(engine_id)
        pages = max(1, record.pages)
        settings = deps.settings
        tokens_held = engine.token_hold(pages, OCR_PROMPT)
        if engine.reads_pages_apart:
            # A job's multi-page PDF or TIFF is one item for an engine that reads it whole (Textract).
            whole = whole_file_item(engine, record, caller, 0)
            items = [whole] if whole else [{"page": number} for number in range(1, pages + 1)]
            seconds = pages * settings.local_seconds_per_page
        else:
            items = [{"pages": pages}]
            seconds = settings.model_seconds_per_call + pages * settings.model_seconds_per_image
        return WorkPlan(
            kind=self.name,
            request=request.model_dump(),
            hold=deps.credits(engine_id, tokens_held, pages),
            items=items,
            seconds=seconds,
            context=OcrByKeyContext(
                engine=engine_id, key=record.key, max_bytes=record.max_bytes, pages=pages, tokens_held=tokens_held
            ),
        )

    def run_item(self, plan: WorkPlan, index: int, deps: Deps) -> dict[str, Any]:
        engine = deps.engine_for(OcrByKeyContext.of(plan).engine)
        reader = page_engine(engine)
        settings = deps.settings
        try:
            if reader is None:  # every page to the model in one call
                pages = prepare_pages(
                    _read_upload(plan, deps),
                    max_side=engine.max_image_side,
                    max_pixels=settings.max_image_pixels,
                    max_pages=settings.max_pages_per_file,
                )
                result = engine.extract(ExtractionRequest(images=[_page(page) for page in pages], prompt=OCR_PROMPT))
                return result.to_json()
            item = plan.items[index]
            if is_whole_file(item):  # every page, in page order, from one call on the stored file
                context = OcrByKeyContext.of(plan)
                data = _read_upload(plan, deps)
                read = read_whole_file(engine, deps, item, data, key=context.key, pages=context.pages)
                return {"lines": [asdict(line) for lines in read for line in lines]}
            number = int(item["page"])
            found = prepare_pages(
                _read_upload(plan, deps),
                max_side=engine.max_image_side,
                max_pixels=settings.max_image_pixels,
                max_pages=settings.max_pages_per_file,
                only=number,
            )
            if not found:
                raise CorruptImage(f"page {number}: the page is missing")
            lines = reader.read_page(_page(found[0]), number - 1)
            return {"lines": [asdict(line) for line in lines]}
        except (EngineThrottled, EngineUnavailable):
            raise  # their own answers: 503, retried in a job
        except EngineError as error:
            raise OcrFailed(error.message) from error

    def finish(self, plan: WorkPlan, outcomes: Sequence[ItemOutcome], caller: Caller, deps: Deps) -> Finished:
        failure = first_failure(outcomes)
        if failure is not None:
            raise failure
        outputs = [outcome.output or {} for outcome in outcomes]
        context = OcrByKeyContext.of(plan)
        reader = page_engine(deps.engine_for(context.engine))
        if reader is not None:
            lines = [OcrLine(**line) for output in outputs for line in output["lines"]]
            result = reader.compose(ExtractionRequest(images=(), prompt=OCR_PROMPT), lines, context.pages)
            text, tokens = result.text, result.total_tokens
        else:
            answered = ExtractionResult.from_json(outputs[0])
            text, tokens = answered.text, answered.total_tokens
        settings, objects = deps.settings, deps.object_store()
        response = OcrByKeyResponse(
            id=str(uuid.uuid4()),
            text=text,
            key=context.key,
            fileUrl=objects.presigned_get(context.key, expires_in=settings.file_url_expiry_seconds),
            createdAt=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            wordCount=len(text.split()),
            tokensUsed=min(tokens, context.tokens_held),  # never beyond what was held
            language=detect_language(text),
        )
        objects.put_json(result_key(caller.user_id, response.id), response.model_dump())
        # Charged at the engine's price, never beyond what was held for it.
        used = deps.credits(context.engine, response.tokensUsed, context.pages)
        return Finished(result=response, used=min(used, plan.hold))


def _page(page: PreparedImage | SnapscribeError) -> PreparedImage:
    if isinstance(page, SnapscribeError):
        raise page
    return page


OCR_BY_KEY = OcrByKey()


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

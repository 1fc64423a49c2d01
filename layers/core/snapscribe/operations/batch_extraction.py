"""The batch-extraction API: up to 5 stored files, every page, charged per page up front; failed pages refunded."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from snapscribe.caller import Caller
from snapscribe.contracts.batch_extraction import (
    MAX_FILES,
    BatchExtractionAnswer,
    BatchExtractionRequest,
    FileResult,
    PageResult,
    ProcessedExtraction,
)
from snapscribe.contracts.errors import BATCH_EXTRACTION_ERRORS
from snapscribe.engines.base import Engine, ExtractionRequest, page_engine
from snapscribe.errors import (
    CorruptImage,
    InvalidFileKey,
    InvalidRequest,
    LimitExceeded,
    NotFound,
    SnapscribeError,
)
from snapscribe.images.prepare import prepare_pages
from snapscribe.jobs.plan import Deps, Finished, ItemOutcome, JobKind, PlanContext, WorkPlan
from snapscribe.language import UNDETERMINED, detect_language
from snapscribe.operations.ocr_by_key import OCR_PROMPT, checked_upload, owned_upload, result_key
from snapscribe.operations.whole_files import is_whole_file, whole_file_item, whole_file_texts
from snapscribe.storage.uploads import ObjectStore, UploadRecord, UploadStore

# The network engine waits on the model: a few pages at a time. The local engine already uses every core
# for each page (onnxruntime), so its pages go one at a time (see engines/local.py for the measurement).
NETWORK_WORKERS = 4
MISSING_FILE = "The file is no longer stored"


def _owned(user_id: str, identifier_uuid: str | None, key: str | None, uploads: UploadStore) -> UploadRecord:
    if key is not None:
        try:
            return owned_upload(user_id, key, uploads)
        except InvalidFileKey as error:
            raise NotFound() from error
    try:
        upload_id = str(uuid.UUID(str(identifier_uuid)))
    except ValueError as error:
        raise NotFound() from error
    record = uploads.get(user_id, upload_id)  # records live under their owner
    if record is None:
        raise NotFound()
    return checked_upload(record)  # the same pending/rejected answers as OCR by key


def _main_language(texts: list[str]) -> str:
    """The language most of the text is in: each page detected alone, weighed by its length."""
    weights: dict[str, int] = {}
    for text in texts:
        language = detect_language(text)
        if language != UNDETERMINED:
            weights[language] = weights.get(language, 0) + len(text)
    return max(weights, key=lambda code: weights[code]) if weights else UNDETERMINED


def language_hints(options: dict[str, Any], engine: Engine) -> list[str]:
    """`options.language` ("fa") or `options.languages` (["ar", "en"]) as ISO 639-1 codes. For the local engine
    each must be one it reads in this deployment (a 400 otherwise); a model engine takes them as they are."""
    raw = options.get("languages", options.get("language"))
    if raw is None:
        return []
    values = [raw] if isinstance(raw, str) else raw
    if not isinstance(values, list) or not all(isinstance(value, str) and value.strip() for value in values):
        raise InvalidRequest("engine.options.language must be a language code, languages a list of them")
    codes = [value.strip().lower().split("-", 1)[0] for value in values]
    reader = page_engine(engine)
    if reader is not None:
        carried = reader.languages()
        missing = [code for code in codes if code not in carried]
        if missing:
            readable = ", ".join(sorted(carried))
            raise InvalidRequest(
                f"Language {', '.join(missing)} is not available in this deployment; it reads: {readable}"
            )
    return codes


class PlannedFile(BaseModel):
    uuid: str
    key: str
    max_bytes: int
    pages: int  # the file's
    processing_pages: int  # the ones read (at most max_pages_per_file)


class BatchContext(PlanContext):
    files: list[PlannedFile]
    credits_per_page: int
    languages: list[str]  # the engine's language hints


class ExtractBatch(JobKind):
    name = "extract_batch"
    all_or_nothing = False  # each page stands alone: a failed page is marked failed and refunded
    status = 201
    answer_model = BatchExtractionAnswer
    errors = BATCH_EXTRACTION_ERRORS
    context_model = BatchContext

    def body(self, result: BaseModel) -> dict[str, Any]:
        """The contract's shape: the extraction under `data`; a page's `error` only if it failed."""
        return BatchExtractionAnswer.model_validate({"data": result}).model_dump(exclude_none=True)

    def plan(self, request: BatchExtractionRequest, caller: Caller, deps: Deps) -> WorkPlan:
        settings = deps.settings
        if len(request.files) > MAX_FILES:
            raise LimitExceeded(f"At most {MAX_FILES} files can be extracted in one request")
        records = [_owned(caller.user_id, item.uuid, item.key, deps.upload_store()) for item in request.files]
        engine_id = request.engine.name.strip()
        engine = deps.engine_for(engine_id)
        languages = language_hints(request.engine.options, engine)
        files = [
            PlannedFile(
                uuid=record.upload_id,
                key=record.key,
                max_bytes=record.max_bytes,
                pages=max(1, record.pages),
                processing_pages=min(max(1, record.pages), settings.max_pages_per_file),
            )
            for record in records
        ]
        items: list[dict[str, Any]] = []
        for index, (record, file) in enumerate(zip(records, files, strict=True)):
            # A job's multi-page PDF or TIFF is one item for an engine that reads it whole (Textract).
            whole = whole_file_item(engine, record, caller, len(items), file=index)
            items.extend(
                [whole] if whole else [{"file": index, "page": n} for n in range(1, file.processing_pages + 1)]
            )
        per_page = settings.extraction_credits_per_page
        local = engine.reads_pages_apart
        seconds_per_page = settings.local_seconds_per_page if local else settings.model_seconds_per_call
        return WorkPlan(
            kind=self.name,
            request=request.model_dump(),
            hold=per_page * sum(file.processing_pages for file in files),
            items=items,
            seconds=math.ceil(len(items) / (1 if local else NETWORK_WORKERS)) * seconds_per_page,
            context=BatchContext(engine=engine_id, files=files, credits_per_page=per_page, languages=languages),
            parallel=1 if local else NETWORK_WORKERS,
        )

    def run_item(self, plan: WorkPlan, index: int, deps: Deps) -> dict[str, Any]:
        item = plan.items[index]
        context = BatchContext.of(plan)
        file = context.files[int(item["file"])]
        engine = deps.engine_for(context.engine)
        key, max_bytes = file.key, file.max_bytes
        data = deps.cache.get(key, lambda: deps.object_store().read(key, max_bytes=max_bytes))
        if data is None:
            raise NotFound(MISSING_FILE)
        languages = tuple(context.languages)
        if is_whole_file(item):  # every page's text, in page order, from one call on the stored file
            pages = file.processing_pages
            return {"pages": whole_file_texts(engine, deps, item, data, key=key, pages=pages, languages=languages)}
        found = prepare_pages(
            data,
            max_side=engine.max_image_side,
            max_pixels=deps.settings.max_image_pixels,
            max_pages=file.processing_pages,
            only=int(item["page"]),
        )
        if not found:
            raise CorruptImage("The page is missing")
        if isinstance(found[0], SnapscribeError):
            raise found[0]
        result = engine.extract(ExtractionRequest(images=[found[0]], prompt=OCR_PROMPT, languages=languages))
        return {"text": result.text}

    def finish(self, plan: WorkPlan, outcomes: Sequence[ItemOutcome], caller: Caller, deps: Deps) -> Finished:
        context = BatchContext.of(plan)
        read = _page_results(plan, outcomes)
        pages = [page for _file, page in read]
        failed = sum(page.status == "failed" for page in pages)
        returned = failed * context.credits_per_page
        request = BatchExtractionRequest.model_validate(plan.request)
        hints = context.languages
        language = _main_language([page.text for page in pages if page.text])
        if language == UNDETERMINED and hints:
            language = str(hints[0])
        files = context.files
        extraction = ProcessedExtraction(
            uuid=str(uuid.uuid4()),
            status="processed" if not failed else ("failed" if failed == len(pages) else "partially_processed"),
            file_type="images",
            engine=request.engine.name.strip(),
            language=language,
            total_files=len(files),
            total_file_pages=sum(file.pages for file in files),
            total_processing_pages=len(pages),
            initial_cost=plan.hold,
            failed_pages=failed,
            returned_credits=returned,
            files=[
                FileResult(uuid=file.uuid, pages=[page for number, page in read if number == index])
                for index, file in enumerate(files)
            ],
        )
        deps.object_store().put_json(
            result_key(caller.user_id, f"extraction-{extraction.uuid}"), extraction.model_dump()
        )
        return Finished(result=extraction, used=plan.hold - returned)


EXTRACT_BATCH = ExtractBatch()


def _page_results(plan: WorkPlan, outcomes: Sequence[ItemOutcome]) -> list[tuple[int, PageResult]]:
    """Every page read, with its file's index, in item order: an item that read a file whole stands for each of its
    pages (its output names each page's text; its error fails each page)."""
    files = BatchContext.of(plan).files
    read = []
    for item, outcome in zip(plan.items, outcomes, strict=True):
        index = int(item["file"])
        whole = is_whole_file(item)
        numbers = range(1, files[index].processing_pages + 1) if whole else [int(item["page"])]
        output = outcome.output
        texts = None if output is None else (output["pages"] if whole else [output["text"]])
        error = outcome.error.message if outcome.error else "The page was not processed"
        for offset, number in enumerate(numbers):
            read.append(
                (index, PageResult(number=number, status="processed", text=str(texts[offset])))
                if texts is not None
                else (index, PageResult(number=number, status="failed", text="", error=error))
            )
    return read


def get_batch_extraction(caller: Caller, extraction_id: str, *, objects: ObjectStore) -> ProcessedExtraction:
    """A kept extraction, to its owner only."""
    try:
        extraction_id = str(uuid.UUID(extraction_id))
    except ValueError as error:
        raise NotFound() from error
    stored = objects.get_json(result_key(caller.user_id, f"extraction-{extraction_id}"))
    if stored is None:
        raise NotFound()
    return ProcessedExtraction.model_validate(stored)

"""The batch-extraction API: up to 5 stored files, every page, charged per page up front; failed pages refunded."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from snapscribe.accounts.service import AccountService
from snapscribe.config import Settings
from snapscribe.contracts.batch_extraction import (
    MAX_FILES,
    BatchExtractionRequest,
    FileResult,
    PageResult,
    ProcessedExtraction,
)
from snapscribe.engines.base import Engine, ExtractionRequest
from snapscribe.errors import InvalidFileKey, LimitExceeded, NotFound, SnapscribeError
from snapscribe.images.prepare import PreparedImage, prepare_pages
from snapscribe.language import UNDETERMINED, detect_language
from snapscribe.operations.caller import Caller
from snapscribe.operations.ocr_by_key import OCR_PROMPT, checked_upload, owned_upload, result_key
from snapscribe.storage.uploads import ObjectStore, UploadRecord, UploadStore

# The network engine waits on the model: a few pages at a time. The local engine already uses every core
# for each page (onnxruntime), so its pages go one at a time (see engines/local.py for the measurement).
NETWORK_WORKERS = 4


@dataclass(frozen=True)
class PageJob:
    file_index: int
    number: int
    image: PreparedImage | None
    error: str | None


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


def _page_jobs(
    index: int, record: UploadRecord, objects: ObjectStore, engine: Engine, settings: Settings
) -> list[PageJob]:
    pages = min(max(1, record.pages), settings.max_pages_per_file)
    data = objects.read(record.key, max_bytes=record.max_bytes)
    if data is None:
        return [PageJob(index, number, None, "The file is no longer stored") for number in range(1, pages + 1)]
    try:
        prepared = prepare_pages(
            data, max_side=engine.max_image_side, max_pixels=settings.max_image_pixels, max_pages=pages
        )
    except SnapscribeError as error:
        return [PageJob(index, number, None, error.message) for number in range(1, pages + 1)]
    jobs = []
    for number in range(1, pages + 1):
        page = prepared[number - 1] if number <= len(prepared) else None
        if isinstance(page, PreparedImage):
            jobs.append(PageJob(index, number, page, None))
        else:
            jobs.append(PageJob(index, number, None, page.message if page is not None else "The page is missing"))
    return jobs


def _run(job: PageJob, engine: Engine) -> PageResult:
    if job.image is None:
        return PageResult(number=job.number, status="failed", text="", error=job.error)
    try:
        result = engine.extract(ExtractionRequest(images=[job.image], prompt=OCR_PROMPT))
    except SnapscribeError as error:
        return PageResult(number=job.number, status="failed", text="", error=error.message)
    return PageResult(number=job.number, status="processed", text=result.text)


def _main_language(texts: list[str]) -> str:
    """The language most of the text is in: each page detected alone, weighed by its length."""
    weights: dict[str, int] = {}
    for text in texts:
        language = detect_language(text)
        if language != UNDETERMINED:
            weights[language] = weights.get(language, 0) + len(text)
    return max(weights, key=lambda code: weights[code]) if weights else UNDETERMINED


def extract_batch(
    request: BatchExtractionRequest,
    caller: Caller,
    *,
    accounts: AccountService,
    uploads: UploadStore,
    objects: ObjectStore,
    engine_for: Callable[[str | None], Engine],
    settings: Settings,
) -> ProcessedExtraction:
    if len(request.files) > MAX_FILES:
        raise LimitExceeded(f"At most {MAX_FILES} files can be extracted in one request")
    records = [_owned(caller.user_id, item.uuid, item.key, uploads) for item in request.files]
    engine = engine_for(request.engine.name.strip())
    processing_pages = sum(min(max(1, record.pages), settings.max_pages_per_file) for record in records)
    per_page = settings.extraction_credits_per_page
    initial_cost = per_page * processing_pages
    with accounts.hold(caller, initial_cost) as hold:
        jobs = [
            job for index, record in enumerate(records) for job in _page_jobs(index, record, objects, engine, settings)
        ]
        workers = NETWORK_WORKERS if engine.name != "local" else 1
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="page") as pool:
            results = list(pool.map(lambda job: _run(job, engine), jobs))  # map keeps file and page order
        failed = sum(result.status == "failed" for result in results)
        returned = failed * per_page
        hint = request.engine.options.get("language")
        language = _main_language([result.text for result in results if result.text])
        if language == UNDETERMINED and isinstance(hint, str) and hint.strip():
            language = hint.strip().lower()
        extraction = ProcessedExtraction(
            uuid=str(uuid.uuid4()),
            status="processed" if not failed else ("failed" if failed == len(results) else "partially_processed"),
            file_type="images",
            engine=request.engine.name.strip(),
            language=language,
            total_files=len(records),
            total_file_pages=sum(max(1, record.pages) for record in records),
            total_processing_pages=processing_pages,
            initial_cost=initial_cost,
            failed_pages=failed,
            returned_credits=returned,
            files=[
                FileResult(
                    uuid=record.upload_id,
                    pages=[r for j, r in zip(jobs, results, strict=True) if j.file_index == index],
                )
                for index, record in enumerate(records)
            ],
        )
        objects.put_json(result_key(caller.user_id, f"extraction-{extraction.uuid}"), extraction.model_dump())
        hold.use(initial_cost - returned)
        return extraction


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

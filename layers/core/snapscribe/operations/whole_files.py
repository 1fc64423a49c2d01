"""A job's multi-page PDF or TIFF upload, read whole by an engine that reads documents from the bucket itself
(Textract's asynchronous API): one work item for the file instead of one per page, for OCR by key and batch
extraction alike. Only in a job: the synchronous path keeps one call per page, each well within the request's
time; and only for more than one page, which one synchronous call reads as well. The answers keep their shape:
each page's lines (or text) in page order, charged per page as before."""

from __future__ import annotations

import hashlib
import io
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from PIL import Image

from snapscribe.caller import Caller
from snapscribe.engines.base import Engine, ExtractionRequest, ExtractionResult
from snapscribe.engines.layout import OcrLine
from snapscribe.errors import EngineUnavailable
from snapscribe.images.prepare import PDF_DPI, PDFIUM_LOCK, is_pdf  # PDFium's one lock: it is not thread-safe
from snapscribe.jobs.plan import Deps
from snapscribe.storage.uploads import UploadRecord

WHOLE_FILE = "document"  # an item's key: the idempotency token of the engine's job that reads the file
DOCUMENT_FORMATS = frozenset({"PDF", "TIFF"})  # what the upload trigger records that Textract reads whole
# The engine's job is polled for this share of the worker's timeout, the rest kept for the item's record and the
# batch's other messages. Past it the item fails (its hold comes back); a worker stopped before it instead leaves
# its message to be delivered again, whose item resumes the same engine job (the same token).
DOCUMENT_SHARE_OF_TIMEOUT = 0.8


@runtime_checkable
class DocumentReader(Protocol):
    """An engine that reads a stored file whole (engines/textract.py)."""

    max_image_side: int | None

    def read_document(
        self,
        bucket: str,
        key: str,
        *,
        page_sizes: Sequence[tuple[int, int]] | None,
        deadline: float,
        client_token: str | None = None,
        languages: Sequence[str] = (),
    ) -> list[OcrLine]: ...

    def compose(self, request: ExtractionRequest, lines: Sequence[OcrLine], pages: int) -> ExtractionResult: ...


def whole_file_item(engine: Engine, record: UploadRecord, caller: Caller, index: int, **spec: Any) -> dict[str, Any]:
    """The one item (the `index`-th of its plan) that reads the upload whole, or {} where its pages are read one by
    one. Its token is stable for the job's item: a message delivered again starts no second engine job."""
    whole = record.pages > 1 and record.image_format in DOCUMENT_FORMATS and isinstance(engine, DocumentReader)
    if caller.job_id is None or not whole:
        return {}
    token = hashlib.sha256(f"{caller.job_id}/{index}".encode()).hexdigest()  # 64 of [0-9a-f]: what Textract takes
    return {**spec, WHOLE_FILE: token}


def is_whole_file(item: Mapping[str, Any]) -> bool:
    return WHOLE_FILE in item


def read_whole_file(
    engine: Engine,
    deps: Deps,
    item: Mapping[str, Any],
    data: bytes,
    *,
    key: str,
    pages: int,
    languages: Sequence[str] = (),
) -> list[list[OcrLine]]:
    """Each of the file's first `pages` pages' lines, in page order, from one call of the engine on the stored file
    (`data`, its bytes, gives the pages' sizes as the per-page path renders them: their pixels, nothing rendered)."""
    if not isinstance(engine, DocumentReader):
        raise EngineUnavailable(f"The {engine.name} engine does not read whole files")
    lines = engine.read_document(
        deps.settings.resource("bucket_name"),
        key,
        page_sizes=page_sizes(data, max_side=engine.max_image_side, pages=pages),
        deadline=time.monotonic() + deps.settings.worker_timeout_seconds * DOCUMENT_SHARE_OF_TIMEOUT,
        client_token=str(item[WHOLE_FILE]),
        languages=languages,
    )
    by_page: list[list[OcrLine]] = [[] for _ in range(pages)]
    for line in lines:
        if 0 <= line.page < pages:
            by_page[line.page].append(line)
    return by_page


def whole_file_texts(
    engine: Engine, deps: Deps, item: Mapping[str, Any], data: bytes, *, key: str, pages: int, languages: Sequence[str]
) -> list[str]:
    """Each page's text as the engine answers for that page alone (what a page item of batch extraction gives)."""
    by_page = read_whole_file(engine, deps, item, data, key=key, pages=pages, languages=languages)
    assert isinstance(engine, DocumentReader)  # read_whole_file refused any other
    request = ExtractionRequest(images=(), prompt="", languages=tuple(languages))
    return [engine.compose(request, lines, 1).text for lines in by_page]


def page_sizes(data: bytes, *, max_side: int | None, pages: int) -> list[tuple[int, int]] | None:
    """The first `pages` pages' sizes in pixels as images/prepare.py renders them (PDF pages at its dpi, TIFF pages
    upright, both within `max_side`), from the file's headers; None where they cannot be told (the engine then
    takes a nominal page, and says what is wrong with the file itself)."""
    try:
        if is_pdf(data):
            import pypdfium2

            with PDFIUM_LOCK:
                document = pypdfium2.PdfDocument(data)
                try:
                    points = [document[index].get_size() for index in range(min(len(document), pages))]
                finally:
                    document.close()
            sizes = []
            for width, height in points:  # pypdfium2's render: ceil(points * scale)
                scale = PDF_DPI / 72 if max_side is None else min(PDF_DPI / 72, max_side / max(width, height, 1))
                sizes.append((math.ceil(width * scale), math.ceil(height * scale)))
            return sizes
        sizes = []
        with Image.open(io.BytesIO(data)) as opened:
            for index in range(min(int(getattr(opened, "n_frames", 1)), pages)):
                opened.seek(index)
                width, height = opened.size
                if opened.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # EXIF orientation: turned a quarter
                    width, height = height, width
                sizes.append(_within(width, height, max_side))
        return sizes
    except Exception:  # any fault of a damaged file: the engine reads the file and names its fault
        return None


def _within(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    if max_side is None or max(width, height) <= max_side:
        return width, height
    scale = max_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))

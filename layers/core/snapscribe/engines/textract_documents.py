"""Textract's blocks as OcrLines in a page's pixels; and its asynchronous text detection, for
TextractEngine.read_document: a multi-page PDF or TIFF in S3 read whole (Textract fetches the object itself, with
the caller's permissions).

StartDocumentTextDetection, then GetDocumentTextDetection polled (at once, then after 1, 2, 4, 5, 5 ... s) until
the job ends or the monotonic `deadline` passes (EngineTimeout), then NextToken pagination over the results. A
ClientRequestToken makes a repeated start (a job item's message delivered again) return the same Textract job, so
a redelivery resumes polling it instead of paying for a second one. FAILED is an EngineError with Textract's
message; so is PARTIAL_SUCCESS, naming the pages that failed: nothing is kept, since an answer missing pages would
look complete (OCR by key answers one text for the whole file; batch extraction marks the file's pages failed and
refunds them)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from snapscribe.engines.layout import OcrLine
from snapscribe.errors import EngineError, EngineTimeout

if TYPE_CHECKING:
    from mypy_boto3_textract import TextractClient
    from mypy_boto3_textract.type_defs import GetDocumentTextDetectionResponseTypeDef

FIRST_POLL_SECONDS = 1.0  # the wait after the first IN_PROGRESS, doubled each time ...
MAX_POLL_SECONDS = 5.0  # ... up to this
# A page whose size was not given: US Letter at the 200 dpi PDF pages are rendered at elsewhere (images/prepare.py).
NOMINAL_PAGE_SIZE = (1700, 2200)


def pixel_box(block: Mapping[str, Any], width: int, height: int) -> tuple[float, float, float, float] | None:
    """A block's relative box in the page's pixels."""
    box = block.get("Geometry", {}).get("BoundingBox")
    if not box:
        return None
    left, top = float(box.get("Left", 0.0)), float(box.get("Top", 0.0))
    right, bottom = left + float(box.get("Width", 0.0)), top + float(box.get("Height", 0.0))
    return (
        unit_interval(left) * width,
        unit_interval(top) * height,
        unit_interval(right) * width,
        unit_interval(bottom) * height,
    )


def unit_interval(value: float) -> float:
    """Textract's boxes and confidences, within 0..1: a box may stick out of the page by a hair."""
    return min(max(value, 0.0), 1.0)


def page_lines(blocks: Sequence[Mapping[str, Any]], width: int, height: int, page: int) -> list[OcrLine]:
    """Every LINE block as an OcrLine in the page's pixels, its confidence (0-100) as a score 0..1."""
    lines = []
    for block in blocks:
        text = str(block.get("Text", "")).strip()
        box = pixel_box(block, width, height)
        if block.get("BlockType") == "LINE" and text and box is not None:
            score = unit_interval(float(block.get("Confidence", 0.0)) / 100)
            lines.append(OcrLine(text, *box, score=score, page=page))
    return lines


def read_document(
    client: TextractClient,
    bucket: str,
    key: str,
    *,
    page_sizes: Sequence[tuple[int, int]] | None,
    deadline: float,
    client_token: str | None,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> list[OcrLine]:
    """Every page's LINE blocks as OcrLines (`page` 0-based), in the pixels of `page_sizes` (one (width, height)
    per page, as the page is rendered for the per-page path; NOMINAL_PAGE_SIZE for a page beyond them). Textract
    answering fewer pages than `page_sizes` gives is an EngineError. botocore's errors are left to the caller."""
    location: Any = {"S3Object": {"Bucket": bucket, "Name": key}}
    if client_token:
        started = client.start_document_text_detection(DocumentLocation=location, ClientRequestToken=client_token)
    else:
        started = client.start_document_text_detection(DocumentLocation=location)
    job_id = started["JobId"]
    response = _finished(client, job_id, deadline, sleep, clock)
    blocks: list[Mapping[str, Any]] = list(response.get("Blocks", []))
    pages = int(response.get("DocumentMetadata", {}).get("Pages", 0))
    next_token = response.get("NextToken")
    while next_token:  # the results are ready: read them all, whatever the deadline
        more = client.get_document_text_detection(JobId=job_id, NextToken=next_token)
        blocks.extend(more.get("Blocks", []))
        next_token = more.get("NextToken")
    if page_sizes is not None and pages and pages < len(page_sizes):
        raise EngineError(f"Textract read {pages} of the document's {len(page_sizes)} pages")
    by_page: dict[int, list[Mapping[str, Any]]] = {}
    for block in blocks:
        by_page.setdefault(max(1, int(block.get("Page", 1))) - 1, []).append(block)
    sizes = list(page_sizes or ())
    lines: list[OcrLine] = []
    for page in sorted(by_page):
        width, height = sizes[page] if page < len(sizes) else NOMINAL_PAGE_SIZE
        lines.extend(page_lines(by_page[page], width, height, page))
    return lines


def _finished(
    client: TextractClient,
    job_id: str,
    deadline: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> GetDocumentTextDetectionResponseTypeDef:
    """The first page of the job's results once it succeeded; polled at once (a redelivery's job is often done),
    then with backoff, never sleeping past the deadline."""
    delay = FIRST_POLL_SECONDS
    while True:
        response = client.get_document_text_detection(JobId=job_id)
        status = response.get("JobStatus")
        if status == "SUCCEEDED":
            return response
        if status == "FAILED":
            detail = str(response.get("StatusMessage", ""))[:200] or "no reason given"
            raise EngineError(f"Textract could not read the document: {detail}")
        if status == "PARTIAL_SUCCESS":
            raise EngineError(f"Textract read only part of the document ({_failed_pages(response)}); nothing is kept")
        left = deadline - clock()
        if left <= 0:
            raise EngineTimeout("Textract did not finish reading the document in time")
        sleep(min(delay, left))
        delay = min(MAX_POLL_SECONDS, delay * 2)


def _failed_pages(response: GetDocumentTextDetectionResponseTypeDef) -> str:
    """The pages a PARTIAL_SUCCESS's warnings name, with their error codes: "page 2, 5: UNSUPPORTED_DOCUMENT"."""
    named = []
    for warning in response.get("Warnings", []):
        pages = ", ".join(str(page) for page in warning.get("Pages", []))
        code = str(warning.get("ErrorCode", "")) or "an error"
        named.append(f"page {pages}: {code}" if pages else code)
    return "; ".join(named) or "some pages failed"

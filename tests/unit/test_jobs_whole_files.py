"""A job's multi-page PDF or TIFF upload on Textract: one work item reads the file whole through the asynchronous API
(the real engine and boto3 client, against the loopback stand-in over HTTP; the jobs' store, queues and uploads are
the in-memory fakes of tests/unit/test_jobs.py). Every page is answered in order and charged per page, as the
synchronous call (page by page, DetectDocumentText) charges; a redelivered item resumes the Textract job its first
delivery started instead of starting another."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from snapscribe.contracts.batch_extraction import BatchExtractionRequest, EngineSpec, FileIdentifier
from snapscribe.contracts.ocr_by_key import OcrByKeyRequest
from snapscribe.engines.catalog import DEFAULT_PAGE_PRICE, EngineCatalog, EngineChoice
from snapscribe.engines.textract import TextractEngine
from snapscribe.jobs.model import SUCCEEDED
from snapscribe.jobs.plan import Deps
from snapscribe.jobs.run import run_now
from snapscribe.operations.batch_extraction import EXTRACT_BATCH
from snapscribe.operations.ocr_by_key import OCR_BY_KEY
from snapscribe.operations.whole_files import WHOLE_FILE, page_sizes
from snapscribe.storage.uploads import UploadRecord
from snapscribe_tools.standins.textract import StandInServer, serve
from tests.conftest import pdf_with_pages
from tests.fakes import image_bytes, make_caller, make_settings, tiff_pages
from tests.unit.test_jobs import START, Harness

BUCKET = "snapscribe-files"
PER_PAGE = 200  # batch extraction's credits per page


class Stopped(BaseException):
    """The worker's invocation ended (its timeout): nothing catches it, the item stays claimed."""


class TextractOnly:
    """An `engine_for` of one engine, priced as the catalog prices Textract (per page)."""

    def __init__(self, engine: TextractEngine) -> None:
        self.engine = engine
        self.catalog = EngineCatalog("textract", ("textract",), gemini_model="unused")

    def __call__(self, engine_id: str | None = None, *, default: str | None = None) -> TextractEngine:
        return self.engine

    def choice(self, engine_id: str | None = None, *, default: str | None = None) -> EngineChoice:
        return self.catalog.resolve("textract")


class TextractHarness(Harness):
    def __init__(self, tmp_path: Path, engine: TextractEngine) -> None:
        super().__init__(tmp_path, engine)  # type: ignore[arg-type]
        self.settings = make_settings(tmp_path / "work", bucket_name=BUCKET, ocr_engine="textract")
        self.engine_for = TextractOnly(engine)

    def deps(self) -> Deps:
        deps = super().deps()
        deps.engine_for = self.engine_for
        return deps

    def add(self, data: bytes, filename: str, image_format: str, pages: int) -> UploadRecord:
        """An upload as the trigger leaves it: its format and pages as it found them."""
        record = self.files.add("alice", data, filename=filename, pages=pages)
        assert self.files.uploads.mark_ready("alice", record.upload_id, image_format=image_format, size=1, pages=pages)
        stored = self.files.uploads.get("alice", record.upload_id)
        assert stored is not None
        return stored


@pytest.fixture
def stand_in() -> Iterator[StandInServer]:
    server, _url = serve()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def harness(tmp_path: Path, stand_in: StandInServer, sleeps: list[float]) -> TextractHarness:
    host, port = stand_in.server_address[:2]
    client = boto3.client(
        "textract",
        region_name="us-east-1",
        endpoint_url=f"http://{host!s}:{port}",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    return TextractHarness(tmp_path, TextractEngine(client=client, sleep=sleeps.append))


def page_text(page: int) -> str:
    return f"stand-in page {page} line 1\nstand-in page {page} line 2"


def test_an_ocr_job_on_a_3_page_pdf_is_one_textract_job_answering_every_page(
    harness: TextractHarness, stand_in: StandInServer, sleeps: list[float]
) -> None:
    pdf = harness.add(pdf_with_pages(3), "report.pdf", "PDF", 3)
    stand_in.documents.pages[pdf.key] = 3
    request = OcrByKeyRequest(key=pdf.key)
    synchronous = run_now(OCR_BY_KEY, request, make_caller("alice"), harness.deps()).model_dump()
    assert stand_in.documents.starts == 0  # the call reads page by page (DetectDocumentText)
    charged_by_the_call = START - harness.account.balance

    job = harness.submit(OCR_BY_KEY, request)
    assert harness.job(job.job_id).total == 1  # one item for the whole file
    (plan_item,) = harness.jobs.files.plan("alice", job.job_id, OCR_BY_KEY.context_model).items
    assert set(plan_item) == {WHOLE_FILE}
    harness.run()
    finished = harness.job(job.job_id)
    got = harness.result(job.job_id)
    assert (finished.status, finished.result_status, finished.done) == (SUCCEEDED, 200, 1)
    assert got["text"] == "\n\n".join(page_text(page) for page in (1, 2, 3))  # every page, in order
    assert set(got) == set(synchronous)
    assert (got["key"], got["wordCount"], got["language"]) == (pdf.key, 30, "en")
    assert finished.charged == charged_by_the_call == 3 * DEFAULT_PAGE_PRICE  # per page, as the call
    assert harness.account.balance == START - 2 * 3 * DEFAULT_PAGE_PRICE
    assert (stand_in.documents.starts, len(stand_in.documents.jobs)) == (1, 1)
    (started,) = stand_in.documents.jobs.values()
    assert started["location"] == {"Bucket": BUCKET, "Name": pdf.key}  # Textract reads it from the bucket
    assert sleeps == [1.0]  # the stand-in's IN_PROGRESS, then SUCCEEDED


def test_a_redelivered_item_resumes_the_textract_job_its_stopped_worker_started(
    harness: TextractHarness, stand_in: StandInServer, sleeps: list[float]
) -> None:
    pdf = harness.add(pdf_with_pages(3), "report.pdf", "PDF", 3)
    stand_in.documents.pages[pdf.key] = 3

    def stopped(seconds: float) -> None:
        sleeps.append(seconds)
        raise Stopped()  # the worker's invocation ends while Textract reads

    harness.engine_for.engine._sleep = stopped
    job = harness.submit(OCR_BY_KEY, OcrByKeyRequest(key=pdf.key))
    (message,) = harness.work.take()
    with pytest.raises(Stopped):
        harness.worker.handle(message)
    harness.clock.now += 331  # SQS delivers it again after its visibility timeout, past the claim's lease
    harness.worker.handle(message)
    assert harness.result(job.job_id)["text"].startswith(page_text(1))
    assert harness.job(job.job_id).charged == 3 * DEFAULT_PAGE_PRICE
    # Started twice with the item's token: one Textract job, and the second delivery found it done.
    assert (stand_in.documents.starts, len(stand_in.documents.jobs)) == (2, 1)
    assert sleeps == [1.0]


def test_a_batch_job_reads_a_pdf_whole_and_an_image_by_page(harness: TextractHarness, stand_in: StandInServer) -> None:
    pdf = harness.add(pdf_with_pages(3), "report.pdf", "PDF", 3)
    png = harness.add(image_bytes(400, 250), "note.png", "PNG", 1)
    tiff = harness.add(tiff_pages([300, 300]), "short.tiff", "TIFF", 2)
    stand_in.documents.pages.update({pdf.key: 3, tiff.key: 1})  # Textract finds one page of two: an error
    files = [FileIdentifier(uuid=record.upload_id) for record in (pdf, png, tiff)]
    request = BatchExtractionRequest(engine=EngineSpec(name="textract"), files=files)
    job = harness.submit(EXTRACT_BATCH, request)
    items = harness.jobs.files.plan("alice", job.job_id, EXTRACT_BATCH.context_model).items
    assert [{key: value for key, value in item.items() if key != WHOLE_FILE} for item in items] == [
        {"file": 0},
        {"file": 1, "page": 1},
        {"file": 2},
    ]
    assert len({item[WHOLE_FILE] for item in items if WHOLE_FILE in item}) == 2  # a token per item
    assert harness.account.balance == START - 6 * PER_PAGE  # held per page, as the call holds
    harness.run()
    data: dict[str, Any] = harness.result(job.job_id)["data"]
    pages = [[(page["number"], page["status"], page["text"]) for page in file["pages"]] for file in data["files"]]
    assert pages[0] == [(number, "processed", page_text(number)) for number in (1, 2, 3)]
    assert pages[1] == [(1, "processed", "stand-in line 1\nstand-in line 2")]  # DetectDocumentText
    assert [(number, status) for number, status, _text in pages[2]] == [(1, "failed"), (2, "failed")]
    assert {page["error"] for page in data["files"][2]["pages"]} == {"Textract read 1 of the document's 2 pages"}
    assert (data["status"], data["total_processing_pages"], data["failed_pages"]) == ("partially_processed", 6, 2)
    assert (data["initial_cost"], data["returned_credits"]) == (6 * PER_PAGE, 2 * PER_PAGE)
    assert harness.job(job.job_id).charged == 4 * PER_PAGE
    assert harness.account.balance == START - 4 * PER_PAGE


def test_the_synchronous_call_and_single_pages_keep_reading_page_by_page(
    harness: TextractHarness, stand_in: StandInServer
) -> None:
    pdf = harness.add(pdf_with_pages(3), "report.pdf", "PDF", 3)
    one = harness.add(pdf_with_pages(1), "one.pdf", "PDF", 1)
    request = BatchExtractionRequest(
        engine=EngineSpec(name="textract"),
        files=[FileIdentifier(uuid=pdf.upload_id), FileIdentifier(uuid=one.upload_id)],
    )
    answered = run_now(EXTRACT_BATCH, request, make_caller("alice"), harness.deps())
    assert answered.total_processing_pages == 4
    job = harness.submit(EXTRACT_BATCH, request)
    items = harness.jobs.files.plan("alice", job.job_id, EXTRACT_BATCH.context_model).items
    assert [WHOLE_FILE in item for item in items] == [True, False]  # the one-page PDF: one DetectDocumentText
    assert stand_in.documents.starts == 0  # nothing ran yet, and the call started no Textract job


def test_page_sizes_are_the_rendered_pages_without_rendering() -> None:
    # pdf_with_pages: A4 at 150 dpi (595 x 842 points), rendered at 200 dpi, within the engine's 4096 px.
    assert page_sizes(pdf_with_pages(2), max_side=4096, pages=2) == [(1654, 2339), (1654, 2339)]
    assert page_sizes(pdf_with_pages(2), max_side=1000, pages=5) == [(707, 1000), (707, 1000)]
    assert page_sizes(tiff_pages([300, 5000], height=100), max_side=4096, pages=2) == [(300, 100), (4096, 82)]
    assert page_sizes(b"not a file", max_side=4096, pages=2) is None

"""The batch-extraction operations against in-memory fakes: every page of up to 5 of the caller's checked
uploads, charged per page up front, each failed page refunded; files and pages in the order asked for,
whatever order the engine finishes them in; the extraction kept for its owner."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from snapscribe.config import Settings
from snapscribe.contracts.batch_extraction import BatchExtractionRequest, ProcessedExtraction
from snapscribe.engines.base import ExtractionRequest
from snapscribe.errors import (
    EngineError,
    EngineTimeout,
    InsufficientBalance,
    InvalidRequest,
    LimitExceeded,
    NotFound,
    SnapscribeError,
    UnknownEngine,
    UploadPending,
    UploadRejected,
)
from snapscribe.jobs.plan import Deps
from snapscribe.jobs.run import run_now
from snapscribe.operations.batch_extraction import EXTRACT_BATCH, get_batch_extraction
from snapscribe.operations.ocr_by_key import OCR_PROMPT
from snapscribe.storage.uploads import PENDING, REJECTED
from tests.conftest import tiff_with_broken_page
from tests.fakes import (
    Account,
    FakeEngine,
    Uploads,
    engine_picker,
    funded_account,
    image_bytes,
    make_settings,
    no_engine,
    raised,
    refused_free,
    tiff_pages,
)

START = 1000
PER_PAGE = 10
File = dict[str, str]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "work", extraction_credits_per_page=PER_PAGE, max_pages_per_file=5)


@pytest.fixture
def account() -> Account:
    return funded_account(START)


@pytest.fixture
def store() -> Uploads:
    return Uploads()


def by_width(request: ExtractionRequest) -> str:
    """The page's text names its width: pages are made with distinct widths, so a text tells its page."""
    return f"page {request.images[0].width}"


def run(
    files: list[File],
    account: Account,
    store: Uploads,
    engine: FakeEngine,
    settings: Settings,
    *,
    engine_name: str = "gemini",
    options: dict[str, Any] | None = None,
    asked: list[str | None] | None = None,
    engine_for: Callable[[str | None], FakeEngine] | None = None,
) -> ProcessedExtraction:
    request = BatchExtractionRequest.model_validate(
        {"engine": {"name": engine_name, "options": options or {}}, "files": files}
    )
    pick = engine_for or engine_picker(engine, asked)
    deps = Deps(
        accounts=account.service,
        settings=settings,
        engine_for=lambda engine_id=None, **_options: pick(engine_id),
        uploads=store.uploads,
        objects=store.objects,
    )
    result = run_now(EXTRACT_BATCH, request, account.caller, deps)
    assert isinstance(result, ProcessedExtraction)
    return result


def pages_of(extraction: ProcessedExtraction) -> list[list[tuple[int, str, str]]]:
    return [[(page.number, page.status, page.text) for page in file.pages] for file in extraction.files]


def counts(extraction: ProcessedExtraction) -> tuple[str, int, int, int, int, int]:
    return (
        extraction.status,
        extraction.total_file_pages,
        extraction.total_processing_pages,
        extraction.initial_cost,
        extraction.failed_pages,
        extraction.returned_credits,
    )


def test_files_and_pages_keep_their_order_and_every_page_is_charged(
    account: Account, store: Uploads, settings: Settings
) -> None:
    first = store.add("alice", image_bytes(11, 20))
    second = store.add("alice", tiff_pages([21, 22, 23]), filename="report.tiff", pages=3)
    third = store.add("alice", image_bytes(31, 20))

    def slow_first(request: ExtractionRequest) -> str:
        time.sleep((40 - request.images[0].width) / 1000)  # earlier pages finish later
        return by_width(request)

    engine = FakeEngine(slow_first)
    asked: list[str | None] = []
    files = [{"uuid": first.upload_id}, {"key": second.key}, {"uuid": third.upload_id.upper()}]
    extraction = run(files, account, store, engine, settings, engine_name=" gemini ", asked=asked)

    assert [file.uuid for file in extraction.files] == [first.upload_id, second.upload_id, third.upload_id]
    assert pages_of(extraction) == [
        [(1, "processed", "page 11")],
        [(1, "processed", "page 21"), (2, "processed", "page 22"), (3, "processed", "page 23")],
        [(1, "processed", "page 31")],
    ]
    assert counts(extraction) == ("processed", 5, 5, 50, 0, 0)
    assert (extraction.engine, extraction.total_files) == ("gemini", 3)
    # The engine the request names, trimmed, is the one asked for: by the plan and by each page's item
    # (in a job, pages run in other invocations and ask again).
    assert asked
    assert set(asked) == {"gemini"}
    assert account.summary() == (START - 50, [(50, 0, "charged")])
    assert engine.max_in_flight > 1  # a network engine gets several pages at once
    assert {request.prompt for request in engine.requests} == {OCR_PROMPT}
    kept = store.objects.get_json(f"results/alice/extraction-{extraction.uuid}.json")
    assert kept == extraction.model_dump()


def test_the_local_engine_gets_one_page_at_a_time(account: Account, store: Uploads, settings: Settings) -> None:
    record = store.add("alice", tiff_pages([21, 22, 23]), filename="report.tiff", pages=3)

    def slow(request: ExtractionRequest) -> str:
        time.sleep(0.01)
        return by_width(request)

    engine = FakeEngine(slow, name="local", reads_pages_apart=True)
    extraction = run([{"uuid": record.upload_id}], account, store, engine, settings, engine_name="local")
    assert engine.max_in_flight == 1
    assert pages_of(extraction) == [
        [(1, "processed", "page 21"), (2, "processed", "page 22"), (3, "processed", "page 23")]
    ]


def test_a_page_that_cannot_be_decoded_is_failed_and_refunded(
    account: Account, store: Uploads, settings: Settings
) -> None:
    record = store.add("alice", tiff_with_broken_page(pages=3, broken=2), filename="report.tiff", pages=3)
    engine = FakeEngine("readable page")
    extraction = run([{"uuid": record.upload_id}], account, store, engine, settings)
    [pages] = extraction.files
    assert [(page.number, page.status) for page in pages.pages] == [(1, "processed"), (2, "failed"), (3, "processed")]
    assert (pages.pages[1].text, (pages.pages[1].error or "").startswith("page 2: ")) == ("", True)
    assert counts(extraction) == ("partially_processed", 3, 3, 30, 1, 10)
    assert account.summary() == (START - 20, [(30, 10, "partial")])
    assert len(engine.requests) == 2  # the broken page never reaches the engine


@pytest.mark.parametrize("failure", [EngineError("the model refused"), EngineTimeout("the model took too long")])
def test_a_page_the_engine_fails_on_is_failed_and_refunded(
    failure: EngineError, account: Account, store: Uploads, settings: Settings
) -> None:
    record = store.add("alice", tiff_pages([21, 22, 23]), filename="report.tiff", pages=3)

    def fail_page_two(request: ExtractionRequest) -> str:
        if request.images[0].width == 22:
            raise failure
        return by_width(request)

    extraction = run([{"uuid": record.upload_id}], account, store, FakeEngine(fail_page_two), settings)
    assert pages_of(extraction) == [[(1, "processed", "page 21"), (2, "failed", ""), (3, "processed", "page 23")]]
    assert extraction.files[0].pages[1].error == failure.message
    assert counts(extraction) == ("partially_processed", 3, 3, 30, 1, 10)
    assert account.summary() == (START - 20, [(30, 10, "partial")])


def test_when_every_page_fails_everything_is_refunded(account: Account, store: Uploads, settings: Settings) -> None:
    record = store.add("alice", tiff_pages([21, 22]), filename="report.tiff", pages=2)
    extraction = run([{"uuid": record.upload_id}], account, store, FakeEngine(EngineError("down")), settings)
    assert counts(extraction) == ("failed", 2, 2, 20, 2, 20)
    assert account.summary() == (START, [(20, 20, "refunded")])


def test_a_file_no_longer_stored_fails_its_pages_only(account: Account, store: Uploads, settings: Settings) -> None:
    gone = store.add("alice", None, pages=2)
    kept = store.add("alice", image_bytes(11, 20))
    extraction = run(
        [{"uuid": gone.upload_id}, {"uuid": kept.upload_id}], account, store, FakeEngine(by_width), settings
    )
    assert pages_of(extraction) == [[(1, "failed", ""), (2, "failed", "")], [(1, "processed", "page 11")]]
    assert {page.error for page in extraction.files[0].pages} == {"The file is no longer stored"}
    assert counts(extraction) == ("partially_processed", 3, 3, 30, 2, 20)
    assert account.summary() == (START - 10, [(30, 20, "partial")])


def test_a_file_that_no_longer_decodes_fails_every_page_it_was_charged_for(
    account: Account, store: Uploads, settings: Settings
) -> None:
    record = store.add("alice", b"\x89PNG\r\n\x1a\n" + b"\0" * 40, pages=2)  # replaced since the check
    engine = FakeEngine()
    extraction = run([{"uuid": record.upload_id}], account, store, engine, settings)
    assert [(page.status, page.error) for page in extraction.files[0].pages] == [
        ("failed", "The PNG image is corrupt and cannot be parsed")
    ] * 2
    assert account.summary() == (START, [(20, 20, "refunded")])
    assert engine.requests == []


def test_pages_beyond_the_per_file_limit_are_neither_processed_nor_charged(
    account: Account, store: Uploads, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path / "work", extraction_credits_per_page=PER_PAGE, max_pages_per_file=2)
    record = store.add("alice", tiff_pages([21, 22, 23, 24]), filename="report.tiff", pages=4)
    engine = FakeEngine(by_width)
    extraction = run([{"uuid": record.upload_id}], account, store, engine, settings)
    assert pages_of(extraction) == [[(1, "processed", "page 21"), (2, "processed", "page 22")]]
    assert counts(extraction) == ("processed", 4, 2, 20, 0, 0)
    assert len(engine.requests) == 2
    assert account.summary() == (START - 20, [(20, 0, "charged")])


def _six_files(store: Uploads) -> list[File]:
    return [{"uuid": store.add("alice", image_bytes()).upload_id} for _ in range(6)]


def _with_good(store: Uploads, bad: File) -> list[File]:
    return [{"uuid": store.add("alice", image_bytes()).upload_id}, bad]


def _bobs_uuid(store: Uploads) -> list[File]:
    return _with_good(store, {"uuid": store.add("bob", image_bytes()).upload_id})


def _bobs_key(store: Uploads) -> list[File]:
    return _with_good(store, {"key": store.add("bob", image_bytes()).key})


def _pending(store: Uploads) -> list[File]:
    return _with_good(store, {"uuid": store.add("alice", None, status=PENDING, pages=0).upload_id})


def _rejected(store: Uploads) -> list[File]:
    return _with_good(store, {"key": store.add("alice", None, status=REJECTED, reason="The file is empty").key})


@pytest.mark.parametrize(
    ("make_files", "error_type", "message"),
    [
        (_six_files, LimitExceeded, "At most 5 files can be extracted in one request"),
        (_bobs_uuid, NotFound, "File not found"),
        (_bobs_key, NotFound, "File not found"),
        (lambda store: _with_good(store, {"key": "ocr/alice/../bob/x.png"}), NotFound, "File not found"),
        (lambda store: _with_good(store, {"uuid": "not-a-uuid"}), NotFound, "File not found"),
        (lambda store: _with_good(store, {"uuid": str(uuid.uuid4())}), NotFound, "File not found"),
        (_pending, UploadPending, "The upload has not been checked yet; retry in a few seconds"),
        (_rejected, UploadRejected, "The upload was rejected: The file is empty"),
    ],
    ids=["six-files", "bobs-uuid", "bobs-key", "bad-key", "bad-uuid", "unknown-uuid", "pending", "rejected"],
)
def test_files_that_cannot_be_read_refuse_the_whole_batch_before_any_hold(
    make_files: Callable[[Uploads], list[File]],
    error_type: type[SnapscribeError],
    message: str,
    account: Account,
    store: Uploads,
    settings: Settings,
) -> None:
    engine = FakeEngine()
    files = make_files(store)
    error = refused_free(error_type, lambda: run(files, account, store, engine, settings), account, engine)
    assert error.message == message


def test_an_unknown_engine_charges_nothing(account: Account, store: Uploads, settings: Settings) -> None:
    files = [{"uuid": store.add("alice", image_bytes()).upload_id}]
    engine = FakeEngine()
    refused_free(
        UnknownEngine, lambda: run(files, account, store, engine, settings, engine_for=no_engine), account, engine
    )


def test_a_short_balance_takes_nothing_and_runs_nothing(store: Uploads, settings: Settings) -> None:
    account = funded_account(29)
    record = store.add("alice", tiff_pages([21, 22, 23]), filename="report.tiff", pages=3)
    engine = FakeEngine()
    error = refused_free(
        InsufficientBalance,
        lambda: run([{"uuid": record.upload_id}], account, store, engine, settings),
        account,
        engine,
    )
    assert (error.needed, error.available) == (30, 29)


def test_an_unexpected_error_refunds_everything_and_keeps_nothing(
    account: Account, store: Uploads, settings: Settings
) -> None:
    record = store.add("alice", image_bytes())
    with pytest.raises(RuntimeError):
        run([{"uuid": record.upload_id}], account, store, FakeEngine(RuntimeError("bug")), settings)
    assert account.summary() == (START, [(10, 10, "refunded")])
    assert [key for key in store.objects.objects if key.startswith("results/")] == []


ENGLISH = "The quarterly report shows that revenue grew across every region this year"
FRENCH = "Le rapport trimestriel montre que les recettes ont augmenté dans toutes les régions cette année"


@pytest.mark.parametrize(
    ("texts", "hint", "language"),
    [
        ({21: ENGLISH, 22: ENGLISH}, "fr", "en"),  # the text decides, not the hint
        ({21: FRENCH + " " + FRENCH, 22: ENGLISH}, None, "fr"),  # most of the text
        ({21: "12 345", 22: "6.78"}, " DE ", "de"),  # no letters to judge by: the hint
        ({21: "12 345", 22: "6.78"}, None, "und"),
    ],
    ids=["text-over-hint", "most-text", "hint", "no-hint"],
)
def test_the_language_comes_from_the_text_and_the_hint_only_when_the_text_gives_none(
    texts: dict[int, str], hint: object, language: str, account: Account, store: Uploads, settings: Settings
) -> None:
    record = store.add("alice", tiff_pages([21, 22]), filename="report.tiff", pages=2)
    engine = FakeEngine(lambda request: texts[request.images[0].width])
    options = {} if hint is None else {"language": hint}
    extraction = run([{"uuid": record.upload_id}], account, store, engine, settings, options=options)
    assert extraction.language == language


def test_a_kept_extraction_is_answered_to_its_owner_only(account: Account, store: Uploads, settings: Settings) -> None:
    record = store.add("alice", image_bytes(11, 20))
    extraction = run([{"uuid": record.upload_id}], account, store, FakeEngine(by_width), settings)
    assert get_batch_extraction(account.caller, extraction.uuid.upper(), objects=store.objects) == extraction
    bob = account.other_caller("bob")
    for caller, extraction_id in (
        (bob, extraction.uuid),
        (account.caller, "not-a-uuid"),
        (account.caller, str(uuid.uuid4())),
    ):
        raised(NotFound, lambda: get_batch_extraction(caller, extraction_id, objects=store.objects))  # noqa: B023
    assert account.balance == START - 10  # reading is free


def test_language_hints_reach_the_local_engine_page_by_page(
    account: Account, store: Uploads, settings: Settings
) -> None:
    record = store.add("alice", tiff_pages([21, 22]), filename="report.tiff", pages=2)
    engine = FakeEngine(by_width, name="local", reads_pages_apart=True)
    options = {"languages": ["FA", "en"]}
    run([{"uuid": record.upload_id}], account, store, engine, settings, engine_name="local", options=options)
    assert [request.languages for request in engine.requests] == [("fa", "en"), ("fa", "en")]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"language": "xx"}, "Language xx is not available in this deployment; it reads: en, fa"),
        ({"languages": ["fa", "am"]}, "Language am is not available in this deployment; it reads: en, fa"),
        ({"language": 42}, "engine.options.language must be a language code, languages a list of them"),
    ],
    ids=["unknown", "one-of-several", "not-text"],
)
def test_a_hint_the_deployment_cannot_read_is_refused_before_any_hold(
    options: dict[str, object], message: str, account: Account, store: Uploads, settings: Settings
) -> None:
    record = store.add("alice", tiff_pages([21, 22]), filename="report.tiff", pages=2)
    engine = FakeEngine(by_width, name="local", reads_pages_apart=True)
    error = refused_free(
        InvalidRequest,
        lambda: run(
            [{"uuid": record.upload_id}], account, store, engine, settings, engine_name="local", options=options
        ),
        account,
        engine,
    )
    assert error.message == message

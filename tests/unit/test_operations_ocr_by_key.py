"""The OCR-by-key operations against in-memory fakes: only the owner's checked upload is read, the engine's
token hold is taken per page, the tokens used are charged and the rest (or everything, on failure) comes back;
the result is kept under results/<user>/ and answered to its owner only, with a fresh link to the file."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from snapscribe.config import Settings
from snapscribe.contracts.ocr_by_key import OcrByKeyRequest, OcrByKeyResponse
from snapscribe.errors import (
    CorruptImage,
    EngineError,
    EngineTimeout,
    InsufficientBalance,
    InvalidFileKey,
    NotFound,
    SnapscribeError,
    UploadPending,
    UploadRejected,
)
from snapscribe.jobs.plan import Deps
from snapscribe.jobs.run import run_now
from snapscribe.operations.ocr_by_key import OCR_BY_KEY, OCR_PROMPT, OcrFailed, get_ocr_result
from snapscribe.storage.uploads import PENDING, REJECTED
from tests.conftest import tiff_with_broken_page
from tests.fakes import (
    FAKE_BUCKET_URL,
    Account,
    FakeEngine,
    Uploads,
    answer,
    funded_account,
    image_bytes,
    make_settings,
    raised,
    refused_free,
    tiff_pages,
)

START = 10_000
HOLD = 1000  # the fake engine's hold per page
TEXT = "The quick brown fox jumps over the lazy dog near the river bank"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "work", file_url_expiry_seconds=120)


@pytest.fixture
def account() -> Account:
    return funded_account(START)


@pytest.fixture
def store() -> Uploads:
    return Uploads()


def run(key: str, account: Account, store: Uploads, engine: FakeEngine, settings: Settings) -> OcrByKeyResponse:
    deps = Deps(
        accounts=account.service,
        settings=settings,
        engine_for=lambda *_args, **_options: engine,
        uploads=store.uploads,
        objects=store.objects,
    )
    result = run_now(OCR_BY_KEY, OcrByKeyRequest(key=key), account.caller, deps)
    assert isinstance(result, OcrByKeyResponse)
    return result


def test_success_charges_the_tokens_used_and_keeps_the_result(
    account: Account, store: Uploads, settings: Settings
) -> None:
    record = store.add("alice", image_bytes(60, 30))
    engine = FakeEngine(answer(TEXT, 40, 10), hold_per_page=HOLD)
    response = run(record.key, account, store, engine, settings)
    assert account.summary() == (START - 50, [(HOLD, HOLD - 50, "partial")])
    assert (response.text, response.key, response.wordCount, response.tokensUsed, response.language) == (
        TEXT,
        record.key,
        13,
        50,
        "en",
    )
    assert response.fileUrl.startswith(f"{FAKE_BUCKET_URL}/{record.key}?expires=120&")
    assert store.objects.get_json(f"results/alice/{response.id}.json") == response.model_dump()
    assert engine.holds == [(1, OCR_PROMPT)]
    [sent] = engine.requests
    assert (sent.prompt, [image.width for image in sent.images]) == (OCR_PROMPT, [60])


def test_every_page_is_held_for_and_sent_in_one_request(account: Account, store: Uploads, settings: Settings) -> None:
    record = store.add("alice", tiff_pages([30, 40, 50]), filename="report.tiff", pages=3)
    engine = FakeEngine(answer("three pages", 100, 20), hold_per_page=HOLD)
    run(record.key, account, store, engine, settings)
    assert engine.holds == [(3, OCR_PROMPT)]
    assert [[image.width for image in request.images] for request in engine.requests] == [[30, 40, 50]]
    assert account.summary() == (START - 120, [(3 * HOLD, 3 * HOLD - 120, "partial")])


def test_a_record_without_a_page_count_is_held_for_one_page(
    account: Account, store: Uploads, settings: Settings
) -> None:
    record = store.add("alice", image_bytes(), pages=0)
    engine = FakeEngine(hold_per_page=HOLD)
    run(record.key, account, store, engine, settings)
    assert engine.holds == [(1, OCR_PROMPT)]


def test_tokens_beyond_the_hold_are_not_charged(account: Account, store: Uploads, settings: Settings) -> None:
    record = store.add("alice", image_bytes())
    response = run(record.key, account, store, FakeEngine(answer(TEXT, 900, 500), hold_per_page=HOLD), settings)
    assert response.tokensUsed == HOLD
    assert account.summary() == (START - HOLD, [(HOLD, 0, "charged")])


def _bobs_key(store: Uploads) -> str:
    return store.add("bob", image_bytes()).key


def _unknown_uuid(store: Uploads) -> str:
    return f"ocr/alice/{uuid.uuid4()}-scan.png"


def _other_name(store: Uploads) -> str:
    return store.add("alice", image_bytes()).key.replace("scan.png", "other.png")


def _no_uuid(store: Uploads) -> str:
    store.objects.put("ocr/alice/scan.png", image_bytes())
    return "ocr/alice/scan.png"


def _pending(store: Uploads) -> str:
    return store.add("alice", None, status=PENDING, pages=0).key


def _rejected(store: Uploads) -> str:
    return store.add("alice", None, status=REJECTED, reason="The file is empty").key


@pytest.mark.parametrize(
    ("make_key", "error_type", "message"),
    [
        (_bobs_key, NotFound, "File not found"),
        (_unknown_uuid, NotFound, "File not found"),
        (_other_name, NotFound, "File not found"),
        (_no_uuid, NotFound, "File not found"),
        (lambda _store: "ocr/alice/../bob/x.png", InvalidFileKey, "Invalid file key format"),
        (lambda _store: "s3://bucket/ocr/alice/x.png", InvalidFileKey, "Invalid file key format"),
        (_pending, UploadPending, "The upload has not been checked yet; retry in a few seconds"),
        (_rejected, UploadRejected, "The upload was rejected: The file is empty"),
    ],
    ids=["another-users", "unknown-id", "other-name", "no-id", "path", "not-a-key", "pending", "rejected"],
)
def test_uploads_that_cannot_be_read_are_refused_before_any_hold(
    make_key: Callable[[Uploads], str],
    error_type: type[SnapscribeError],
    message: str,
    account: Account,
    store: Uploads,
    settings: Settings,
) -> None:
    engine = FakeEngine()
    key = make_key(store)
    error = refused_free(error_type, lambda: run(key, account, store, engine, settings), account, engine)
    assert error.message == message
    assert engine.holds == []
    assert store.objects.deleted == []


def test_an_object_gone_since_the_check_is_not_found_and_refunded(
    account: Account, store: Uploads, settings: Settings
) -> None:
    record = store.add("alice", None)
    engine = FakeEngine(hold_per_page=HOLD)
    raised(NotFound, lambda: run(record.key, account, store, engine, settings))
    assert account.summary() == (START, [(HOLD, HOLD, "refunded")])
    assert engine.requests == []


def test_a_broken_page_fails_the_whole_request_and_refunds(
    account: Account, store: Uploads, settings: Settings
) -> None:
    record = store.add("alice", tiff_with_broken_page(pages=3, broken=2), filename="report.tiff", pages=3)
    engine = FakeEngine(hold_per_page=HOLD)
    error = raised(CorruptImage, lambda: run(record.key, account, store, engine, settings))
    assert error.message.startswith("page 2: ")
    assert account.summary() == (START, [(3 * HOLD, 3 * HOLD, "refunded")])
    assert engine.requests == []


@pytest.mark.parametrize("failure", [EngineError("the engine broke"), EngineTimeout("the model took too long")])
def test_an_engine_failure_is_ocr_failed_and_refunds_everything(
    failure: EngineError, account: Account, store: Uploads, settings: Settings
) -> None:
    record = store.add("alice", image_bytes())
    error = raised(
        OcrFailed, lambda: run(record.key, account, store, FakeEngine(failure, hold_per_page=HOLD), settings)
    )
    assert error.message == failure.message
    assert account.summary() == (START, [(HOLD, HOLD, "refunded")])
    assert [key for key in store.objects.objects if key.startswith("results/")] == []


def test_a_balance_below_the_hold_takes_nothing_and_runs_nothing(store: Uploads, settings: Settings) -> None:
    account = funded_account(HOLD - 1)
    record = store.add("alice", image_bytes())
    engine = FakeEngine(hold_per_page=HOLD)
    error = refused_free(
        InsufficientBalance, lambda: run(record.key, account, store, engine, settings), account, engine
    )
    assert (error.needed, error.available) == (HOLD, HOLD - 1)


def test_a_kept_result_is_answered_to_its_owner_with_a_fresh_link(
    account: Account, store: Uploads, settings: Settings
) -> None:
    record = store.add("alice", image_bytes())
    first = run(record.key, account, store, FakeEngine(answer(TEXT, 40, 10)), settings)
    again = get_ocr_result(account.caller, first.id.upper(), objects=store.objects, settings=settings)
    assert again.fileUrl != first.fileUrl
    assert again.fileUrl.startswith(f"{FAKE_BUCKET_URL}/{record.key}?expires=120&")
    assert again.model_dump(exclude={"fileUrl"}) == first.model_dump(exclude={"fileUrl"})
    assert account.balance == START - 50  # reading a result is free


@pytest.mark.parametrize("result_id", ["not-a-uuid", "", str(uuid.UUID(int=5))])
def test_malformed_or_unknown_result_ids_are_not_found(
    result_id: str, account: Account, store: Uploads, settings: Settings
) -> None:
    error = raised(
        NotFound, lambda: get_ocr_result(account.caller, result_id, objects=store.objects, settings=settings)
    )
    assert error.message == "Result not found"


def test_another_users_result_is_not_found(account: Account, store: Uploads, settings: Settings) -> None:
    record = store.add("alice", image_bytes())
    kept = run(record.key, account, store, FakeEngine(TEXT), settings)
    bob = account.other_caller("bob")
    raised(NotFound, lambda: get_ocr_result(bob, kept.id, objects=store.objects, settings=settings))

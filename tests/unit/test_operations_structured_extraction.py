"""The structured-extraction operation against in-memory fakes: the engine's token hold taken, the tokens the
engine reports charged (never more than the hold), everything refunded on failure, bad images refused first."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from snapscribe.config import Settings
from snapscribe.contracts.structured_extraction import DEFAULT_MODEL, MAX_IMAGE_BYTES, StructuredExtractionForm
from snapscribe.errors import (
    CorruptImage,
    EngineTimeout,
    ImageTooLarge,
    InsufficientBalance,
    MissingField,
    SnapscribeError,
    UnknownEngine,
    UnsupportedImageFormat,
)
from snapscribe.jobs.plan import Deps
from snapscribe.jobs.run import run_now
from snapscribe.operations.structured_extraction import EXTRACT_STRUCTURED
from tests.fakes import (
    Account,
    FakeEngine,
    answer,
    engine_picker,
    funded_account,
    image_bytes,
    make_settings,
    no_engine,
    raised,
    refused_free,
)

START = 5000
HOLD = 1000  # the fake engine's hold for one page
TEMPLATE_PROMPT = 'Fill in this template: {"invoice_no": "Invoice number", "total": "Total"}'


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "work", max_output_tokens=4321)


@pytest.fixture
def account() -> Account:
    return funded_account(START)


def form(
    image: bytes, *, prompt: str = TEMPLATE_PROMPT, model: str = DEFAULT_MODEL, scene: str = "general"
) -> StructuredExtractionForm:
    return StructuredExtractionForm(model=model, scene=scene, prompt=prompt, image=image, filename="scan.png")


def run(
    the_form: StructuredExtractionForm,
    account: Account,
    engine: FakeEngine,
    settings: Settings,
    asked: list[str | None] | None = None,
    engine_for: Callable[[str | None], FakeEngine] | None = None,
) -> dict[str, object]:
    pick = engine_for or engine_picker(engine, asked)
    deps = Deps(
        accounts=account.service, settings=settings, engine_for=lambda engine_id=None, **_options: pick(engine_id)
    )
    return run_now(EXTRACT_STRUCTURED, the_form, account.caller, deps).model_dump()


def test_success_charges_the_tokens_used_and_returns_the_rest(account: Account, settings: Settings) -> None:
    engine = FakeEngine(answer('```json\n{"invoice_no": "A-17", "total": "9.99"}\n```', 30, 20), hold_per_page=HOLD)
    asked: list[str | None] = []
    response = run(form(image_bytes(80, 40), scene="medical"), account, engine, settings, asked)
    assert response == {
        "content": '{"invoice_no": "A-17", "total": "9.99"}',
        "usage": {"prompt_tokens": 30, "completion_tokens": 20, "total_tokens": 50},
        "base_resp": {"status_code": 0, "status_msg": "success"},
    }
    assert account.summary() == (START - 50, [(HOLD, HOLD - 50, "partial")])
    # The contract's model id means the deployment's default engine: the plan asks for the default, and
    # the work item (which may run in another invocation) names that default explicitly.
    assert asked[0] is None
    assert asked[1:] == [settings.engine]
    assert engine.holds == [(1, TEMPLATE_PROMPT)]
    [sent] = engine.requests
    assert (sent.json_mode, sent.template, sent.scene, sent.max_output_tokens) == (
        True,
        {"invoice_no": "Invoice number", "total": "Total"},
        "medical",
        4321,
    )
    assert [image.width for image in sent.images] == [80]


def test_tokens_beyond_the_hold_are_not_charged(account: Account, settings: Settings) -> None:
    engine = FakeEngine(answer('{"total": "1"}', 900, 400), hold_per_page=HOLD)
    run(form(image_bytes()), account, engine, settings)
    assert account.summary() == (START - HOLD, [(HOLD, 0, "charged")])


def test_a_named_model_is_asked_for_by_name(account: Account, settings: Settings) -> None:
    asked: list[str | None] = []
    run(form(image_bytes(), model="gemini-2.5-flash"), account, FakeEngine('{"a": 1}'), settings, asked)
    assert asked
    assert set(asked) == {"gemini-2.5-flash"}


def test_an_unknown_model_charges_nothing(account: Account, settings: Settings) -> None:
    engine = FakeEngine()
    the_form = form(image_bytes(), model="no-such-model")
    refused_free(UnknownEngine, lambda: run(the_form, account, engine, settings, engine_for=no_engine), account, engine)


@pytest.mark.parametrize(
    ("image", "error_type", "message"),
    [
        (image_bytes(fmt="GIF"), UnsupportedImageFormat, "Invalid image format (GIF)"),
        (image_bytes(fmt="TIFF"), UnsupportedImageFormat, "Invalid image format (TIFF)"),
        (b"", MissingField, "Missing required field: image"),
        (b"\0" * (MAX_IMAGE_BYTES + 1), ImageTooLarge, "Image size exceeds 10MB limit"),
        (image_bytes()[:60], CorruptImage, "The PNG image is corrupt"),
    ],
    ids=["gif", "tiff", "empty", "over-10-MB", "corrupt-png"],
)
def test_bad_images_are_refused_before_any_hold(
    image: bytes, error_type: type[SnapscribeError], message: str, account: Account, settings: Settings
) -> None:
    engine = FakeEngine()
    error = refused_free(error_type, lambda: run(form(image), account, engine, settings), account, engine)
    assert error.message.startswith(message)


def test_a_bmp_is_accepted_and_sent_as_png(account: Account, settings: Settings) -> None:
    engine = FakeEngine('{"total": "3"}')
    run(form(image_bytes(30, 30, fmt="BMP")), account, engine, settings)
    assert [(image.source_format, image.mime_type) for image in engine.requests[0].images] == [("BMP", "image/png")]


def test_an_engine_timeout_propagates_as_itself_and_refunds_the_hold(account: Account, settings: Settings) -> None:
    engine = FakeEngine(EngineTimeout("the model did not answer in time"), hold_per_page=HOLD)
    error = raised(EngineTimeout, lambda: run(form(image_bytes()), account, engine, settings))
    assert error.message == "the model did not answer in time"  # a timeout stays a timeout (504 upstream)
    assert account.summary() == (START, [(HOLD, HOLD, "refunded")])


def test_a_balance_below_the_hold_takes_nothing_and_runs_nothing(settings: Settings) -> None:
    account = funded_account(HOLD - 1)
    engine = FakeEngine(hold_per_page=HOLD)
    error = refused_free(
        InsufficientBalance, lambda: run(form(image_bytes()), account, engine, settings), account, engine
    )
    assert (error.needed, error.available) == (HOLD, HOLD - 1)


def test_a_prompt_without_json_gets_the_text_as_it_is(account: Account, settings: Settings) -> None:
    fenced = '```json\n{"a": 1}\n```'
    engine = FakeEngine(answer(fenced, 10, 5))
    response = run(form(image_bytes(), prompt="Read all the text"), account, engine, settings)
    assert response["content"] == fenced
    assert (engine.requests[0].json_mode, engine.requests[0].template) == (False, None)
    assert account.summary() == (START - 15, [(HOLD, HOLD - 15, "partial")])


def test_a_json_prompt_with_an_answer_that_is_not_json_still_answers_and_charges(
    account: Account, settings: Settings
) -> None:
    engine = FakeEngine(answer("I could not read a total.", 10, 5))
    response = run(form(image_bytes(), prompt="Answer in JSON: what is the total?"), account, engine, settings)
    assert response["content"] == "I could not read a total."
    assert (engine.requests[0].json_mode, engine.requests[0].template) == (True, None)
    assert account.summary() == (START - 15, [(HOLD, HOLD - 15, "partial")])

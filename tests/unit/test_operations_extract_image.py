"""The extract-image operation against in-memory fakes: 10 credits + 1 per image held, charged on success,
refunded whenever anything inside the hold fails; base64 and data-URL inputs; jsonMode; the workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from snapscribe.config import Settings
from snapscribe.contracts.extract_image import ExtractImageRequest, ExtractImageResponse
from snapscribe.engines.base import ExtractionRequest
from snapscribe.errors import (
    CorruptImage,
    EngineError,
    EngineTimeout,
    ImageTooLarge,
    InsufficientBalance,
    InvalidRequest,
    LimitExceeded,
    SnapscribeError,
    UnsupportedImageFormat,
    UrlNotAllowed,
)
from snapscribe.images.fetch import Resolver, system_resolver
from snapscribe.jobs.plan import Deps
from snapscribe.jobs.run import run_now
from snapscribe.operations.extract_image import EXTRACT_IMAGE, ExtractionFailed
from tests.fakes import (
    Account,
    FakeEngine,
    b64,
    files_in,
    funded_account,
    image_bytes,
    make_settings,
    raised,
    refused_free,
)

START = 100
PNG = image_bytes(40, 20)
JPEG = image_bytes(50, 20, fmt="JPEG")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "work", max_images=2, max_output_tokens=777)


@pytest.fixture
def account() -> Account:
    return funded_account(START)


def work_files(settings: Settings) -> list[Path]:
    assert settings.tmp_dir is not None
    return files_in(settings.tmp_dir)


def run(
    images: list[str],
    account: Account,
    engine: FakeEngine,
    settings: Settings,
    *,
    prompt: str = "Read the text",
    json_mode: bool = False,
    method: str = "base64",
    resolver: Resolver = system_resolver,
) -> ExtractImageResponse:
    request = ExtractImageRequest.model_validate(
        {"inputMethod": method, "images": images, "prompt": prompt, "jsonMode": json_mode}
    )
    deps = Deps(
        accounts=account.service, settings=settings, engine_for=lambda *_args, **_options: engine, resolver=resolver
    )
    result = run_now(EXTRACT_IMAGE, request, account.caller, deps)
    assert isinstance(result, ExtractImageResponse)
    return result


def test_success_charges_ten_plus_one_per_image_and_sends_every_image(account: Account, settings: Settings) -> None:
    engine = FakeEngine("Hello from the image")
    response = run([b64(PNG), b64(JPEG)], account, engine, settings)
    assert response.model_dump() == {
        "results": "Hello from the image",
        "prompt": "Read the text",
        "imageCount": 2,
        "creditUsage": 12,
    }
    assert account.summary() == (START - 12, [(12, 0, "charged")])
    [sent] = engine.requests
    assert [(image.width, image.mime_type) for image in sent.images] == [(40, "image/png"), (50, "image/jpeg")]
    assert (sent.prompt, sent.json_mode, sent.template, sent.max_output_tokens) == ("Read the text", False, None, 777)
    assert work_files(settings) == []


def test_data_urls_and_wrapped_base64_are_read(account: Account, settings: Settings) -> None:
    encoded = b64(PNG)
    wrapped = "  " + "\n".join(encoded[i : i + 60] for i in range(0, len(encoded), 60)) + "\n"
    engine = FakeEngine("ok")
    run([f"data:image/png;base64,{b64(JPEG)}", wrapped], account, engine, settings)
    assert [image.width for image in engine.requests[0].images] == [50, 40]
    assert account.summary() == (START - 12, [(12, 0, "charged")])


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("data:image/png," + b64(PNG), "images[1]: a data URL must be base64-encoded"),
        ("@@not base64@@", "images[1]: not valid base64"),
        ("   ", "images[1]: the image is empty"),
        ("data:image/png;base64,", "images[1]: the image is empty"),
    ],
    ids=["data-url-not-base64", "not-base64", "blank", "empty-data-url"],
)
def test_bad_base64_is_refused_before_any_hold(bad: str, message: str, account: Account, settings: Settings) -> None:
    """base64 is checked when the request is planned, before anything is held: no ledger row at all."""
    engine = FakeEngine()
    error = refused_free(InvalidRequest, lambda: run([b64(PNG), bad], account, engine, settings), account, engine)
    assert error.message == message
    assert work_files(settings) == []


@pytest.mark.parametrize(
    ("data", "error_type", "ledger"),
    [
        # Its header tells: refused when the request is planned, before anything is held (a job is never admitted).
        (b"plain text, not an image at all", UnsupportedImageFormat, []),
        (b"\x89PNG\r\n\x1a\n not a header", CorruptImage, []),
        # Only decoding its pixels tells: refused as the image is read, and refunded.
        (PNG[:60], CorruptImage, [(11, 11, "refunded")]),
    ],
    ids=["text", "broken-png-header", "truncated-png"],
)
def test_undecodable_images_are_refused_with_their_index_and_refunded(
    data: bytes, error_type: type[SnapscribeError], ledger: list[Any], account: Account, settings: Settings
) -> None:
    engine = FakeEngine()
    error = raised(error_type, lambda: run([b64(data)], account, engine, settings))
    assert error.message.startswith("images[0]: ")
    assert account.summary() == (START, ledger)
    assert engine.requests == []
    assert work_files(settings) == []


def test_an_image_of_exactly_the_byte_limit_passes_and_one_byte_less_of_limit_refuses(
    account: Account, tmp_path: Path
) -> None:
    at_limit = make_settings(tmp_path / "work", max_image_bytes=len(PNG))
    run([b64(PNG)], account, FakeEngine(), at_limit)
    assert account.summary() == (START - 11, [(11, 0, "charged")])

    below = make_settings(tmp_path / "work", max_image_bytes=len(PNG) - 1)
    error = raised(ImageTooLarge, lambda: run([b64(PNG)], account, FakeEngine(), below))
    assert error.message.startswith("images[0]: the image is larger than")
    assert account.summary() == (START - 11, [(11, 0, "charged")])  # refused before any hold


def test_images_together_over_the_total_limit_are_refused(account: Account, tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "work", max_total_bytes=2 * len(PNG) - 1)
    engine = FakeEngine()
    call = lambda: run([b64(PNG), b64(PNG)], account, engine, settings)  # noqa: E731
    error = refused_free(LimitExceeded, call, account, engine)
    assert type(error) is LimitExceeded  # the sum, not one image, is over
    assert error.message.startswith("The images together are larger than")


def test_too_many_images_are_refused_before_any_hold(account: Account, settings: Settings) -> None:
    engine = FakeEngine()
    error = refused_free(LimitExceeded, lambda: run([b64(PNG)] * 3, account, engine, settings), account, engine)
    assert error.message == "At most 2 images can be processed in one request"


def test_a_short_balance_takes_nothing_and_runs_nothing(settings: Settings) -> None:
    account = funded_account(11)
    engine = FakeEngine()
    error = refused_free(
        InsufficientBalance, lambda: run([b64(PNG), b64(PNG)], account, engine, settings), account, engine
    )
    assert (error.needed, error.available) == (12, 11)
    assert work_files(settings) == []


@pytest.mark.parametrize("failure", [EngineError("the model broke"), EngineTimeout("the model took too long")])
def test_an_engine_failure_is_extraction_failed_and_refunds_everything(
    failure: EngineError, account: Account, settings: Settings
) -> None:
    error = raised(ExtractionFailed, lambda: run([b64(PNG), b64(JPEG)], account, FakeEngine(failure), settings))
    assert error.message == failure.message
    assert account.summary() == (START, [(12, 12, "refunded")])
    assert work_files(settings) == []


def test_json_mode_sends_the_template_and_answers_compact_json(account: Account, settings: Settings) -> None:
    engine = FakeEngine('```json\n{ "total" : "12.50",\n "items": [] }\n```')
    prompt = 'Extract using this schema: {"total": "Total amount", "items": []}'
    response = run([b64(PNG)], account, engine, settings, prompt=prompt, json_mode=True)
    assert response.results == '{"total": "12.50", "items": []}'
    [sent] = engine.requests
    assert (sent.json_mode, sent.template) == (True, {"total": "Total amount", "items": []})
    assert account.summary() == (START - 11, [(11, 0, "charged")])


def test_json_mode_with_an_answer_that_is_not_json_fails_and_refunds(account: Account, settings: Settings) -> None:
    engine = FakeEngine("Sure! The total is 12.50")
    error = raised(ExtractionFailed, lambda: run([b64(PNG)], account, engine, settings, json_mode=True))
    assert error.message == "the model's answer was not valid JSON"
    assert account.summary() == (START, [(11, 11, "refunded")])
    assert work_files(settings) == []


def test_the_workspace_is_gone_before_the_engine_runs(account: Account, settings: Settings) -> None:
    seen: list[list[Path]] = []

    def look(_request: ExtractionRequest) -> str:
        seen.append(work_files(settings))
        return "ok"

    run([b64(PNG), b64(JPEG)], account, FakeEngine(look), settings)
    assert seen == [[]]  # the images were prepared in memory and their files (and folder) removed
    assert work_files(settings) == []


def test_a_url_to_an_internal_address_is_refused_without_connecting(account: Account, settings: Settings) -> None:
    asked: list[tuple[str, int]] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return ["10.0.0.7"]

    engine = FakeEngine()
    error = raised(
        UrlNotAllowed,
        lambda: run(["https://images.example/scan.png"], account, engine, settings, method="url", resolver=resolver),
    )
    assert error.message == "images[0]: The image URL points to an address that is not allowed"
    assert asked == [("images.example", 443)]
    assert account.summary() == (START, [])  # refused as the request is planned, before anything is held
    assert engine.requests == []
    assert work_files(settings) == []

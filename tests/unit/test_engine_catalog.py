"""The engines a deployment offers: the operator's list, with prices; a request naming anything else is refused
with the list; one engine object per offered id; keys re-read from SSM within five minutes of a rotation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from snapscribe.engines.base import ExtractionRequest
from snapscribe.engines.catalog import MAX_ENGINES, EngineCatalog, parse_entry
from snapscribe.engines.registry import Engines
from snapscribe.engines.secrets import RotatingSecret
from snapscribe.errors import UnknownEngine
from snapscribe.images.prepare import prepare_image
from snapscribe.services import AwsClients
from tests.conftest import GeminiStub
from tests.fakes import make_settings


def _catalog(listed: str, *defaults: str) -> EngineCatalog:
    return EngineCatalog(listed, defaults or ("local",), gemini_model="gemini-2.5-flash")


def test_entries_and_their_prices() -> None:
    assert parse_entry("local").id == "local"
    assert parse_entry("rapidocr").id == "local"
    bedrock = parse_entry("bedrock:anthropic.claude-3-5-haiku-20241022-v1:0=3000")
    assert (bedrock.family, bedrock.price) == ("bedrock", 3000)
    assert bedrock.model == "anthropic.claude-3-5-haiku-20241022-v1:0"  # the model id's own colon is kept
    assert bedrock.credits(tokens=1001, pages=1) == 3003  # 3 credits a token, rounded up
    assert parse_entry("openai:qwen2.5-vl").credits(tokens=1001, pages=3) == 1001  # a credit a token by default
    textract = parse_entry("textract=15")
    assert textract.per_page
    assert textract.credits(tokens=99999, pages=4) == 60  # per page, whatever the tokens


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        ("bedrock", "names no model"),
        ("bedrock:", "names no model"),
        ("openai", "names no model"),
        ("textract:x", "takes no model"),
        ("tesseract", "unknown engine"),
        ("local=1.5", "whole number"),
        ("gemini:m=-1", "whole number"),
    ],
)
def test_a_bad_entry_is_refused_with_why(entry: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_entry(entry)


def test_the_defaults_and_aliases_are_always_offered() -> None:
    catalog = _catalog("bedrock:amazon.nova-lite-v1:0", "gemini", "local")
    assert catalog.allowed() == ["bedrock:amazon.nova-lite-v1:0", "gemini:gemini-2.5-flash", "local"]
    for alias in ("local", "rapidocr", "danlin"):
        assert catalog.resolve(alias).id == "local"
    assert catalog.resolve("gemini").id == catalog.resolve("gemini-2.5-flash").id == "gemini:gemini-2.5-flash"


def test_a_model_the_operator_did_not_list_is_refused_naming_what_is_offered() -> None:
    catalog = _catalog("bedrock:amazon.nova-lite-v1:0=2000,textract")
    for asked in ("gemini-2.5-pro", "bedrock:anthropic.claude-opus-4", "openai:gpt-4o", "textract=1", "x" * 500):
        with pytest.raises(UnknownEngine) as refused:
            catalog.resolve(asked)
        assert "bedrock:amazon.nova-lite-v1:0, local, textract" in refused.value.message
        assert len(refused.value.message) < 300  # a long id is shown cut, not echoed whole
    assert catalog.resolve("bedrock:amazon.nova-lite-v1:0").price == 2000


def test_the_list_is_bounded() -> None:
    with pytest.raises(ValueError, match="at most"):
        _catalog(",".join(f"openai:m{n}" for n in range(MAX_ENGINES + 1)))


def test_one_engine_object_per_offered_id(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, engines="gemini,bedrock:amazon.nova-lite-v1:0", gemini_api_key="k")
    engines = Engines(settings, AwsClients())
    assert engines("gemini") is engines("gemini-2.5-flash")
    assert engines("bedrock:amazon.nova-lite-v1:0") is engines("bedrock:amazon.nova-lite-v1:0")
    assert engines("u1-ocr-extract") is engines()  # the structured-extraction contract's model id: the default
    for number in range(50):
        with pytest.raises(UnknownEngine):
            engines(f"gemini-{number}")
    assert {engine.name for engine in (engines("gemini"), engines(), engines("bedrock:amazon.nova-lite-v1:0"))} == {
        "gemini",
        "local",
        "bedrock",
    }
    assert len(engines.built()) == 3


def test_a_rotated_key_is_read_again_within_five_minutes() -> None:
    values = iter(["first", "second"])
    now = [1000.0]
    secret = RotatingSecret(lambda: next(values), clock=lambda: now[0])
    assert secret() == "first"
    now[0] += 299
    assert secret() == "first"  # within five minutes: not asked again
    now[0] += 1
    assert secret() == "second"


def test_a_placeholder_key_is_no_key() -> None:
    assert RotatingSecret(lambda: "CHANGE_ME")() is None
    assert RotatingSecret(lambda: None)() is None


def test_gemini_uses_a_rotated_ssm_key_after_five_minutes(
    aws: boto3.session.Session, gemini_stub: GeminiStub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("SNAPSCRIBE_GEMINI_API_KEY")
    ssm = aws.client("ssm")
    ssm.put_parameter(Name="/snapscribe/gemini-api-key", Value="key-one", Type="SecureString")
    now = [0.0]
    settings = make_settings(
        tmp_path,
        engines="gemini",
        gemini_base_url=gemini_stub.url,
        gemini_api_key_parameter="/snapscribe/gemini-api-key",
    )
    engines = Engines(settings, AwsClients(), clock=lambda: now[0])
    image: Any = prepare_image(_png(), max_side=2048, max_pixels=10_000_000)
    request = ExtractionRequest(images=[image], prompt="Read it")
    engines("gemini").extract(request)
    ssm.put_parameter(Name="/snapscribe/gemini-api-key", Value="key-two", Type="SecureString", Overwrite=True)
    now[0] += 120
    engines("gemini").extract(request)
    now[0] += 181  # five minutes after it was read
    engines("gemini").extract(request)
    keys = [sent["headers"]["x-goog-api-key"] for sent in gemini_stub.requests]
    assert keys == ["key-one", "key-one", "key-two"]


def _png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 32), "white").save(buffer, format="PNG")
    return buffer.getvalue()

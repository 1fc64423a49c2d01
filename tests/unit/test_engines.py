"""Engines: the Gemini engine through the real google-genai SDK against a loopback HTTP stub, the local
engine (real RapidOCR) on real images, and the template helpers."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from snapscribe.engines.base import ExtractionRequest
from snapscribe.engines.filler import fill_template
from snapscribe.engines.gemini import GeminiEngine, response_schema
from snapscribe.engines.layout import OcrLine, reading_order_text
from snapscribe.engines.local import LocalEngine
from snapscribe.engines.prompt_template import find_json_template
from snapscribe.engines.registry import Engines
from snapscribe.engines.tokens import estimate_tokens
from snapscribe.errors import EngineError, EngineTimeout, EngineUnavailable, UnknownEngine
from snapscribe.images.prepare import PreparedImage, prepare_image
from tests.conftest import EVAL_DIR, PROJECT_ROOT, GeminiStub
from tests.fakes import make_settings

SAMPLE = (PROJECT_ROOT / "samples" / "invoice.png").read_bytes()


def _image() -> object:
    return prepare_image(SAMPLE, max_side=2048, max_pixels=80_000_000)


def _gemini(stub: GeminiStub, timeout: float = 2.0, inline_bytes: int = 14 << 20) -> GeminiEngine:
    return GeminiEngine(
        api_key=lambda: "k-123",
        model="gemini-2.5-flash",
        timeout_seconds=timeout,
        max_image_side=2048,
        base_url=stub.url,
        inline_bytes=inline_bytes,
    )


def test_find_json_template() -> None:
    prompt = (
        'Please extract using the following schema: {"invoice_no":"Invoice Number","items":[{"name":"Item"}]} thanks'
    )
    assert find_json_template(prompt) == {"invoice_no": "Invoice Number", "items": [{"name": "Item"}]}
    assert find_json_template("Describe {this} image") is None
    assert find_json_template('list: [{"a": "A"}]') == [{"a": "A"}]


def test_estimate_tokens_is_deterministic() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcde") == 2
    assert estimate_tokens("日本") == 2  # 6 UTF-8 bytes


def test_reading_order_and_template_filling() -> None:
    lines = [
        OcrLine("Total:", 10, 200, 80, 220, 0.9),
        OcrLine("12.50", 300, 202, 360, 222, 0.9),
        OcrLine("Invoice No: A-17", 10, 50, 200, 70, 0.9),
        OcrLine("Date", 10, 100, 60, 120, 0.9),
        OcrLine("2024-01-02", 10, 130, 120, 150, 0.9),
    ]
    assert reading_order_text(lines) == "Invoice No: A-17\nDate\n2024-01-02\nTotal: 12.50"
    filled = fill_template(
        {
            "invoice_no": "Invoice No",
            "date": "Date",
            "total": "Total",
            "vat": "VAT",
            "items": [{"name": "Item"}],
            "seller": {"name": "Seller"},
        },
        lines,
    )
    assert filled == {
        "invoice_no": "A-17",
        "date": "2024-01-02",
        "total": "12.50",
        "vat": None,
        "items": [],
        "seller": {"name": None},
    }


def test_gemini_request_and_usage_through_the_sdk(gemini_stub: GeminiStub) -> None:
    gemini_stub.reply_text("An invoice from ACME.", prompt_tokens=300, completion_tokens=7)
    result = _gemini(gemini_stub).extract(ExtractionRequest(images=[_image()], prompt="Describe it"))  # type: ignore[list-item]
    assert (result.text, result.prompt_tokens, result.completion_tokens) == ("An invoice from ACME.", 300, 7)
    sent = gemini_stub.requests[0]
    assert sent["path"].split("?")[0].endswith("/models/gemini-2.5-flash:generateContent")
    assert sent["headers"].get("x-goog-api-key") == "k-123"
    parts = sent["json"]["contents"][0]["parts"]
    inline = parts[0]["inlineData"]
    assert inline.get("mimeType", inline.get("mime_type")) == "image/png"  # the SDK sends either spelling
    assert base64.urlsafe_b64decode(inline["data"]) == SAMPLE  # the SDK encodes bytes URL-safe
    assert parts[1]["text"] == "Describe it"
    assert "responseMimeType" not in sent["json"].get("generationConfig", {})


def _either(part: dict[str, str], camel: str) -> str:
    """A part's field as the SDK sent it: camelCase or snake_case (it sends either spelling)."""
    snake = "".join(f"_{letter.lower()}" if letter.isupper() else letter for letter in camel)
    return part.get(camel, part.get(snake, ""))


def _sized(size: int, mime_type: str = "image/png") -> PreparedImage:
    return PreparedImage(data=bytes([size % 251]) * size, mime_type=mime_type, source_format="PNG", width=1, height=1)


def test_gemini_images_beyond_the_inline_limit_go_through_the_files_api_and_are_deleted(
    gemini_stub: GeminiStub,
) -> None:
    """Four images of 300, 5000, 120 and 7000 bytes with 5000 inline: the two largest are uploaded (the rest then
    fit), referenced in their places, and deleted after the call."""
    images = [_sized(300), _sized(5000, "image/jpeg"), _sized(120), _sized(7000)]
    engine = _gemini(gemini_stub, inline_bytes=5000)
    engine.extract(ExtractionRequest(images=images, prompt="Read them"))
    assert sorted(data for _mime, data in gemini_stub.files.values()) == sorted([images[1].data, images[3].data])
    parts = gemini_stub.requests[-1]["json"]["contents"][0]["parts"]
    by_uri = {f"{gemini_stub.url}/v1beta/{name}": data for name, (_mime, data) in gemini_stub.files.items()}
    assert base64.urlsafe_b64decode(parts[0]["inlineData"]["data"]) == images[0].data
    assert by_uri[_either(parts[1]["fileData"], "fileUri")] == images[1].data
    assert _either(parts[1]["fileData"], "mimeType") == "image/jpeg"
    assert base64.urlsafe_b64decode(parts[2]["inlineData"]["data"]) == images[2].data
    assert by_uri[_either(parts[3]["fileData"], "fileUri")] == images[3].data
    assert parts[4]["text"] == "Read them"
    assert sorted(gemini_stub.deleted) == sorted(gemini_stub.files)


def test_gemini_uploaded_images_are_deleted_when_the_call_fails(gemini_stub: GeminiStub) -> None:
    gemini_stub.reply_error(500)
    engine = _gemini(gemini_stub, inline_bytes=100)
    with pytest.raises(EngineError):
        engine.extract(ExtractionRequest(images=[_sized(500), _sized(50)], prompt="Read them"))
    assert len(gemini_stub.files) == 1
    assert gemini_stub.deleted == list(gemini_stub.files)


def test_gemini_images_within_the_inline_limit_upload_nothing(gemini_stub: GeminiStub) -> None:
    _gemini(gemini_stub).extract(ExtractionRequest(images=[_sized(3000), _sized(4000)], prompt="Read them"))
    assert gemini_stub.files == {}
    assert gemini_stub.deleted == []


def test_gemini_json_mode_sends_the_template_as_schema(gemini_stub: GeminiStub) -> None:
    gemini_stub.reply_text('{"total": "22.30"}')
    template = {"total": "Total", "items": [{"name": "Item"}]}
    result = _gemini(gemini_stub).extract(
        ExtractionRequest(images=[_image()], prompt="x", json_mode=True, template=template)  # type: ignore[list-item]
    )
    assert json.loads(result.text) == {"total": "22.30"}
    config = gemini_stub.requests[0]["json"]["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"] == response_schema(template)
    assert config["responseJsonSchema"]["properties"]["items"]["type"] == "array"


def test_gemini_server_error_becomes_engine_error(gemini_stub: GeminiStub) -> None:
    gemini_stub.reply_error(500)
    with pytest.raises(EngineError) as caught:
        _gemini(gemini_stub).extract(ExtractionRequest(images=[_image()], prompt="x"))  # type: ignore[list-item]
    assert not isinstance(caught.value, EngineTimeout)
    assert "500" in caught.value.message


def test_gemini_refused_key_is_unavailable(gemini_stub: GeminiStub) -> None:
    gemini_stub.reply_error(403, "API key not valid")
    with pytest.raises(EngineUnavailable):
        _gemini(gemini_stub).extract(ExtractionRequest(images=[_image()], prompt="x"))  # type: ignore[list-item]


def test_gemini_slow_answer_is_a_timeout(gemini_stub: GeminiStub) -> None:
    gemini_stub.delay_seconds = 3
    with pytest.raises(EngineTimeout):
        _gemini(gemini_stub, timeout=0.5).extract(ExtractionRequest(images=[_image()], prompt="x"))  # type: ignore[list-item]


def test_registry(tmp_path: Path) -> None:
    engines = Engines(make_settings(tmp_path, engine="local"))
    assert engines().name == "local"
    assert engines("rapidocr") is engines("danlin") is engines()  # one engine object per engine, made once
    with pytest.raises(UnknownEngine):
        engines("gpt-4o")
    with pytest.raises(UnknownEngine):  # not offered by this deployment
        engines("gemini")
    offered = Engines(make_settings(tmp_path, engine="local", engines="gemini"))
    with pytest.raises(EngineUnavailable):  # offered, but no key configured anywhere
        offered("gemini").extract(ExtractionRequest(images=[_image()], prompt="x"))  # type: ignore[list-item]


def test_local_engine_reads_the_sample_invoice() -> None:
    result = LocalEngine().extract(ExtractionRequest(images=[_image()], prompt="Describe it"))  # type: ignore[list-item]
    assert "Invoice No: INV-1042" in result.text
    assert result.text.index("ACME") < result.text.index("Total")
    assert result.prompt_tokens == estimate_tokens("Describe it") + 258
    assert result.completion_tokens == estimate_tokens(result.text)


def test_local_engine_json_mode_without_template() -> None:
    result = LocalEngine().extract(ExtractionRequest(images=[_image()], prompt="x", json_mode=True))  # type: ignore[list-item]
    document = json.loads(result.text)
    assert "Total: 22.30" in document["lines"]
    assert document["text"].startswith("ACME Office Supplies Ltd")


@pytest.mark.eval_data
def test_local_engine_on_a_real_scan() -> None:
    path = EVAL_DIR / "formats" / "same_text_many_formats" / "pytesseract_test.png"
    image = prepare_image(path.read_bytes(), max_side=None, max_pixels=80_000_000)
    text = LocalEngine().extract(ExtractionRequest(images=[image], prompt="x")).text
    assert "The quick brown dog" in text

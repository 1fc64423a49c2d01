"""The structured-extraction API (POST /v1/ocr/image/extract) through StructuredExtractionFunction with
events/*.json under moto: every base_resp code is reached, with its HTTP status."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest
from PIL import Image

from snapscribe.services import from_environment
from tests.conftest import EVENTS_KEY, PROJECT_ROOT, GeminiStub, body_of, invoke, load_event

FUNCTION = "StructuredExtractionFunction"
BOUNDARY = "----snapscribe-events-boundary"
SAMPLE = (PROJECT_ROOT / "samples" / "invoice.png").read_bytes()


def _balance() -> int:
    return int(from_environment().accounts.store.get_balance("events"))


@pytest.fixture
def funded(events_key: str) -> str:
    from_environment().accounts.store.add_credits("events", 99_000)
    return events_key


def _with_body(fields: dict[str, str], image: bytes | None, filename: str = "x.png") -> dict[str, Any]:
    event = load_event("extract_structured")
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    ]
    if image is not None:
        parts.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="{filename}"\r\n'
            f"Content-Type: image/png\r\n\r\n".encode()
            + image
            + b"\r\n"
        )
    event["body"] = base64.b64encode(b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()).decode()
    return event


def _code(result: dict[str, Any]) -> tuple[int, int, str]:
    body = body_of(result)
    assert set(body) == {"content", "usage", "base_resp"}
    return result["statusCode"], body["base_resp"]["status_code"], body["base_resp"]["status_msg"]


def test_contract_example_fills_the_invoice_schema(funded: str) -> None:
    before = _balance()
    result = invoke(FUNCTION, load_event("extract_structured"))
    assert result["statusCode"] == 200, result["body"]
    body = body_of(result)
    assert body["base_resp"] == {"status_code": 0, "status_msg": "success"}
    assert json.loads(body["content"]) == {
        "invoice_no": "INV-1042",
        "date": "2026-11-21",
        "items": [{"name": "Paper A4 x2", "total": "9.80"}, {"name": "Stapler", "total": "12.50"}],
    }
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    prompt = (
        "Please extract the information from the image using the following schema: "
        + '{"invoice_no":"Invoice Number","date":"Invoice Date","items":[{"name":"Item Name","total":"Amount"}]}'
    )
    assert usage["prompt_tokens"] == 258 + (len(prompt.encode()) + 3) // 4  # the documented local count
    assert usage["completion_tokens"] == (len(body["content"].encode()) + 3) // 4
    assert _balance() == before - usage["total_tokens"]
    assert result["multiValueHeaders"]["X-RateLimit-Remaining"] == ["99"]


@pytest.mark.parametrize(
    ("event_name", "status", "code", "message_part"),
    [
        ("extract_structured_missing_prompt", 400, 100001, "prompt"),
        ("extract_structured_missing_image", 400, 100001, "image"),
        ("extract_structured_unknown_model", 400, 100001, "gpt-4o"),
        ("extract_structured_gif", 400, 261001, "Only JPG, JPEG, PNG, BMP are supported"),
        ("extract_structured_corrupt", 400, 261003, "corrupt"),
    ],
)
def test_input_errors(funded: str, event_name: str, status: int, code: int, message_part: str) -> None:
    before = _balance()
    got_status, got_code, message = _code(invoke(FUNCTION, load_event(event_name)))
    assert (got_status, got_code) == (status, code)
    assert message_part in message
    assert _balance() == before


def test_missing_model_and_bad_scene(funded: str) -> None:
    assert _code(invoke(FUNCTION, _with_body({"prompt": "x"}, SAMPLE)))[:2] == (400, 100001)
    status, code, message = _code(
        invoke(FUNCTION, _with_body({"model": "local", "scene": "dental", "prompt": "x"}, SAMPLE))
    )
    assert (status, code) == (400, 100001)
    assert "scene" in message


def test_webp_is_refused_by_content_even_named_png(funded: str) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 20), "white").save(buffer, format="WEBP")
    assert _code(invoke(FUNCTION, _with_body({"model": "local", "prompt": "x"}, buffer.getvalue())))[:2] == (
        400,
        261001,
    )


def test_bmp_is_accepted(funded: str) -> None:
    buffer = io.BytesIO()
    Image.open(io.BytesIO(SAMPLE)).save(buffer, format="BMP")
    result = invoke(FUNCTION, _with_body({"model": "local", "prompt": "Read the text"}, buffer.getvalue(), "a.bmp"))
    assert _code(result)[:2] == (200, 0)
    assert "INV-1042" in body_of(result)["content"]


def test_over_10_mb_is_261002(funded: str) -> None:
    oversized = b"\x89PNG\r\n\x1a\n" + b"\x00" * (10 * 1024 * 1024)
    status, code, message = _code(invoke(FUNCTION, _with_body({"model": "local", "prompt": "x"}, oversized)))
    assert (status, code) == (400, 261002)
    assert "10MB" in message


def test_auth_errors_carry_base_resp(aws: Any) -> None:
    event = load_event("extract_structured")
    event["headers"]["Authorization"] = "Bearer ssk_not_a_key"
    assert _code(invoke(FUNCTION, event)) == (401, 1004, "Invalid or missing Authorization header")


def test_short_balance_is_402(accounts: Any) -> None:
    accounts.create_key(user_id="events", credits=10, rate_limit=10, raw_key=EVENTS_KEY)
    status, code, _message = _code(invoke(FUNCTION, load_event("extract_structured")))
    assert (status, code) == (402, 1008)


@pytest.fixture
def gemini(gemini_default: GeminiStub, funded: str) -> GeminiStub:
    return gemini_default


def test_gemini_gets_the_schema_and_the_scene(gemini: GeminiStub) -> None:
    gemini.reply_text('{"invoice_no": "INV-1042", "date": "2026-11-21", "items": []}', 1400, 30)
    event = _with_body(
        {
            "model": "u1-ocr-extract",
            "scene": "medical",
            "prompt": 'Fill {"invoice_no": "Invoice Number", "date": "Date", "items": [{"name": "Item"}]}',
        },
        base64.b64decode(json.loads(load_event("extract_image_base64")["body"])["images"][0]),
    )
    before = _balance()
    result = invoke(FUNCTION, event)
    body = body_of(result)
    assert body["usage"] == {"prompt_tokens": 1400, "completion_tokens": 30, "total_tokens": 1430}
    assert json.loads(body["content"])["invoice_no"] == "INV-1042"
    sent = gemini.requests[0]["json"]
    assert "medical" in json.dumps(sent["systemInstruction"]).lower()
    assert sent["generationConfig"]["responseJsonSchema"]["properties"]["items"]["type"] == "array"
    assert _balance() == before - 1430


def test_upstream_timeout_is_261101_and_504(gemini: GeminiStub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNAPSCRIBE_GEMINI_TIMEOUT_SECONDS", "0.5")
    gemini.delay_seconds = 3
    before = _balance()
    assert _code(invoke(FUNCTION, load_event("extract_structured")))[:2] == (504, 261101)
    assert _balance() == before


def test_a_busy_model_is_1002_and_503_with_retry_after(gemini: GeminiStub) -> None:
    gemini.reply_error(429, "Resource has been exhausted")
    before = _balance()
    result = invoke(FUNCTION, load_event("extract_structured"))
    assert _code(result)[:2] == (503, 1002)
    assert result["multiValueHeaders"]["Retry-After"] == ["5"]
    assert _balance() == before


def test_a_bedrock_model_not_enabled_is_503_naming_what_to_enable(funded: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from snapscribe_tools.standins import bedrock

    server, url = bedrock.serve()
    try:
        model = "bedrock:standin.error.AccessDeniedException"  # the stand-in answers Bedrock's AccessDenied
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", url)
        monkeypatch.setenv("SNAPSCRIBE_ENGINES", model)
        event = _with_body(
            {"model": model, "prompt": "Read it"}, (PROJECT_ROOT / "samples" / "invoice.png").read_bytes()
        )
        before = _balance()
        status, code, message = _code(invoke(FUNCTION, event))
    finally:
        server.shutdown()
        server.server_close()
    assert (status, code) == (503, 261999)
    assert "standin.error.AccessDeniedException" in message
    assert "model access" in message.lower()
    assert _balance() == before


def test_upstream_failure_is_261999_and_500(gemini: GeminiStub) -> None:
    gemini.reply_error(500)
    before = _balance()
    status, code, message = _code(invoke(FUNCTION, load_event("extract_structured")))
    assert (status, code) == (500, 261999)
    assert "500" in message
    assert _balance() == before


def test_fields_true_adds_each_fields_confidence_and_box_and_nothing_else_changes(funded: str) -> None:
    plain = body_of(invoke(FUNCTION, load_event("extract_structured")))
    result = invoke(FUNCTION, load_event("extract_structured_with_fields"))
    assert result["statusCode"] == 200, result["body"]
    body = body_of(result)
    assert set(body) == {"content", "usage", "base_resp", "fields"}
    assert body["content"] == plain["content"]
    assert body["usage"] == plain["usage"]  # the same work, charged the same
    fields = body["fields"]
    assert set(fields) == {"/invoice_no", "/date", "/items/0/name", "/items/0/total", "/items/1/name", "/items/1/total"}
    invoice = fields["/invoice_no"]
    assert invoice["value"] == "INV-1042"
    assert 0.5 < invoice["confidence"] <= 1
    assert invoice["page"] == 0
    x0, y0, x1, y1 = invoice["box"]
    assert 0 <= x0 < x1 <= 720
    assert 0 <= y0 < y1 <= 460  # samples/invoice.png is 720 x 460
    assert fields["/items/1/total"]["value"] == "12.50"


def test_a_fields_flag_that_is_not_true_or_false_is_100001(funded: str) -> None:
    event = load_event("extract_structured_with_fields")
    event["queryStringParameters"] = {"fields": "maybe"}
    event["multiValueQueryStringParameters"] = {"fields": ["maybe"]}
    before = _balance()
    status, code, message = _code(invoke(FUNCTION, event))
    assert (status, code) == (400, 100001)
    assert "fields" in message
    assert _balance() == before


def test_a_template_nested_too_deeply_is_100001_and_charges_nothing(funded: str) -> None:
    before = _balance()
    prompt = "Please extract with this schema: " + '{"a": ' * 40 + '"x"' + "}" * 40
    status, code, message = _code(invoke(FUNCTION, _with_body({"model": "local", "prompt": prompt}, SAMPLE)))
    assert (status, code) == (400, 100001)
    assert "nested deeper than 32 levels" in message
    assert _balance() == before

"""The extract-image API: ExtractImageFunction, invoked as Lambda would, with events/*.json, under moto (tables
from template.yaml)."""

from __future__ import annotations

import base64
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools import Logger
from PIL import Image

from snapscribe.services import from_environment
from tests.conftest import EVAL_DIR, EVENTS_KEY, FileServer, GeminiStub, body_of, invoke, load_event

FUNCTION = "ExtractImageFunction"


def _post(event_name: str = "extract_image_base64", **body_changes: Any) -> dict[str, Any]:
    event = load_event(event_name)
    if body_changes:
        body = json.loads(event["body"])
        body.update(body_changes)
        event["body"] = json.dumps(body)
    return event


def _balance(user_id: str = "events") -> int:
    return int(from_environment().accounts.store.get_balance(user_id))


def _ledger(user_id: str = "events") -> list[Any]:
    return list(from_environment().accounts.store.ledger(user_id))


def _png(text_colour: str = "black") -> str:
    image = Image.new("RGB", (200, 60), "white")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_base64_request_answers_with_the_contract_fields(events_key: str) -> None:
    result = invoke(FUNCTION, load_event("extract_image_base64"))
    assert result["statusCode"] == 200, result["body"]
    body = body_of(result)
    assert set(body) == {"results", "prompt", "imageCount", "creditUsage"}
    assert "INV-1042" in body["results"]
    assert body["prompt"] == "Describe the main elements in this image."
    assert (body["imageCount"], body["creditUsage"]) == (1, 11)
    headers = result["multiValueHeaders"]
    assert headers["X-RateLimit-Limit"] == ["100"]
    assert headers["X-RateLimit-Remaining"] == ["99"]
    assert headers["Content-Type"] == ["application/json"]
    assert _balance() == 1000 - 11
    (row,) = _ledger()
    assert (row.route, row.cost, row.refund, row.status, row.request_id) == (
        "POST /api/v1/extract-image",
        11,
        0,
        "charged",
        "evt-extract_image_base64",
    )


def test_x_api_key_header_works_too(events_key: str) -> None:
    assert invoke(FUNCTION, load_event("extract_image_x_api_key"))["statusCode"] == 200


def test_json_mode_returns_a_json_string_filled_from_the_template(events_key: str) -> None:
    result = invoke(FUNCTION, load_event("extract_image_json_mode"))
    assert result["statusCode"] == 200, result["body"]
    assert json.loads(body_of(result)["results"]) == {"invoice_no": "INV-1042", "date": "2026-11-21", "total": "22.30"}


def test_credit_usage_is_ten_plus_one_per_image(events_key: str) -> None:
    image = json.loads(load_event("extract_image_base64")["body"])["images"][0]
    result = invoke(FUNCTION, _post(images=[image, _png(), _png()]))
    assert result["statusCode"] == 200, result["body"]
    assert (body_of(result)["imageCount"], body_of(result)["creditUsage"]) == (3, 13)
    assert _balance() == 1000 - 13


def test_formats_listing(events_key: str) -> None:
    result = invoke(FUNCTION, load_event("list_image_formats"))
    assert result["statusCode"] == 200
    formats = {item["format"] for item in body_of(result)["supportedFormats"]}
    assert {"PNG", "JPEG", "WebP", "HEIC", "HEIF", "BMP", "GIF", "TIFF"} <= formats
    assert _balance() == 1000


@pytest.mark.parametrize(
    ("event_name", "message_part"),
    [
        ("extract_image_missing_prompt", "prompt"),
        ("extract_image_missing_images", "images"),
        ("extract_image_bad_input_method", "inputMethod"),
        ("extract_image_bad_base64", "not valid base64"),
        ("extract_image_unsupported_format", "not an image in a supported format"),
        ("extract_image_url_metadata", "not allowed"),
    ],
)
def test_bad_requests_are_400_in_the_contract_shape(events_key: str, event_name: str, message_part: str) -> None:
    result = invoke(FUNCTION, load_event(event_name))
    assert result["statusCode"] == 400
    body = body_of(result)
    assert set(body) == {"error"}
    assert message_part in body["error"]
    assert _balance() == 1000  # nothing charged (or all given back)
    assert all(row.cost == row.refund for row in _ledger())


@pytest.mark.parametrize(
    ("changes", "message_part"),
    [
        ({"images": []}, "images"),
        ({"prompt": "   "}, "prompt"),
        ({"jsonMode": "yes"}, "jsonMode"),
        ({"images": "not-a-list"}, "images"),
    ],
)
def test_invalid_fields(events_key: str, changes: dict[str, Any], message_part: str) -> None:
    result = invoke(FUNCTION, _post(**changes))
    assert result["statusCode"] == 400
    assert message_part in body_of(result)["error"]


def test_body_that_is_not_json(events_key: str) -> None:
    event = load_event("extract_image_base64")
    event["body"] = "{not json"
    result = invoke(FUNCTION, event)
    assert (result["statusCode"], body_of(result)) == (400, {"error": "The request body is not valid JSON"})


@pytest.mark.parametrize("event_name", ["extract_image_no_auth", "extract_image_wrong_key"])
def test_missing_or_wrong_key_is_401(events_key: str, event_name: str) -> None:
    result = invoke(FUNCTION, load_event(event_name))
    assert (result["statusCode"], body_of(result)) == (401, {"error": "Invalid or missing Authorization header"})
    assert "X-RateLimit-Limit" not in (result.get("multiValueHeaders") or {})


def test_revoked_key_is_401(events_key: str) -> None:
    store = from_environment().accounts.store
    (record,) = store.list_keys()
    store.revoke_key(record.key_id)
    assert invoke(FUNCTION, load_event("list_image_formats"))["statusCode"] == 401


def test_rate_limit_429_with_reset_and_retry_after(accounts: Any) -> None:
    accounts.create_key(user_id="events", credits=1000, rate_limit=2, raw_key=EVENTS_KEY)
    assert [invoke(FUNCTION, load_event("list_image_formats"))["statusCode"] for _ in range(2)] == [200, 200]
    result = invoke(FUNCTION, load_event("list_image_formats"))
    assert result["statusCode"] == 429
    headers = {name: values[0] for name, values in result["multiValueHeaders"].items()}
    assert headers["X-RateLimit-Limit"] == "2"
    assert headers["X-RateLimit-Remaining"] == "0"
    assert int(headers["X-RateLimit-Reset"]) % 60 == 0
    assert 1 <= int(headers["Retry-After"]) <= 60
    assert "Rate limit" in body_of(result)["error"]


def test_short_balance_is_402_and_charges_nothing(accounts: Any) -> None:
    accounts.create_key(user_id="events", credits=10, rate_limit=10, raw_key=EVENTS_KEY)
    result = invoke(FUNCTION, load_event("extract_image_base64"))
    assert result["statusCode"] == 402
    assert body_of(result)["error"] == "Insufficient credits: this request needs 11, the balance is 10"
    assert _balance() == 10
    assert _ledger() == []


@pytest.mark.eval_data
def test_corrupt_image_is_400_and_refunded(events_key: str) -> None:
    data = (EVAL_DIR / "formats" / "bmp" / "bmpsuite_b_shortfile.bmp").read_bytes()
    result = invoke(FUNCTION, _post(images=[base64.b64encode(data).decode()]))
    assert result["statusCode"] == 400
    assert body_of(result)["error"].startswith("images[0]: The BMP image is corrupt")
    assert _balance() == 1000
    (row,) = _ledger()
    assert (row.cost, row.refund, row.status) == (11, 11, "refunded")


@pytest.mark.eval_data
def test_heic_and_webp_and_bmp_inputs(events_key: str) -> None:
    folder = EVAL_DIR / "formats" / "same_text_many_formats"
    images = [
        base64.b64encode((folder / name).read_bytes()).decode()
        for name in ("pytesseract_test_derived.heic", "pytesseract_test.webp", "pytesseract_test.bmp")
    ]
    result = invoke(FUNCTION, _post(images=images))
    assert result["statusCode"] == 200, result["body"]
    assert body_of(result)["results"].count("quick brown dog") >= 3


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_decompression_bomb_is_400(events_key: str) -> None:
    buffer = io.BytesIO()
    Image.new("1", (10000, 9000)).save(buffer, format="PNG")
    result = invoke(FUNCTION, _post(images=[base64.b64encode(buffer.getvalue()).decode()]))
    assert result["statusCode"] == 400
    assert "pixels" in body_of(result)["error"]


def test_image_over_20_mb_is_400(events_key: str) -> None:
    oversized = base64.b64encode(b"\x89PNG" + b"\x00" * (20 * 1024 * 1024)).decode()
    result = invoke(FUNCTION, _post(images=[oversized]))
    assert result["statusCode"] == 400
    assert "larger than 20 MB" in body_of(result)["error"]


def test_images_over_100_mb_together_are_400(events_key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Six 19 MB images pass the per-image limit and exceed the 100 MB total.
    chunk = base64.b64encode(b"\x00" * (19 * 1024 * 1024)).decode()
    result = invoke(FUNCTION, _post(images=[chunk] * 6))
    assert result["statusCode"] == 400
    assert body_of(result)["error"] == "The images together are larger than 100 MB"
    assert _balance() == 1000


def test_more_than_3000_images_is_400_before_any_work(events_key: str) -> None:
    result = invoke(FUNCTION, _post(images=["x"] * 3001))
    assert (result["statusCode"], body_of(result)) == (
        400,
        {"error": "At most 3000 images can be processed in one request"},
    )
    assert _ledger() == []


def test_temporary_files_are_removed_after_success_and_failure(events_key: str, isolated_environment: Path) -> None:
    assert invoke(FUNCTION, load_event("extract_image_base64"))["statusCode"] == 200
    assert list(isolated_environment.iterdir()) == []
    assert invoke(FUNCTION, load_event("extract_image_unsupported_format"))["statusCode"] == 400
    assert list(isolated_environment.iterdir()) == []


def test_url_input_served_on_loopback_with_the_test_setting(
    events_key: str, file_server: FileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = file_server.serve_bytes("/sample-image.png", (Path("samples") / "invoice.png").read_bytes(), "image/png")
    monkeypatch.setenv("SNAPSCRIBE_ALLOW_LOOPBACK_URLS", "true")
    result = invoke(FUNCTION, _post("extract_image_url", images=[url]))
    assert result["statusCode"] == 200, result["body"]
    assert "INV-1042" in body_of(result)["results"]


def test_url_input_on_loopback_is_refused_by_default(events_key: str, file_server: FileServer) -> None:
    url = file_server.serve_bytes("/sample-image.png", b"\x89PNG")
    result = invoke(FUNCTION, _post("extract_image_url", images=[url]))
    assert result["statusCode"] == 400
    assert "not allowed" in body_of(result)["error"]
    assert file_server.hits == []


# --- the gemini engine, through the SDK, against the HTTP stub ---------------------------------------
@pytest.fixture
def gemini(gemini_default: GeminiStub, events_key: str) -> GeminiStub:
    return gemini_default


def test_gemini_engine_answer(gemini: GeminiStub) -> None:
    gemini.reply_text("An invoice from ACME Office Supplies.")
    result = invoke(FUNCTION, load_event("extract_image_base64"))
    assert result["statusCode"] == 200
    assert body_of(result)["results"] == "An invoice from ACME Office Supplies."


def test_images_beyond_the_inline_limit_reach_gemini_through_its_files_api(
    gemini: GeminiStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SNAPSCRIBE_GEMINI_INLINE_BYTES", "1000")  # the sample image is larger
    gemini.reply_text("An invoice from ACME Office Supplies.")
    result = invoke(FUNCTION, load_event("extract_image_base64"))
    assert result["statusCode"] == 200, result["body"]
    assert len(gemini.files) == 1
    assert gemini.deleted == list(gemini.files)  # deleted once the model answered
    assert "fileData" in gemini.requests[-1]["json"]["contents"][0]["parts"][0]


def test_gemini_json_mode_answer_must_parse(gemini: GeminiStub) -> None:
    gemini.reply_text('```json\n{"invoice_no": "INV-1042"}\n```')
    result = invoke(FUNCTION, load_event("extract_image_json_mode"))
    assert json.loads(body_of(result)["results"]) == {"invoice_no": "INV-1042"}
    gemini.reply_text("Sorry, I cannot do that.")
    gemini.requests.clear()
    result = invoke(FUNCTION, load_event("extract_image_json_mode"))
    assert result["statusCode"] == 500
    assert body_of(result)["error"] == "Failed to extract image data: the model's answer was not valid JSON"


def test_engine_failure_is_500_and_credits_come_back(gemini: GeminiStub) -> None:
    gemini.reply_error(500)
    result = invoke(FUNCTION, load_event("extract_image_base64"))
    assert result["statusCode"] == 500
    assert body_of(result)["error"].startswith("Failed to extract image data: the model returned HTTP 500")
    assert _balance() == 1000
    (row,) = _ledger()
    assert (row.cost, row.refund, row.status) == (11, 11, "refunded")


def test_gemini_api_key_from_ssm(
    gemini_stub: GeminiStub, monkeypatch: pytest.MonkeyPatch, aws: Any, events_key: str
) -> None:
    aws.client("ssm").put_parameter(Name="/snapscribe/gemini-api-key", Value="from-ssm", Type="SecureString")
    monkeypatch.delenv("SNAPSCRIBE_GEMINI_API_KEY")
    monkeypatch.setenv("SNAPSCRIBE_GEMINI_API_KEY_PARAMETER", "/snapscribe/gemini-api-key")
    monkeypatch.setenv("SNAPSCRIBE_ENGINE", "gemini")
    assert invoke(FUNCTION, load_event("extract_image_base64"))["statusCode"] == 200
    assert gemini_stub.requests[0]["headers"]["x-goog-api-key"] == "from-ssm"


# --- idempotency -----------------------------------------------------------------------------------
def _with_idempotency_key(event: dict[str, Any], key: str) -> dict[str, Any]:
    event["headers"]["Idempotency-Key"] = key
    event["multiValueHeaders"]["Idempotency-Key"] = [key]
    return event


def test_retry_with_the_same_idempotency_key_is_charged_once(events_key: str) -> None:
    first = invoke(FUNCTION, _with_idempotency_key(load_event("extract_image_base64"), "retry-1"))
    retry_event = _with_idempotency_key(load_event("extract_image_base64"), "retry-1")
    retry_event["requestContext"]["requestId"] = "evt-retry"
    second = invoke(FUNCTION, retry_event)
    assert first["statusCode"] == second["statusCode"] == 200
    assert body_of(first) == body_of(second)
    assert _balance() == 1000 - 11
    assert len(_ledger()) == 1


def test_same_idempotency_key_with_another_body_is_refused(events_key: str) -> None:
    invoke(FUNCTION, _with_idempotency_key(load_event("extract_image_base64"), "k-2"))
    other = _with_idempotency_key(_post(prompt="Something else"), "k-2")
    result = invoke(FUNCTION, other)
    assert result["statusCode"] == 400
    assert "Idempotency-Key" in body_of(result)["error"]
    assert len(_ledger()) == 1


def test_idempotency_keys_are_scoped_per_user(events_key: str, accounts: Any) -> None:
    other_key, _ = accounts.create_key(user_id="other", credits=100, rate_limit=10)
    invoke(FUNCTION, _with_idempotency_key(load_event("extract_image_base64"), "shared"))
    event = _with_idempotency_key(load_event("extract_image_base64"), "shared")
    event["headers"]["Authorization"] = f"Bearer {other_key}"
    event["multiValueHeaders"]["Authorization"] = [f"Bearer {other_key}"]
    assert invoke(FUNCTION, event)["statusCode"] == 200
    assert _balance("other") == 100 - 11  # charged to its own account, not replayed from another


def test_failed_request_is_not_cached_by_idempotency(gemini: GeminiStub) -> None:
    gemini.reply_error(500)
    assert invoke(FUNCTION, _with_idempotency_key(load_event("extract_image_base64"), "k-3"))["statusCode"] == 500
    gemini.reply_text("fine now")
    retry = invoke(FUNCTION, _with_idempotency_key(load_event("extract_image_base64"), "k-3"))
    assert (retry["statusCode"], body_of(retry)["results"]) == (200, "fine now")
    assert _balance() == 1000 - 11


def test_logs_carry_no_secrets_or_image_bytes(events_key: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    invoke(FUNCTION, load_event("extract_image_base64"))
    invoke(FUNCTION, load_event("extract_image_bad_base64"))
    formatter = Logger(service="snapscribe").registered_formatter  # the JSON lines CloudWatch receives
    logs = "\n".join(formatter.format(record) for record in caplog.records if record.name.startswith("snapscribe"))
    logs += "\n".join(json.dumps(record.__dict__, default=str) for record in caplog.records)
    image_b64 = json.loads(load_event("extract_image_base64")["body"])["images"][0]
    assert "request served" in logs
    assert "request refused" in logs
    assert '"user_id":"events"' in logs  # who, yes; their key, never
    assert EVENTS_KEY not in logs
    assert image_b64[:200] not in logs


def test_handler_serves_when_the_shared_logger_has_no_parent(tmp_path: Path) -> None:
    """Logging must never fail a request: here the shared package is imported before the service name
    is set (as a test runner or a tool may do), so its child logger has no parent when the handler runs."""
    import subprocess
    import sys

    script = (
        "import json\n"
        "import snapscribe.web.middleware  # imported while POWERTOOLS_SERVICE_NAME is unset\n"
        "from moto import mock_aws\n"
        "from snapscribe_tools.invoke import invoke_with_fresh_aws\n"
        "event = json.load(open('events/list_image_formats.json'))\n"
        "with mock_aws():\n"
        "    print(invoke_with_fresh_aws('ExtractImageFunction', event)['statusCode'])\n"
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "SNAPSCRIBE_"))}
    environment["SNAPSCRIBE_TMP_DIR"] = str(tmp_path)
    completed = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=environment,
        cwd=Path(__file__).resolve().parents[2],
        timeout=120,
    )
    assert completed.stdout.strip().splitlines()[-1] == "200", completed.stdout[-2000:] + completed.stderr[-2000:]


def test_the_request_source_header_is_kept_with_the_request_in_the_usage_ledger(events_key: str) -> None:
    event = _post()
    event["headers"]["Request-Source"] = "API"
    event["multiValueHeaders"] = {**event.get("multiValueHeaders", {}), "Request-Source": ["API"]}
    assert invoke(FUNCTION, event)["statusCode"] == 200
    assert invoke(FUNCTION, _post())["statusCode"] == 200  # without it: nothing recorded
    assert sorted(str(row.source) for row in _ledger()) == ["API", "None"]


def test_fields_true_adds_each_fields_confidence_and_box(events_key: str) -> None:
    plain = body_of(invoke(FUNCTION, load_event("extract_image_json_mode")))
    result = invoke(FUNCTION, load_event("extract_image_json_mode_with_fields"))
    assert result["statusCode"] == 200, result["body"]
    body = body_of(result)
    assert {key: value for key, value in body.items() if key != "fields"} == plain
    assert set(body["fields"]) == {"/invoice_no", "/date", "/total"}
    total = body["fields"]["/total"]
    assert total["value"] == "22.30"
    assert 0.5 < total["confidence"] <= 1
    assert len(total["box"]) == 4


def test_json_nested_too_deeply_is_400_and_charges_nothing(events_key: str) -> None:
    event = load_event("extract_image_base64")
    event["body"] = "[" * 2000
    result = invoke(FUNCTION, event)
    assert (result["statusCode"], body_of(result)) == (400, {"error": "The request body is nested too deeply"})
    deep_template = '{"a": ' * 40 + '"x"' + "}" * 40
    result = invoke(FUNCTION, _post(jsonMode=True, prompt=f"Fill this schema: {deep_template}"))
    assert result["statusCode"] == 400
    assert "nested deeper than 32 levels" in body_of(result)["error"]
    assert _balance() == 1000

"""The Bedrock engine through the real boto3 client: its serializer, parameter validation, retry handler and response
parser, with the wire answered by a before-send handler (Converse's JSON, or its errors as Bedrock sends them), and
once over real HTTP against the loopback stand-in."""

from __future__ import annotations

import base64
import io
import json
import math
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import boto3
import botocore.retries.standard
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.config import Config
from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError
from PIL import Image

from snapscribe.engines.base import ExtractionRequest
from snapscribe.engines.bedrock import (
    JSON_INSTRUCTION,
    MAX_IMAGE_BYTES,
    PIXELS_PER_IMAGE_TOKEN,
    TOOL_PROMPT_TOKENS,
    BedrockEngine,
    fit_image,
)
from snapscribe.engines.gemini import SYSTEM_INSTRUCTIONS, response_schema
from snapscribe.engines.tokens import estimate_tokens
from snapscribe.errors import (
    EngineError,
    EngineInputTooLarge,
    EngineThrottled,
    EngineTimeout,
    EngineUnavailable,
    SnapscribeError,
)
from snapscribe.images.prepare import PreparedImage
from snapscribe_tools.standins.bedrock import serve
from tests.fakes.builders import heif_bytes

MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
ATTEMPTS = 3


class _Raw:
    """What AWSResponse reads a body from (urllib3's response, in real life)."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_kwargs: Any) -> Iterator[bytes]:
        yield self._body


@dataclass
class Wire:
    """Records every request boto3 sends and answers it with the next queued (status, body, headers)."""

    answers: list[tuple[int, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    sent: list[AWSPreparedRequest] = field(default_factory=list)

    def answer(self, body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.answers.append((status, body, headers or {}))

    def error(self, status: int, code: str, message: str, times: int = 1) -> None:
        for _ in range(times):
            self.answer({"message": message}, status, {"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/"})

    def before_send(self, request: AWSPreparedRequest, **_kwargs: Any) -> AWSResponse:
        self.sent.append(request)
        status, body, headers = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        headers = {"Content-Type": "application/json", "x-amzn-RequestId": "req-1", **headers}
        return AWSResponse(request.url, status, headers, _Raw(json.dumps(body).encode()))

    def body(self, index: int = -1) -> dict[str, Any]:
        raw = self.sent[index].body
        return dict(json.loads(raw if isinstance(raw, bytes | str) else b"{}"))


def converse_answer(*content: dict[str, Any], stop: str = "end_turn", tokens: tuple[int, int] = (10, 5)) -> Any:
    return {
        "output": {"message": {"role": "assistant", "content": list(content)}},
        "stopReason": stop,
        "usage": {"inputTokens": tokens[0], "outputTokens": tokens[1], "totalTokens": sum(tokens)},
        "metrics": {"latencyMs": 100},
    }


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> Wire:
    monkeypatch.delenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", raising=False)
    # Retries without their backoff: a throttled call is retried at once, so no test waits.
    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)
    return Wire()


def engine_on(wire: Wire, **options: Any) -> BedrockEngine:
    client = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": ATTEMPTS, "mode": "standard"}),
    )
    client.meta.events.register("before-send.bedrock-runtime.Converse", wire.before_send)
    return BedrockEngine(model=MODEL, client=client, **options)


def encoded(image: Image.Image, image_format: str) -> bytes:
    if image_format == "HEIF":
        return heif_bytes(image)  # the layer decodes HEIF but cannot encode it
    buffer = io.BytesIO()
    image.save(buffer, format=image_format)
    return buffer.getvalue()


def prepared(image: Image.Image, image_format: str, mime_type: str) -> PreparedImage:
    return PreparedImage(encoded(image, image_format), mime_type, image_format, image.width, image.height)


def page(width: int = 64, height: int = 48) -> Image.Image:
    image = Image.new("RGB", (width, height), (255, 255, 255))
    image.paste((10, 20, 200), (4, 4, width // 2, height // 2))
    return image


def sent_images(wire: Wire) -> list[tuple[str, bytes]]:
    content = wire.body()["messages"][0]["content"]
    return [(b["image"]["format"], base64.b64decode(b["image"]["source"]["bytes"])) for b in content if "image" in b]


def test_one_converse_call_carries_the_images_the_prompt_and_the_system_text(wire: Wire) -> None:
    png = prepared(page(), "PNG", "image/png")
    jpeg = prepared(page(80, 60), "JPEG", "image/jpeg")
    wire.answer(converse_answer({"text": "Invoice 42"}, tokens=(1234, 56)))
    request = ExtractionRequest(images=[png, jpeg], prompt="Read the invoice", scene="medical", max_output_tokens=700)
    result = engine_on(wire).extract(request)
    assert (result.text, result.prompt_tokens, result.completion_tokens) == ("Invoice 42", 1234, 56)
    assert len(wire.sent) == 1
    assert urlsplit(wire.sent[0].url).path == f"/model/{quote(MODEL, safe='')}/converse"
    body = wire.body()
    assert sent_images(wire) == [("png", png.data), ("jpeg", jpeg.data)]  # as they were: no re-encoding
    assert body["messages"][0]["role"] == "user"
    assert body["messages"][0]["content"][-1] == {"text": "Read the invoice"}
    assert body["system"] == [{"text": SYSTEM_INSTRUCTIONS["medical"]}]
    assert body["inferenceConfig"] == {"maxTokens": 700, "temperature": 0.0}
    assert "toolConfig" not in body


@pytest.mark.parametrize(("image_format", "mime_type"), [("TIFF", "image/tiff"), ("BMP", "image/bmp")])
def test_formats_converse_does_not_take_are_sent_as_png(wire: Wire, image_format: str, mime_type: str) -> None:
    source = page()
    wire.answer(converse_answer({"text": "ok"}))
    engine_on(wire).extract(ExtractionRequest(images=[prepared(source, image_format, mime_type)], prompt="Read"))
    [(sent_format, data)] = sent_images(wire)
    assert sent_format == "png"
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        assert image.convert("RGB").tobytes() == source.tobytes()  # lossless


def test_a_heif_photo_is_sent_as_jpeg(wire: Wire) -> None:
    wire.answer(converse_answer({"text": "ok"}))
    engine_on(wire).extract(ExtractionRequest(images=[prepared(page(), "HEIF", "image/heif")], prompt="Read"))
    [(sent_format, data)] = sent_images(wire)
    with Image.open(io.BytesIO(data)) as image:
        assert (sent_format, image.format, image.size) == ("jpeg", "JPEG", (64, 48))


def test_an_image_over_the_byte_limit_is_reencoded_within_it(wire: Wire) -> None:
    noise = Image.frombytes("RGB", (1200, 1200), os.urandom(1200 * 1200 * 3))  # a PNG of it is over 4 MB
    image = prepared(noise, "PNG", "image/png")
    assert len(image.data) > MAX_IMAGE_BYTES
    wire.answer(converse_answer({"text": "ok"}))
    engine_on(wire).extract(ExtractionRequest(images=[image], prompt="Read"))
    [(sent_format, data)] = sent_images(wire)
    assert sent_format == "jpeg"
    assert len(data) <= MAX_IMAGE_BYTES


def test_fit_image_shrinks_until_the_bytes_fit() -> None:
    noise = prepared(Image.frombytes("RGB", (400, 400), os.urandom(400 * 400 * 3)), "JPEG", "image/jpeg")
    image_format, data = fit_image(noise, max_side=2048, max_bytes=20_000)
    with Image.open(io.BytesIO(data)) as image:
        assert (image_format, image.format) == ("jpeg", "JPEG")
        assert len(data) <= 20_000
        assert image.width < 400


@pytest.mark.parametrize(
    ("max_image_side", "size", "expected"),
    [(10_000, (8200, 40), (8000, 39)), (2048, (3000, 100), (2048, 68))],  # Converse's 8000 px, then the engine's
)
def test_an_image_over_the_side_limit_is_downscaled(
    wire: Wire, max_image_side: int, size: tuple[int, int], expected: tuple[int, int]
) -> None:
    wire.answer(converse_answer({"text": "ok"}))
    engine = engine_on(wire, max_image_side=max_image_side)
    engine.extract(ExtractionRequest(images=[prepared(page(*size), "PNG", "image/png")], prompt="Read"))
    [(sent_format, data)] = sent_images(wire)
    with Image.open(io.BytesIO(data)) as image:
        assert (sent_format, image.size) == ("png", expected)


def test_more_images_than_converse_takes_is_refused_before_any_call(wire: Wire) -> None:
    images = [prepared(page(8, 8), "PNG", "image/png")] * 21
    with pytest.raises(EngineInputTooLarge, match="at most 20 images") as caught:
        engine_on(wire).extract(ExtractionRequest(images=images, prompt="Read"))
    assert "21" in caught.value.message
    assert wire.sent == []


def test_a_dict_template_is_answered_through_a_forced_tool_call(wire: Wire) -> None:
    template = {"invoice_no": "Invoice Number", "total": "", "lines": [{"name": "Item"}]}
    answer = {"invoice_no": "Nº 42", "total": None, "lines": [{"name": "Café"}]}
    wire.answer(converse_answer({"toolUse": {"toolUseId": "t-1", "name": "answer", "input": answer}}, stop="tool_use"))
    image = prepared(page(), "PNG", "image/png")
    result = engine_on(wire).extract(
        ExtractionRequest(images=[image], prompt="Fill", json_mode=True, template=template)
    )
    assert result.text == json.dumps(answer, ensure_ascii=False)
    assert "Nº 42" in result.text  # not \u escapes
    tool_config = wire.body()["toolConfig"]
    [tool] = tool_config["tools"]
    assert tool["toolSpec"]["name"] == "answer"
    assert tool["toolSpec"]["inputSchema"]["json"] == response_schema(template)
    assert tool_config["toolChoice"] == {"tool": {"name": "answer"}}
    assert wire.body()["system"] == [{"text": SYSTEM_INSTRUCTIONS["general"]}]


def test_a_list_template_is_asked_for_inside_an_object_and_unwrapped(wire: Wire) -> None:
    template = [{"name": "Item", "price": "Price"}]
    rows = [{"name": "Tea", "price": "2.50"}, {"name": "Cake", "price": None}]
    wire.answer(converse_answer({"toolUse": {"toolUseId": "t-1", "name": "answer", "input": {"items": rows}}}))
    request = ExtractionRequest(images=[], prompt="List the rows", json_mode=True, template=template)
    assert json.loads(engine_on(wire).extract(request).text) == rows
    schema = wire.body()["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"]
    assert schema == {"type": "object", "properties": {"items": response_schema(template)}, "required": ["items"]}


def test_json_mode_without_a_template_asks_in_the_system_text_and_unfences(wire: Wire) -> None:
    wire.answer(converse_answer({"text": '```json\n{"a": 1}\n```'}))
    result = engine_on(wire).extract(ExtractionRequest(images=[], prompt="As JSON please", json_mode=True))
    assert result.text == '{"a": 1}'
    assert wire.body()["system"] == [{"text": f"{SYSTEM_INSTRUCTIONS['general']} {JSON_INSTRUCTION}"}]
    assert "toolConfig" not in wire.body()


SECRET_DETAIL = "User: arn:aws:sts::123456789012:assumed-role/fn-role/x is not authorized"


@pytest.mark.parametrize(
    ("status", "code", "upstream", "expected", "words", "sends"),
    [
        (429, "ThrottlingException", "Too many requests", EngineThrottled, "throttling", ATTEMPTS),
        (503, "ServiceUnavailableException", "Service unavailable", EngineThrottled, "busy", ATTEMPTS),
        (429, "ModelNotReadyException", "Model is not ready", EngineThrottled, "try again", ATTEMPTS),
        (400, "ServiceQuotaExceededException", "Quota exceeded", EngineThrottled, "throttling", 1),
        (403, "AccessDeniedException", SECRET_DETAIL, EngineUnavailable, "enable model access", 1),
        (404, "ResourceNotFoundException", "Model not found", EngineUnavailable, "not found in Bedrock", 1),
        (400, "ValidationException", "Input is too long for requested model.", EngineInputTooLarge, "takes", 1),
        (400, "ValidationException", "prompt is too long: 210000 tokens > 200000", EngineInputTooLarge, "takes", 1),
        (400, "ValidationException", "image exceeds 5 MB maximum size", EngineInputTooLarge, "takes", 1),
        (400, "ValidationException", "image dimensions exceed max allowed", EngineInputTooLarge, "takes", 1),
        (400, "ValidationException", "The maximum tokens you requested exceeds 4096", EngineError, "invalid", 1),
        (400, "ValidationException", "Malformed input request, please reformat", EngineError, "invalid", 1),
        (408, "ModelTimeoutException", "Model timed out", EngineTimeout, "in time", 1),
        (424, "ModelErrorException", "The model failed", EngineError, "ModelErrorException", 1),
        (500, "InternalServerException", "Internal error", EngineError, "InternalServerException", ATTEMPTS),
    ],
)
def test_bedrock_errors_map_to_safe_typed_errors(
    wire: Wire, status: int, code: str, upstream: str, expected: type[SnapscribeError], words: str, sends: int
) -> None:
    wire.error(status, code, upstream)
    with pytest.raises(SnapscribeError) as caught:
        engine_on(wire).extract(ExtractionRequest(images=[prepared(page(), "PNG", "image/png")], prompt="Read"))
    error = caught.value
    assert type(error) is expected
    assert words in error.message
    assert upstream not in error.message  # Bedrock's own text can name the account, the role, the input
    assert len(wire.sent) == sends  # botocore's standard mode retried what passes, and only that
    assert error.retryable is (expected is EngineThrottled)


def test_access_denied_tells_the_operator_what_to_enable(wire: Wire) -> None:
    wire.error(403, "AccessDeniedException", SECRET_DETAIL)
    with pytest.raises(EngineUnavailable) as caught:
        engine_on(wire).extract(ExtractionRequest(images=[], prompt="Read"))
    message = caught.value.message
    assert MODEL in message
    assert "us-east-1" in message
    assert "bedrock:InvokeModel" in message
    assert "123456789012" not in message


@pytest.mark.parametrize("timeout", [ReadTimeoutError, ConnectTimeoutError])
def test_a_transport_timeout_is_an_engine_timeout(wire: Wire, timeout: type[Exception]) -> None:
    engine = engine_on(wire)

    def times_out(request: AWSPreparedRequest, **_kwargs: Any) -> None:
        wire.sent.append(request)
        raise timeout(endpoint_url=request.url)

    engine._runtime().meta.events.unregister("before-send.bedrock-runtime.Converse", wire.before_send)
    engine._runtime().meta.events.register("before-send.bedrock-runtime.Converse", times_out)
    with pytest.raises(EngineTimeout, match="did not answer in time"):
        engine.extract(ExtractionRequest(images=[], prompt="Read"))
    assert len(wire.sent) == ATTEMPTS


@pytest.mark.parametrize(
    ("answer", "json_mode", "expected", "words"),
    [
        (converse_answer(stop="max_tokens"), False, EngineError, "cut at the output token limit"),
        (converse_answer(stop="end_turn"), False, EngineError, "no text (stop reason end_turn)"),
        (converse_answer({"text": "  "}, stop="content_filtered"), False, EngineError, "content_filtered"),
        (converse_answer(stop="model_context_window_exceeded"), False, EngineInputTooLarge, "context window"),
        (
            converse_answer({"toolUse": {"toolUseId": "t", "name": "answer", "input": {"a": "x"}}}, stop="max_tokens"),
            True,
            EngineError,
            "cut",
        ),
    ],
)
def test_an_answer_without_usable_content_is_an_error(
    wire: Wire, answer: dict[str, Any], json_mode: bool, expected: type[SnapscribeError], words: str
) -> None:
    wire.answer(answer)
    template = {"a": "A"} if json_mode else None
    with pytest.raises(SnapscribeError) as caught:
        engine_on(wire).extract(ExtractionRequest(images=[], prompt="Read", json_mode=json_mode, template=template))
    assert type(caught.value) is expected
    assert words in caught.value.message


def test_token_hold_bounds_system_prompt_tool_images_and_output() -> None:
    engine = BedrockEngine(model=MODEL, client=object(), max_image_side=2048, max_output_tokens=1000)
    system = max(estimate_tokens(text) for text in SYSTEM_INSTRUCTIONS.values()) + estimate_tokens(JSON_INSTRUCTION)
    image = math.ceil(2048 * 2048 / PIXELS_PER_IMAGE_TOKEN)  # Anthropic's (w x h) / 750 at the largest image sent
    prompt = "Read the invoice"
    assert engine.token_hold(3, prompt) == system + estimate_tokens(prompt) + 3 * image + 1000
    templated = 'Fill this: {"invoice_no": "Invoice Number", "total": ""}'
    plain = system + estimate_tokens(templated) + image + 1000
    assert engine.token_hold(1, templated) > plain + TOOL_PROMPT_TOKENS  # the tool's prompt and its schema
    smaller = BedrockEngine(model=MODEL, client=object(), max_image_side=1024, max_output_tokens=1000)
    assert engine.token_hold(1, prompt) - smaller.token_hold(1, prompt) == image - math.ceil(1024 * 1024 / 750)


def test_the_lazy_client_is_made_once_across_threads() -> None:
    engine = BedrockEngine(model=MODEL, region="eu-west-1", timeout_seconds=7, max_attempts=2)
    clients: list[Any] = []
    threads = [threading.Thread(target=lambda: clients.append(engine._runtime())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(client) for client in clients}) == 1
    client = clients[0]
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.config.read_timeout == 7
    assert client.meta.config.retries == {"total_max_attempts": 2, "mode": "standard"}


@pytest.fixture
def stand_in() -> Iterator[str]:
    server, url = serve()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()


def test_over_real_http_against_the_stand_in(stand_in: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine's own client (made lazily, no endpoint_url) finds the stand-in through the environment variable
    botocore honours, signs, sends and parses over a real socket."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", stand_in)
    engine = BedrockEngine(model="amazon.nova-lite-v1:0", region="us-east-1", max_attempts=1)
    images = [prepared(page(), "PNG", "image/png"), prepared(page(), "TIFF", "image/tiff")]
    result = engine.extract(ExtractionRequest(images=images, prompt="Read"))
    assert result.text == "stand-in answer: 2 images"
    assert result.prompt_tokens > 2 * 1000
    assert result.completion_tokens > 0
    template = {"invoice_no": "Invoice Number", "lines": [{"name": "Item"}]}
    filled = engine.extract(ExtractionRequest(images=images, prompt="Fill", json_mode=True, template=template))
    assert json.loads(filled.text) == {"invoice_no": None, "lines": [{"name": None}]}
    refused = BedrockEngine(model="standin.error.AccessDeniedException", region="us-east-1", max_attempts=1)
    with pytest.raises(EngineUnavailable, match="enable model access"):
        refused.extract(ExtractionRequest(images=images, prompt="Read"))


def test_an_injected_client_with_endpoint_url_reaches_the_stand_in(stand_in: str) -> None:
    client = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=stand_in,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )
    engine = BedrockEngine(model="standin.error.ThrottlingException", client=client)
    with pytest.raises(EngineThrottled):
        engine.extract(ExtractionRequest(images=[], prompt="Read"))
    engine = BedrockEngine(model=MODEL, client=client)
    assert engine.extract(ExtractionRequest(images=[], prompt="Read")).text == "stand-in answer: 0 images"

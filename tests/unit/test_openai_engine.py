"""The OpenAI-compatible engine at the HTTP level: httpx.MockTransport handlers check the wire request and play
the server's answers and errors; one test talks to the loopback stand-in over a real socket."""

from __future__ import annotations

import base64
import io
import json
import socket
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from PIL import Image

from snapscribe.engines.base import ExtractionRequest
from snapscribe.engines.gemini import SYSTEM_INSTRUCTIONS, response_schema
from snapscribe.engines.openai_compatible import OpenAiCompatibleEngine
from snapscribe.engines.tokens import estimate_tokens
from snapscribe.errors import (
    EngineError,
    EngineInputTooLarge,
    EngineThrottled,
    EngineTimeout,
    EngineUnavailable,
)
from snapscribe.images.prepare import PreparedImage, prepare_image
from snapscribe_tools.standins.openai import serve
from tests.fakes import image_bytes

BASE_URL = "http://vllm.internal:8000/v1"
KEY = "sk-test-0123456789abcdef"
Reply = httpx.Response | Callable[[httpx.Request], httpx.Response]


def _image(width: int = 40, height: int = 20, fmt: str = "PNG", color: str = "red") -> PreparedImage:
    return prepare_image(image_bytes(width, height, fmt=fmt, color=color), max_side=2048, max_pixels=80_000_000)


def completion(content: Any = "An invoice.", *, usage: bool = True, finish: str = "stop") -> httpx.Response:
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}],
    }
    if usage:
        body["usage"] = {"prompt_tokens": 321, "completion_tokens": 12, "total_tokens": 333}
    return httpx.Response(200, json=body)


def error(status: int, message: str = "refused", headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "code": status}}
    return httpx.Response(status, json=body, headers=headers)


class Server:
    """A scripted model server: each request is recorded and gets the next reply (the last one repeats)."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies) or [completion()]
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        return reply(request) if callable(reply) else reply

    def body(self, index: int = -1) -> dict[str, Any]:
        return dict(json.loads(self.requests[index].content))

    def engine(self, api_key: Callable[[], str | None] = lambda: KEY, **options: Any) -> OpenAiCompatibleEngine:
        options.setdefault("base_url", BASE_URL)
        return OpenAiCompatibleEngine(
            model="qwen2.5-vl-7b",
            api_key=api_key,
            transport=httpx.MockTransport(self),
            sleep=self.sleeps.append,
            **options,
        )


def _request(*images: PreparedImage, prompt: str = "Describe it", **fields: Any) -> ExtractionRequest:
    return ExtractionRequest(images=list(images) or [_image()], prompt=prompt, **fields)


def _decoded(url: str) -> tuple[str, bytes]:
    header, data = url.split(",", 1)
    assert header.startswith("data:")
    assert header.endswith(";base64")
    return header.removeprefix("data:").removesuffix(";base64"), base64.b64decode(data, validate=True)


def test_the_request_on_the_wire_and_the_answer() -> None:
    server = Server(completion("An invoice from ACME."))
    png, jpeg = _image(), _image(fmt="JPEG", color="blue")
    result = server.engine().extract(_request(png, jpeg, prompt="What is it?", max_output_tokens=500))
    assert (result.text, result.prompt_tokens, result.completion_tokens) == ("An invoice from ACME.", 321, 12)
    sent = server.requests[0]
    assert (sent.method, sent.url.host, sent.url.path) == ("POST", "vllm.internal", "/v1/chat/completions")
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    body = server.body()
    assert (body["model"], body["max_tokens"], body["temperature"]) == ("qwen2.5-vl-7b", 500, 0)
    assert "response_format" not in body
    system, user = body["messages"]
    assert system == {"role": "system", "content": SYSTEM_INSTRUCTIONS["general"]}
    assert user["role"] == "user"
    *images, text = user["content"]
    assert text == {"type": "text", "text": "What is it?"}
    assert [part["type"] for part in images] == ["image_url", "image_url"]
    assert [_decoded(part["image_url"]["url"]) for part in images] == [
        ("image/png", png.data),
        ("image/jpeg", jpeg.data),
    ]


def test_the_scene_chooses_the_system_text() -> None:
    server = Server()
    server.engine().extract(_request(scene="medical"))
    assert server.body()["messages"][0]["content"] == SYSTEM_INSTRUCTIONS["medical"]


@pytest.mark.parametrize("base_url", ["http://vllm.internal:8000/v1", "http://vllm.internal:8000/v1/"])
def test_the_path_is_joined_without_doubling_slashes(base_url: str) -> None:
    server = Server()
    server.engine(base_url=base_url).extract(_request())
    assert str(server.requests[0].url) == "http://vllm.internal:8000/v1/chat/completions"


@pytest.mark.parametrize("key", [None, "", "  "])
def test_no_key_sends_no_authorization_header(key: str | None) -> None:
    server = Server()
    server.engine(api_key=lambda: key).extract(_request())
    assert "authorization" not in server.requests[0].headers


def test_a_rotated_key_is_sent_with_the_next_request() -> None:
    keys = iter(["sk-old", "sk-new"])
    server = Server()
    engine = server.engine(api_key=lambda: next(keys))
    engine.extract(_request())
    engine.extract(_request())
    assert [request.headers["authorization"] for request in server.requests] == ["Bearer sk-old", "Bearer sk-new"]


def test_images_servers_may_not_take_are_sent_as_png() -> None:
    heif = prepare_image(image_bytes(30, 18, fmt="HEIF"), max_side=2048, max_pixels=80_000_000)
    assert heif.mime_type == "image/heif"
    server = Server()
    server.engine().extract(_request(heif))
    mime, data = _decoded(server.body()["messages"][1]["content"][0]["image_url"]["url"])
    assert mime == "image/png"
    with Image.open(io.BytesIO(data)) as sent:
        assert (sent.format, sent.size) == ("PNG", (30, 18))


def test_a_template_is_asked_for_as_a_json_schema() -> None:
    template = {"invoice_no": "Invoice number", "total": "Total"}
    server = Server(completion('{"invoice_no": "A-1", "total": "9.50"}'))
    result = server.engine().extract(_request(json_mode=True, template=template))
    assert json.loads(result.text) == {"invoice_no": "A-1", "total": "9.50"}
    assert server.body()["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": response_schema(template), "strict": False},
    }
    assert server.body()["messages"][0]["content"] == SYSTEM_INSTRUCTIONS["general"]


def test_json_without_a_template_is_a_json_object() -> None:
    server = Server(completion('{"text": "hello"}'))
    result = server.engine().extract(_request(json_mode=True))
    assert server.body()["response_format"] == {"type": "json_object"}
    assert "JSON" in server.body()["messages"][0]["content"]  # OpenAI refuses json_object unless JSON is asked for
    assert json.loads(result.text) == {"text": "hello"}


def test_a_list_template_is_wrapped_in_an_object_and_unwrapped_from_the_answer() -> None:
    template = [{"name": "Item", "price": "Price"}]
    server = Server(completion('{"answer": [{"name": "Tea", "price": "2"}, {"name": "Cake", "price": "3"}]}'))
    result = server.engine().extract(_request(json_mode=True, template=template))
    assert json.loads(result.text) == [{"name": "Tea", "price": "2"}, {"name": "Cake", "price": "3"}]
    assert server.body()["response_format"]["json_schema"]["schema"] == response_schema({"answer": template})


@pytest.mark.parametrize(
    "answer", ['```json\n{"a": "1"}\n```', '```\n{"a": "1"}\n```\n', '  ```JSON\n{"a": "1"}```', '{"a": "1"}']
)
def test_fences_are_stripped_from_a_json_answer(answer: str) -> None:
    server = Server(completion(answer))
    assert server.engine().extract(_request(json_mode=True, template={"a": "A"})).text == '{"a": "1"}'


def test_a_text_answer_keeps_its_fences() -> None:
    server = Server(completion("```\ncode\n```"))
    assert server.engine().extract(_request()).text == "```\ncode\n```"


def test_the_answer_as_a_list_of_parts_is_joined() -> None:
    server = Server(completion([{"type": "text", "text": "An "}, {"type": "text", "text": "invoice"}]))
    assert server.engine().extract(_request()).text == "An invoice"


def test_missing_usage_counts_zero() -> None:
    result = Server(completion(usage=False)).engine().extract(_request())
    assert (result.prompt_tokens, result.completion_tokens) == (0, 0)


def test_a_server_refusing_json_schema_is_asked_with_json_object_then_without_response_format() -> None:
    template = {"total": "Total"}
    server = Server(
        error(400, "response_format json_schema is not supported by this server"),
        error(400, "Unknown field: response_format"),
        completion('{"total": "5"}'),
    )
    result = server.engine().extract(_request(json_mode=True, template=template))
    assert json.loads(result.text) == {"total": "5"}
    formats = [server.body(index).get("response_format", {}).get("type") for index in range(3)]
    assert formats == ["json_schema", "json_object", None]
    for index in (1, 2):  # without a json_schema the schema travels in the system text
        assert json.dumps(response_schema(template)) in server.body(index)["messages"][0]["content"]


def test_json_object_accepted_after_json_schema_is_refused() -> None:
    server = Server(error(400, "json_schema unsupported"), completion('{"total": "5"}'))
    server.engine().extract(_request(json_mode=True, template={"total": "Total"}))
    assert [server.body(index)["response_format"]["type"] for index in range(2)] == ["json_schema", "json_object"]


def test_a_refusal_without_response_format_is_an_error() -> None:
    server = Server(error(400, "response_format is not supported"))
    with pytest.raises(EngineError, match="HTTP 400"):
        server.engine().extract(_request(json_mode=True, template={"total": "Total"}))
    assert len(server.requests) == 3


def test_another_400_is_not_retried_without_response_format() -> None:
    server = Server(error(400, "temperature must be a number"))
    with pytest.raises(EngineError, match="HTTP 400"):
        server.engine().extract(_request(json_mode=True, template={"total": "Total"}))
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("reply", "kind", "message"),
    [
        (error(401), EngineUnavailable, "the model server refused the configured API key"),
        (error(403), EngineUnavailable, "the model server refused the configured API key"),
        (error(404), EngineUnavailable, "model qwen2.5-vl-7b is not served at the configured base URL"),
        (error(413), EngineInputTooLarge, "HTTP 413"),
        (error(400, "This model's maximum context length is 4096 tokens"), EngineInputTooLarge, "context length"),
        (error(400, "prompt is too long"), EngineInputTooLarge, "context length"),
        (httpx.Response(400, text="Request too large"), EngineInputTooLarge, "HTTP 400"),
        (error(400, f"bad request, key {KEY}"), EngineError, "the model server answered HTTP 400"),
        (error(422, "invalid"), EngineError, "the model server answered HTTP 422"),
        (error(500, "boom"), EngineError, "the model server answered HTTP 500"),
        (error(504), EngineTimeout, "HTTP 504"),
        (httpx.Response(200, text="<html>proxy</html>"), EngineError, "not JSON"),
        (httpx.Response(200, json={"object": "list", "data": []}), EngineError, "not a chat completion"),
        (httpx.Response(200, json={"choices": []}), EngineError, "not a chat completion"),
        (httpx.Response(200, json={"choices": [{"text": "legacy"}]}), EngineError, "not a chat completion"),
        (completion(""), EngineError, "no text"),
        (completion(None), EngineError, "no text"),
        (completion("", finish="length"), EngineError, "cut"),
    ],
)
def test_errors_are_mapped_with_safe_messages(reply: httpx.Response, kind: type[EngineError], message: str) -> None:
    png = _image()
    with pytest.raises(kind, match=message) as raised:
        Server(reply).engine().extract(_request(png))
    assert type(raised.value) is kind
    shown = raised.value.message
    assert KEY not in shown
    assert base64.b64encode(png.data).decode()[:40] not in shown
    assert not raised.value.retryable


def test_throttling_is_retried_honouring_retry_after_capped() -> None:
    server = Server(error(429, headers={"Retry-After": "2"}), error(429, headers={"Retry-After": "120"}), completion())
    result = server.engine().extract(_request())
    assert result.text == "An invoice."
    assert server.sleeps == [2.0, 4.0]
    assert len(server.requests) == 3


def test_busy_without_retry_after_backs_off_exponentially_then_is_throttled() -> None:
    server = Server(error(503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}))
    with pytest.raises(EngineThrottled, match="HTTP 503") as raised:
        server.engine(max_attempts=4).extract(_request())
    assert raised.value.retryable
    assert server.sleeps == [0.5, 1.0, 2.0]
    assert len(server.requests) == 4


def test_one_attempt_never_sleeps() -> None:
    server = Server(error(429))
    with pytest.raises(EngineThrottled):
        server.engine(max_attempts=1).extract(_request())
    assert (server.sleeps, len(server.requests)) == ([], 1)


def test_each_retry_reads_the_key_again() -> None:
    keys = iter(["sk-old", "sk-new"])
    server = Server(error(429), completion())
    server.engine(api_key=lambda: next(keys)).extract(_request())
    assert [request.headers["authorization"] for request in server.requests] == ["Bearer sk-old", "Bearer sk-new"]


def _raise(exception: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def handler(_request: httpx.Request) -> httpx.Response:
        raise exception

    return handler


@pytest.mark.parametrize(
    ("exception", "kind", "message"),
    [
        (httpx.ReadTimeout("slow"), EngineTimeout, "did not answer in time"),
        (httpx.ConnectTimeout("slow"), EngineTimeout, "did not answer in time"),
        (
            httpx.ConnectError("refused"),
            EngineUnavailable,
            "the model server at vllm.internal:8000 could not be reached",
        ),
        (httpx.RemoteProtocolError("bad"), EngineError, "RemoteProtocolError"),
    ],
)
def test_transport_errors(exception: Exception, kind: type[EngineError], message: str) -> None:
    with pytest.raises(kind, match=message):
        Server(_raise(exception)).engine().extract(_request())


def test_an_unreachable_server_on_a_real_socket() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    engine = OpenAiCompatibleEngine(model="m", base_url=f"http://127.0.0.1:{port}/v1", api_key=lambda: None)
    with pytest.raises(EngineUnavailable, match=f"127.0.0.1:{port} could not be reached"):
        engine.extract(_request())


@pytest.mark.parametrize(
    "base_url",
    [
        "ftp://models.example/v1",
        "http://",
        "vllm:8000/v1",
        "http://h/v1?key=1",
        "file:///tmp/x",
        "",
        "http://h:99999/v1",
        "http://h:x/v1",
    ],
)
def test_the_base_url_must_be_http_with_a_host(base_url: str) -> None:
    with pytest.raises(EngineUnavailable, match="base URL") as raised:
        OpenAiCompatibleEngine(model="m", base_url=base_url, api_key=lambda: None)
    assert "key=1" not in raised.value.message


@pytest.mark.parametrize(
    "base_url",
    ["http://127.0.0.1:11434/v1", "http://10.0.3.7:8000/v1", "https://api.example.com/v1", "http://[::1]/v1"],
)
def test_loopback_and_private_base_urls_are_the_operators_choice(base_url: str) -> None:
    assert OpenAiCompatibleEngine(model="m", base_url=base_url, api_key=lambda: None).base_url == base_url


def test_one_client_serves_concurrent_requests() -> None:
    server = Server()
    engine = server.engine()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: engine.extract(_request()), range(16)))
    assert {result.text for result in results} == {"An invoice."}
    assert len(server.requests) == 16
    assert engine._http() is engine._http()


def test_token_hold_bounds_prompt_images_and_answer() -> None:
    engine = Server().engine(max_output_tokens=1000, max_image_side=2048)
    one, three = engine.token_hold(1, "Describe it"), engine.token_hold(3, "Describe it")
    assert three - one == 2 * 6404  # Llama 3.2 Vision's four tiles outweigh Qwen's 74x74 squares at 2048 px
    system = max(estimate_tokens(text) for text in SYSTEM_INSTRUCTIONS.values())
    assert one > system + estimate_tokens("Describe it") + 6404 + 1000
    larger = Server().engine(max_image_side=4096)
    assert larger.token_hold(1, "x") - larger.token_hold(0, "x") == 147 * 147  # there Qwen's squares are more
    templated = 'Fill {"invoice_no": "Invoice number", "total": "Total"}'
    plain = "Fill " + "x" * (len(templated) - 5)
    assert engine.token_hold(1, templated) > engine.token_hold(1, plain)  # the schema may travel in the system text


@pytest.fixture
def stand_in() -> Iterator[str]:
    server, base_url = serve()
    try:
        yield base_url
    finally:
        server.shutdown()
        server.server_close()


def test_the_stand_in_over_a_loopback_socket(stand_in: str) -> None:
    engine = OpenAiCompatibleEngine(model="stand-in", base_url=stand_in, api_key=lambda: "sk-local")
    text = engine.extract(_request(_image(), _image(color="blue")))
    assert text.text == "stand-in answer: 2 images"
    assert text.prompt_tokens > 2 * 85
    assert text.completion_tokens > 0
    filled = engine.extract(_request(json_mode=True, template={"invoice_no": "No", "total": "Total"}))
    assert json.loads(filled.text) == {"invoice_no": None, "total": None}
    rows = engine.extract(_request(json_mode=True, template=[{"name": "Item"}]))
    assert json.loads(rows.text) is None  # {"answer": null}, unwrapped
    with pytest.raises(EngineUnavailable, match="not served"):
        OpenAiCompatibleEngine(model="m", base_url=stand_in.removesuffix("/v1"), api_key=lambda: None).extract(
            _request()
        )

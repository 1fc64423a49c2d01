"""Any server that speaks OpenAI's chat-completions wire format: vLLM, Ollama, LiteLLM, hosted providers.

Plain httpx rather than the openai SDK: importing the SDK alone would cost every cold start; httpx already
ships (google-genai depends on it) and is imported only when the first request is sent.
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from snapscribe.engines.base import ExtractionRequest, ExtractionResult
from snapscribe.engines.gemini import SYSTEM_INSTRUCTIONS, response_schema
from snapscribe.errors import EngineError, EngineInputTooLarge, EngineThrottled, EngineTimeout, EngineUnavailable
from snapscribe.images.prepare import PreparedImage

if TYPE_CHECKING:
    import httpx

# What such servers take in a data URL; anything else (HEIF) is re-encoded to PNG first.
SERVED_MIME_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})

# The hold's bound for one image. Servers count image tokens their own way: Qwen2/2.5-VL (vLLM's usual vision
# models) one token per 28x28 px square, the densest of the common schemes (5476 at 2048 px); Llama 3.2 Vision
# up to 4 tiles of 1601 whatever the size; Pixtral at most 4160, GPT-4o at most 1105. The larger of the first
# two bounds them all.
PIXELS_PER_TOKEN_SIDE = 28
TILED_IMAGE_TOKENS = 4 * 1601

# Retries of a throttled (429) or busy (503) server: exponential from this, or its Retry-After, capped so that a
# synchronous request still answers in time; the last refusal is the caller's to retry (EngineThrottled).
BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 4.0

# Without response_format (a server that refuses it) the JSON is asked for in the system text.
JSON_INSTRUCTION = "Answer with one JSON object only: no prose, no code fences."
SCHEMA_INSTRUCTION = " The object must match this JSON Schema: "

_SCHEMA, _OBJECT, _PLAIN = "json_schema", "json_object", "plain"
_FORMAT_WORDS = ("response_format", "json_schema", "json_object", "structured output", "guided")
_TOO_LARGE_WORDS = ("context length", "context_length", "context window", "too long", "too large", "maximum")
_FENCED = re.compile(r"\s*```[\w-]*[ \t]*\n?(.*?)\n?[ \t]*```\s*", re.DOTALL)


def checked_base_url(base_url: str) -> str:
    """The operator's base URL, without a trailing slash. Loopback and private addresses are allowed on purpose:
    only the deployment's settings name it (never a request), and a vLLM or Ollama beside the function is the
    point. The URL is not echoed: it may carry credentials."""
    parts = urlsplit(base_url.strip())
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:  # not a number, or out of range
        port_ok = False
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment or not port_ok:
        raise EngineUnavailable("the model server's base URL must be an http(s) URL with a host and no query")
    return base_url.strip().rstrip("/")


class OpenAiCompatibleEngine:
    name = "openai"
    reads_pages_apart = False  # one call sees every image of a request together

    def __init__(
        self,
        *,
        model: str,
        base_url: str,
        api_key: Callable[[], str | None],
        timeout_seconds: float = 60,
        max_image_side: int = 2048,
        max_output_tokens: int = 8192,
        max_attempts: int = 3,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.model = model
        self.base_url = checked_base_url(base_url)
        self.max_image_side: int | None = max_image_side
        self.max_output_tokens = max_output_tokens
        self.max_attempts = max(1, max_attempts)
        self._url = f"{self.base_url}/chat/completions"
        parts = urlsplit(self.base_url)
        self._host = f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)  # never the userinfo
        self._api_key = api_key  # called for every request: a rotated key is used as soon as the provider has it
        self._timeout_seconds = timeout_seconds
        self._transport = transport
        self._sleep = sleep
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()

    def _http(self) -> httpx.Client:
        import httpx

        # One client (one connection pool), made under a lock: pages of a batch call this from several threads.
        with self._client_lock:
            if self._client is None:
                self._client = httpx.Client(timeout=self._timeout_seconds, transport=self._transport)
            return self._client

    def token_hold(self, pages: int, prompt: str) -> int:
        from snapscribe.engines.prompt_template import find_json_template
        from snapscribe.engines.tokens import estimate_tokens

        system = max(estimate_tokens(text) for text in SYSTEM_INSTRUCTIONS.values())
        system += estimate_tokens(JSON_INSTRUCTION + SCHEMA_INSTRUCTION)
        # A server without response_format gets the template's schema in the system text too. (A template too deep
        # raises InvalidRequest: what the request would get anyway.)
        template = find_json_template(prompt)
        if template is not None:
            system += estimate_tokens(json.dumps(_schema(template)[0]))
        side = self.max_image_side or 2048
        image = max(math.ceil(side / PIXELS_PER_TOKEN_SIDE) ** 2, TILED_IMAGE_TOKENS)
        return system + estimate_tokens(prompt) + image * pages + self.max_output_tokens

    def extract(self, request: ExtractionRequest) -> ExtractionResult:
        json_template = request.json_mode and request.template is not None
        schema, wrapped = _schema(request.template) if json_template else ({}, False)
        levels = (_SCHEMA, _OBJECT, _PLAIN) if schema else (_OBJECT, _PLAIN) if request.json_mode else (_PLAIN,)
        images = [{"type": "image_url", "image_url": {"url": data_url(image)}} for image in request.images]
        user = [*images, {"type": "text", "text": request.prompt}]
        for level in levels:
            body = {
                "model": self.model,
                "messages": [
                    {"role": "system", "content": _system_text(request, level, schema)},
                    {"role": "user", "content": user},
                ],
                "max_tokens": request.max_output_tokens,
                "temperature": 0,
            }
            if level != _PLAIN:
                body["response_format"] = (
                    {"type": _SCHEMA, "json_schema": {"name": "answer", "schema": schema, "strict": False}}
                    if level == _SCHEMA
                    else {"type": _OBJECT}
                )
            response = self._post(body)
            # An older server refuses response_format (or its json_schema kind): ask again with less of it.
            if level == _PLAIN or not _refuses_format(response):
                break
        self._raise_for_status(response)
        text, prompt_tokens, completion_tokens = _answer(response)
        if request.json_mode:
            text = _unfenced(text)
            if wrapped:
                text = _unwrapped(text)
        return ExtractionResult(text=text, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)

    def _post(self, body: dict[str, Any]) -> httpx.Response:
        """The server's answer, after up to max_attempts tries while it throttles (429) or is busy (503)."""
        import httpx

        client, attempt = self._http(), 1
        while True:
            key = (self._api_key() or "").strip()
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            try:
                response = client.post(self._url, json=body, headers=headers)
            except httpx.TimeoutException as error:
                raise EngineTimeout("the model server did not answer in time") from error
            except httpx.NetworkError as error:
                raise EngineUnavailable(f"the model server at {self._host} could not be reached") from error
            except httpx.HTTPError as error:
                raise EngineError(f"the exchange with the model server failed ({type(error).__name__})") from error
            if response.status_code not in (429, 503) or attempt >= self.max_attempts:
                return response
            self._sleep(_backoff(response, attempt))
            attempt += 1

    def _raise_for_status(self, response: httpx.Response) -> None:
        """Safe messages only: a server's error text can echo the request (the prompt, the images), so the status
        is named and the text only read."""
        status = response.status_code
        if 200 <= status < 300:
            return
        if status in (429, 503):
            raise EngineThrottled(
                f"the model server is throttling or busy (HTTP {status}) after {self.max_attempts} attempts"
            )
        if status in (401, 403):
            raise EngineUnavailable("the model server refused the configured API key")
        if status == 404:
            raise EngineUnavailable(f"model {self.model} is not served at the configured base URL")
        if status in (408, 504):
            raise EngineTimeout(f"the model server did not answer in time (HTTP {status})")
        if status == 413 or (status == 400 and any(word in _error_text(response) for word in _TOO_LARGE_WORDS)):
            raise EngineInputTooLarge(
                f"the request is more than the model takes: its context length or request size (HTTP {status})"
            )
        raise EngineError(f"the model server answered HTTP {status}")


def data_url(image: PreparedImage) -> str:
    data, mime_type = image.data, image.mime_type
    if mime_type not in SERVED_MIME_TYPES:
        buffer = io.BytesIO()
        image.to_rgb().save(buffer, format="PNG")  # on white: a HEIF photo rarely has an alpha worth keeping
        data, mime_type = buffer.getvalue(), "image/png"
    return f"data:{mime_type};base64,{base64.b64encode(data).decode('ascii')}"


def _schema(template: Any) -> tuple[dict[str, Any], bool]:
    """The template's JSON Schema, and whether it is wrapped in {"answer": ...}: response_format wants an object
    at the top, so a list template is asked for inside one and unwrapped from the answer."""
    if isinstance(template, dict):
        return response_schema(template) or {}, False
    return response_schema({"answer": template}) or {}, True


def _system_text(request: ExtractionRequest, level: str, schema: dict[str, Any]) -> str:
    text = SYSTEM_INSTRUCTIONS.get(request.scene, SYSTEM_INSTRUCTIONS["general"])
    if not request.json_mode or level == _SCHEMA:
        return text
    # json_object carries no schema, and plain carries no format at all: the system text says what is wanted.
    text = f"{text} {JSON_INSTRUCTION}"
    return f"{text}{SCHEMA_INSTRUCTION}{json.dumps(schema)}" if schema else text


def _error_text(response: httpx.Response) -> str:
    """The server's error message, lowercased, to be read (never shown): OpenAI's {"error": {"message"}},
    FastAPI's {"detail"}, or the text itself."""
    try:
        body = response.json()
    except ValueError:
        body = response.text
    if isinstance(body, dict):
        error = body.get("error")
        body = error.get("message", error) if isinstance(error, dict) else error or body.get("detail") or body
    return str(body)[:4000].lower()


def _refuses_format(response: httpx.Response) -> bool:
    if response.status_code not in (400, 422):
        return False
    text = _error_text(response)
    return any(word in text for word in _FORMAT_WORDS) and "context" not in text


def _backoff(response: httpx.Response, attempt: int) -> float:
    """The wait before the next attempt: the server's Retry-After (seconds), else exponential, capped."""
    delay = BACKOFF_SECONDS * 2.0 ** (attempt - 1)
    try:
        asked = float(response.headers.get("retry-after", ""))
    except ValueError:  # absent, or an HTTP date: the exponential wait
        asked = math.nan
    if math.isfinite(asked) and asked >= 0:
        delay = asked
    return min(delay, MAX_BACKOFF_SECONDS)


def _answer(response: httpx.Response) -> tuple[str, int, int]:
    """(text, prompt tokens, completion tokens) from a chat completion; usage is 0 when the server omits it."""
    try:
        body = response.json()
    except ValueError as error:
        raise EngineError("the model server's answer is not JSON") from error
    choices = body.get("choices") if isinstance(body, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise EngineError("the model server's answer is not a chat completion (no choices)")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise EngineError("the model server's answer is not a chat completion (no message)")
    text = _content_text(message.get("content"))
    if not text.strip():
        if choices[0].get("finish_reason") == "length":
            raise EngineError("the model's answer was cut at the output token limit before any text")
        if message.get("refusal"):
            raise EngineError("the model refused to answer")
        raise EngineError("the model returned no text")
    usage = body.get("usage")
    usage = usage if isinstance(usage, dict) else {}
    return text, _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens"))


def _content_text(content: Any) -> str:
    """A message's content: a string, or (some servers) a list of parts whose text parts are joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text") or "") for part in content if isinstance(part, dict))
    return ""


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _unfenced(text: str) -> str:
    match = _FENCED.fullmatch(text)
    return match.group(1).strip() if match else text.strip()


def _unwrapped(text: str) -> str:
    """The list inside {"answer": [...]}; an answer of another shape is left for the caller's checks."""
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return text
    if isinstance(value, dict) and set(value) == {"answer"}:
        return json.dumps(value["answer"], ensure_ascii=False)
    return text

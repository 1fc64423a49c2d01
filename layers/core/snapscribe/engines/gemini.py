"""Gemini through the google-genai SDK (google-generativeai reached end of life in 2025)."""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

from snapscribe.engines.base import ExtractionRequest, ExtractionResult
from snapscribe.errors import EngineError, EngineThrottled, EngineTimeout, EngineUnavailable
from snapscribe.images.prepare import PreparedImage

SYSTEM_INSTRUCTIONS = {
    "general": (
        "You extract information from images of documents and photos: invoices, receipts, "
        "reimbursement forms, cost lists and anything else. Answer only from what the image shows; "
        "copy values as printed. When asked for JSON, answer with JSON only, using null for fields "
        "the image does not show."
    ),
    "medical": (
        "You extract information from images of medical documents: medical records, test reports, "
        "prescriptions, cost statements and charge lists. Copy names, codes, dosages, units, dates and "
        "amounts exactly as printed; never infer or correct clinical values. When asked for JSON, "
        "answer with JSON only, using null for fields the image does not show."
    ),
}


@cache
def _timeout_errors() -> tuple[type[BaseException], ...]:
    """The SDK's transport raises httpx (or its fork httpx2) timeouts, whichever is installed."""
    errors: list[type[BaseException]] = [TimeoutError]
    for module_name in ("httpx", "httpx2"):
        try:
            module = __import__(module_name)
        except ImportError:
            continue
        errors.append(module.TimeoutException)
    return tuple(errors)


# Gemini bills an image as 258 tokens per 768x768 tile: at most 9 tiles for a 2048 px image.
MAX_IMAGE_TOKENS = 9 * 258

# A generateContent request is at most 20 MB, inline data base64-encoded (4/3 of its bytes) included: images
# up to this many bytes travel inline, the largest beyond it through the Files API.
INLINE_BYTES = 14 * 1024 * 1024
UPLOADS_IN_PARALLEL = 4
FILE_READY_SECONDS = 30.0  # an uploaded file the API is still processing is waited for this long

logger = logging.getLogger(__name__)


class GeminiEngine:
    name = "gemini"
    reads_pages_apart = False  # one call sees every image of a request together

    def __init__(
        self,
        *,
        api_key: Callable[[], str | None],
        model: str,
        timeout_seconds: float,
        max_image_side: int,
        base_url: str | None = None,
        max_output_tokens: int = 8192,
        inline_bytes: int = INLINE_BYTES,
    ) -> None:
        self.model = model
        self.inline_bytes = inline_bytes
        self.max_output_tokens = max_output_tokens
        self.max_image_side: int | None = max_image_side
        self._api_key = api_key  # asked at every call: a rotated key is used from the next one
        self._client_key: str | None = None
        self._timeout_ms = int(timeout_seconds * 1000)
        self._base_url = base_url
        self._client: Any = None
        self._client_lock = threading.Lock()

    def _sdk(self) -> Any:
        # Made once per key, under a lock: pages of a batch call this from several threads, and a second client
        # that loses the race is collected and closes its transport while a request is still using it.
        with self._client_lock:
            key = self._api_key()
            if not key:
                raise EngineUnavailable("Gemini is not configured: no API key is set for this deployment")
            if self._client is None or key != self._client_key:
                self._client, self._client_key = self._new_client(key), key
            return self._client

    def _new_client(self, key: str) -> Any:
        from google import genai
        from google.genai import types

        return genai.Client(
            api_key=key,
            http_options=types.HttpOptions(
                base_url=self._base_url,
                timeout=self._timeout_ms,
                # One quick retry for 429/5xx; the client's own retry policy decides beyond that.
                retry_options=types.HttpRetryOptions(attempts=2, initial_delay=0.5, max_delay=2.0),
            ),
        )

    def token_hold(self, pages: int, prompt: str) -> int:
        from snapscribe.engines.tokens import estimate_tokens

        system = max(estimate_tokens(text) for text in SYSTEM_INSTRUCTIONS.values())
        return system + estimate_tokens(prompt) + MAX_IMAGE_TOKENS * pages + self.max_output_tokens

    def extract(self, request: ExtractionRequest) -> ExtractionResult:
        from google.genai import errors, types

        config = types.GenerateContentConfig(
            system_instruction=SYSTEM_INSTRUCTIONS.get(request.scene, SYSTEM_INSTRUCTIONS["general"]),
            max_output_tokens=request.max_output_tokens,
            temperature=0.0,
        )
        if request.json_mode:
            config.response_mime_type = "application/json"
            schema = response_schema(request.template)
            if schema is not None:
                config.response_json_schema = schema
        uploaded: list[Any] = []
        try:
            contents = self._contents(request.images, uploaded)
            contents.append(request.prompt)
            response = self._sdk().models.generate_content(model=self.model, contents=contents, config=config)
        except _timeout_errors() as error:
            raise EngineTimeout("the model did not answer in time") from error
        except errors.APIError as error:
            if error.code in (408, 504):
                raise EngineTimeout("the model did not answer in time") from error
            if error.code in (401, 403):
                raise EngineUnavailable("the Gemini API key was refused") from error
            if error.code in (429, 503):  # the project's quota or the model's capacity, after the SDK's retry
                raise EngineThrottled(f"the model is busy (HTTP {error.code}): retry later") from error
            raise EngineError(f"the model returned HTTP {error.code} {error.status or ''}".strip()) from error
        except ValueError as error:  # an answer the SDK could not parse
            raise EngineError("the model's answer could not be read") from error
        finally:
            self._delete(uploaded)
        text = response.text
        if text is None:
            reason = ""
            if response.candidates and response.candidates[0].finish_reason:
                reason = f" (finish reason {response.candidates[0].finish_reason})"
            raise EngineError(f"the model returned no text{reason}")
        usage = response.usage_metadata
        prompt_tokens = (usage.prompt_token_count or 0) if usage else 0
        completion_tokens = (usage.candidates_token_count or 0) if usage else 0
        return ExtractionResult(text=text, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)

    def _contents(self, images: Sequence[PreparedImage], uploaded: list[Any]) -> list[Any]:
        """The images as parts in their order: inline while they fit in the request, the largest through the
        Files API beyond that (each uploaded file is added to `uploaded` at once, so it is deleted whatever
        happens next)."""
        from google.genai import types

        by_size = sorted(range(len(images)), key=lambda index: len(images[index].data), reverse=True)
        inline_total = sum(len(image.data) for image in images)
        through_files = set()
        for index in by_size:
            if inline_total <= self.inline_bytes:
                break
            through_files.add(index)
            inline_total -= len(images[index].data)
        files: dict[int, Any] = {}
        if through_files:
            lock = threading.Lock()

            def upload(index: int) -> None:
                file = self._upload(images[index], uploaded, lock)
                files[index] = file

            with ThreadPoolExecutor(max_workers=UPLOADS_IN_PARALLEL, thread_name_prefix="gemini-file") as pool:
                list(pool.map(upload, sorted(through_files)))
        return [
            types.Part.from_uri(file_uri=files[index].uri, mime_type=image.mime_type)
            if index in files
            else types.Part.from_bytes(data=image.data, mime_type=image.mime_type)
            for index, image in enumerate(images)
        ]

    def _upload(self, image: PreparedImage, uploaded: list[Any], lock: threading.Lock) -> Any:
        from google.genai import types

        sdk = self._sdk()
        file = sdk.files.upload(file=io.BytesIO(image.data), config=types.UploadFileConfig(mime_type=image.mime_type))
        with lock:
            uploaded.append(file)
        deadline = time.monotonic() + FILE_READY_SECONDS
        while file.state is not None and file.state.name == "PROCESSING":
            if time.monotonic() > deadline:
                raise EngineTimeout("the model's file service did not get an image ready in time")
            time.sleep(0.5)
            file = sdk.files.get(name=file.name)
        if file.state is not None and file.state.name == "FAILED":
            raise EngineError("the model's file service could not take an image")
        return file

    def _delete(self, uploaded: list[Any]) -> None:
        """Delete what was uploaded for this call. A file left behind (the API unreachable) expires by itself
        after 48 hours; it is logged by name, never by content."""
        for file in uploaded:
            try:
                self._sdk().files.delete(name=file.name)
            except Exception as error:  # cleanup must not hide the call's own answer
                logger.warning("could not delete uploaded file %s: %s", file.name, type(error).__name__)


def response_schema(template: Any) -> dict[str, Any] | None:
    """A JSON Schema for the prompt's template, so the model's JSON always has the template's shape."""
    if template is None:
        return None

    def schema_for(node: Any) -> dict[str, Any]:
        if isinstance(node, dict):
            return {
                "type": "object",
                "properties": {key: schema_for(value) for key, value in node.items()},
                "required": list(node),
            }
        if isinstance(node, list):
            return {"type": "array", "items": schema_for(node[0]) if node else {"type": "string"}}
        description = node if isinstance(node, str) else None
        leaf: dict[str, Any] = {"type": ["string", "null"]}
        if description:
            leaf["description"] = description
        return leaf

    return schema_for(template)

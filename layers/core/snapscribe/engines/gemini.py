"""Gemini through the google-genai SDK (google-generativeai reached end of life in 2025)."""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

from snapscribe.engines.base import ExtractionRequest, ExtractionResult
from snapscribe.errors import EngineError, EngineTimeout, EngineUnavailable

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


class GeminiEngine:
    name = "gemini"
    reads_pages_apart = False  # one call sees every image of a request together

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        timeout_seconds: float,
        max_image_side: int,
        base_url: str | None = None,
        max_output_tokens: int = 8192,
    ) -> None:
        self.model = model
        self.max_output_tokens = max_output_tokens
        self.max_image_side: int | None = max_image_side
        self._api_key = api_key
        self._timeout_ms = int(timeout_seconds * 1000)
        self._base_url = base_url
        self._client: Any = None
        self._client_lock = threading.Lock()

    def _sdk(self) -> Any:
        # Made once, under a lock: pages of a batch call this from several threads, and a second client
        # that loses the race is collected and closes its transport while a request is still using it.
        with self._client_lock:
            if self._client is None:
                self._client = self._new_client()
            return self._client

    def _new_client(self) -> Any:
        from google import genai
        from google.genai import types

        return genai.Client(
            api_key=self._api_key,
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

        contents: list[Any] = [
            types.Part.from_bytes(data=image.data, mime_type=image.mime_type) for image in request.images
        ]
        contents.append(request.prompt)
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
        try:
            response = self._sdk().models.generate_content(model=self.model, contents=contents, config=config)
        except _timeout_errors() as error:
            raise EngineTimeout("the model did not answer in time") from error
        except errors.APIError as error:
            if error.code in (408, 504):
                raise EngineTimeout("the model did not answer in time") from error
            if error.code in (401, 403):
                raise EngineUnavailable("the Gemini API key was refused") from error
            raise EngineError(f"the model returned HTTP {error.code} {error.status or ''}".strip()) from error
        except ValueError as error:  # an answer the SDK could not parse
            raise EngineError("the model's answer could not be read") from error
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

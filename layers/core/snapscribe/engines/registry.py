"""Choose an engine by id: the deployment's default, or one a request names among those the operator offers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from snapscribe.config import Settings
from snapscribe.engines.base import Engine
from snapscribe.engines.catalog import DEFAULT_ALIASES, EngineCatalog, EngineChoice
from snapscribe.engines.metered import metered
from snapscribe.engines.secrets import RotatingSecret, ssm_secure_string
from snapscribe.errors import EngineUnavailable
from snapscribe.metering import NO_METER, Meter


class EngineClients(Protocol):
    """The AWS clients the engines use (services.AwsClients), each made on first use."""

    @property
    def ssm(self) -> Any: ...

    @property
    def bedrock_runtime(self) -> Any: ...

    @property
    def textract(self) -> Any: ...


class Engines:
    """The engines one function uses, by id. Only the catalog's are made (one object each, on first use, so the
    local engine's models load then); keys come from SSM and are re-read at most five minutes after they change.
    Every engine it hands out has its calls counted on `meter` (engines/metered.py)."""

    def __init__(
        self,
        settings: Settings,
        clients: EngineClients | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        meter: Meter = NO_METER,
    ) -> None:
        self.settings = settings
        self._clients = clients
        self._meter = meter
        self.catalog = EngineCatalog(
            settings.engines, (settings.engine, settings.ocr_engine), gemini_model=settings.gemini_model
        )
        self._clock = clock
        self._built: dict[str, Engine] = {}
        self._secrets: dict[str, RotatingSecret] = {}
        self._lock = threading.Lock()

    def choice(self, engine_id: str | None = None, *, default: str | None = None) -> EngineChoice:
        """`None` (or the structured-extraction contract's model id) means the deployment's default engine
        (`default`, else the extract routes' setting)."""
        if engine_id is None or engine_id.strip() in DEFAULT_ALIASES:
            engine_id = default or self.settings.engine
        return self.catalog.resolve(engine_id)

    def __call__(self, engine_id: str | None = None, *, default: str | None = None) -> Engine:
        choice = self.choice(engine_id, default=default)
        with self._lock:
            if choice.id not in self._built:
                self._built[choice.id] = metered(self._make(choice), self._meter)
            return self._built[choice.id]

    def allowed(self) -> list[str]:
        return self.catalog.allowed()

    def built(self) -> list[str]:
        """The engines made so far: never more than the catalog offers."""
        with self._lock:
            return sorted(self._built)

    @property
    def clients(self) -> EngineClients:
        if self._clients is None:  # a test's registry of engines that need no AWS client
            raise EngineUnavailable("This registry was given no AWS clients: Bedrock, Textract and SSM are unreachable")
        return self._clients

    def _make(self, choice: EngineChoice) -> Engine:
        settings = self.settings
        if choice.family == "local":
            from snapscribe.engines.local import LocalEngine

            return LocalEngine(settings.tessdata_dir)
        if choice.family == "gemini":
            from snapscribe.engines.gemini import GeminiEngine

            return GeminiEngine(
                api_key=self._key("gemini", settings.gemini_api_key, settings.gemini_api_key_parameter),
                model=str(choice.model),
                timeout_seconds=settings.gemini_timeout_seconds,
                max_image_side=settings.llm_max_image_side,
                base_url=settings.gemini_base_url,
                max_output_tokens=settings.max_output_tokens,
                inline_bytes=settings.gemini_inline_bytes,
            )
        if choice.family == "bedrock":
            from snapscribe.engines.bedrock import BedrockEngine

            return BedrockEngine(
                model=str(choice.model),
                client=self.clients.bedrock_runtime,
                max_image_side=settings.llm_max_image_side,
                max_output_tokens=settings.max_output_tokens,
            )
        if choice.family == "textract":
            from snapscribe.engines.textract import TextractEngine

            return TextractEngine(client=self.clients.textract)
        from snapscribe.engines.openai_compatible import OpenAiCompatibleEngine

        if not settings.openai_base_url:
            raise EngineUnavailable("The OpenAI-compatible engine is not configured: no SNAPSCRIBE_OPENAI_BASE_URL")
        return OpenAiCompatibleEngine(
            model=str(choice.model),
            base_url=settings.openai_base_url,
            api_key=self._key("openai", settings.openai_api_key, settings.openai_api_key_parameter),
            timeout_seconds=settings.openai_timeout_seconds,
            max_image_side=settings.llm_max_image_side,
            max_output_tokens=settings.max_output_tokens,
        )

    def _key(self, family: str, value: object, parameter: str | None) -> Callable[[], str | None]:
        """The engine's key: the setting's (tests, `make run`), else its SSM parameter's, re-read every 5 min."""
        secret = getattr(value, "get_secret_value", None)
        if secret is not None:
            fixed = str(secret())
            return lambda: fixed
        if not parameter:
            return lambda: None
        if family not in self._secrets:
            read = ssm_secure_string(lambda: self.clients.ssm, parameter)
            self._secrets[family] = RotatingSecret(read, clock=self._clock)
        return self._secrets[family]

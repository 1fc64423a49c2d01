"""Choose an engine by id: the deployment's default, or one a request names."""

from __future__ import annotations

import threading
from collections.abc import Callable

from snapscribe.config import Settings
from snapscribe.engines.base import Engine
from snapscribe.errors import EngineUnavailable, UnknownEngine

# "danlin": the local multi-script engine under the name the batch-extraction contract's example uses.
LOCAL_ENGINE_IDS = frozenset({"local", "rapidocr", "danlin"})


def is_gemini_id(engine_id: str) -> bool:
    return engine_id == "gemini" or engine_id.startswith("gemini-")


def gemini_api_key(settings: Settings) -> str:
    if settings.gemini_api_key is not None:
        return settings.gemini_api_key.get_secret_value()
    if settings.gemini_api_key_parameter:
        # Powertools caches the decrypted SecureString for five minutes across invocations.
        from aws_lambda_powertools.utilities.parameters import get_parameter

        value = get_parameter(settings.gemini_api_key_parameter, decrypt=True, max_age=300)
        if value and value.strip() not in ("", "unset", "CHANGE_ME"):
            return value.strip()
    raise EngineUnavailable("Gemini is not configured: no API key is set for this deployment")


class Engines:
    """The engines one function uses, by id: the deployment's default, or one a request names. Each is made on
    first use, once (the local engine's models load then)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._built: dict[str, Engine] = {}
        self._lock = threading.Lock()

    def __call__(self, engine_id: str | None = None, *, default: str | None = None) -> Engine:
        """`None` means the deployment's default engine (`default`, else the extract routes' setting)."""
        engine_id = (engine_id or default or self.settings.engine).strip()
        if engine_id in LOCAL_ENGINE_IDS:
            return self._once("local", self._local)
        if is_gemini_id(engine_id):
            model = self.settings.gemini_model if engine_id == "gemini" else engine_id
            return self._once(f"gemini:{model}", lambda: self._gemini(model))
        raise UnknownEngine(f"Unknown engine: {engine_id!r}")

    def _once(self, key: str, make: Callable[[], Engine]) -> Engine:
        with self._lock:
            if key not in self._built:
                self._built[key] = make()
            return self._built[key]

    def _local(self) -> Engine:
        from snapscribe.engines.local import LocalEngine

        return LocalEngine(self.settings.tessdata_dir)

    def _gemini(self, model: str) -> Engine:
        from snapscribe.engines.gemini import GeminiEngine

        settings = self.settings
        return GeminiEngine(
            api_key=gemini_api_key(settings),
            model=model,
            timeout_seconds=settings.gemini_timeout_seconds,
            max_image_side=settings.llm_max_image_side,
            base_url=settings.gemini_base_url,
            max_output_tokens=settings.max_output_tokens,
            inline_bytes=settings.gemini_inline_bytes,
        )

"""Choose an engine by id: the deployment's default, or one a request names."""

from __future__ import annotations

from functools import cache

from snapscribe.config import Settings, get_settings
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


@cache
def _local_engine() -> Engine:
    from snapscribe.engines.local import LocalEngine

    return LocalEngine()


@cache
def _gemini_engine(model: str) -> Engine:
    from snapscribe.engines.gemini import GeminiEngine

    settings = get_settings()
    return GeminiEngine(
        api_key=gemini_api_key(settings),
        model=model,
        timeout_seconds=settings.gemini_timeout_seconds,
        max_image_side=settings.llm_max_image_side,
        base_url=settings.gemini_base_url,
        max_output_tokens=settings.max_output_tokens,
        inline_bytes=settings.gemini_inline_bytes,
    )


def get_engine(engine_id: str | None = None, *, default: str | None = None) -> Engine:
    """`None` means the deployment's default engine (`default`, else the extract routes' setting)."""
    settings = get_settings()
    engine_id = (engine_id or default or settings.engine).strip()
    if engine_id in LOCAL_ENGINE_IDS:
        return _local_engine()
    if is_gemini_id(engine_id):
        return _gemini_engine(settings.gemini_model if engine_id == "gemini" else engine_id)
    raise UnknownEngine(f"Unknown engine: {engine_id!r}")


def reset_engines() -> None:
    """Forget built engines (tests change settings between cases)."""
    _local_engine.cache_clear()
    _gemini_engine.cache_clear()
    from snapscribe.engines.local import tessdata_dir

    tessdata_dir.cache_clear()

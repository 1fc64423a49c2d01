"""Where each filled field of a template came from: an addition to the template-filling APIs' answers, present
only when the client asks (?fields=true)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class FieldSource(BaseModel):
    value: Any  # the field's value, as in the filled template
    confidence: float | None  # 0-1: how surely the rule named the field, times how surely the OCR read it
    page: int | None  # the page (image) it was read from, from 0
    box: list[int] | None  # [x0, y0, x1, y1]: the lines it was read from, in pixels of the page as read


def field_sources(raw: dict[str, dict[str, Any]] | None) -> dict[str, FieldSource]:
    """An engine's fields (by JSON pointer) as the answer carries them; none when the engine cannot tell."""
    return {pointer: FieldSource.model_validate(source) for pointer, source in (raw or {}).items()}

"""The JSON template a prompt carries ("... using the following schema: {...}"), and a model's JSON answer."""

from __future__ import annotations

import json
from typing import Any

_DECODER = json.JSONDecoder()


def find_json_template(prompt: str) -> dict[str, Any] | list[Any] | None:
    """The first JSON object (or array of objects) in the prompt that parses, else None."""
    for index, char in enumerate(prompt):
        if char not in "{[":
            continue
        try:
            value, _end = _DECODER.raw_decode(prompt, index)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict) and value:
            return value
        if isinstance(value, list) and value and isinstance(value[0], dict):
            return value
    return None


def canonical_json(text: str) -> str | None:
    """A model's JSON answer as compact JSON text (a ```json fence unwrapped), or None if it is not JSON."""
    candidate = text.strip()
    if candidate.startswith("```"):
        candidate = candidate.strip("`").removeprefix("json").strip()
    try:
        return json.dumps(json.loads(candidate), ensure_ascii=False)
    except json.JSONDecodeError:
        return None

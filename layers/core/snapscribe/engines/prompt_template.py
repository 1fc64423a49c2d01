"""The JSON template a prompt carries ("... using the following schema: {...}"), and a model's JSON answer."""

from __future__ import annotations

import json
from typing import Any

from snapscribe.errors import InvalidRequest

_DECODER = json.JSONDecoder()
# A template is a form's fields, a list of rows at most a few levels down: deeper is no template anyone fills.
MAX_TEMPLATE_DEPTH = 32


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def find_json_template(prompt: str) -> dict[str, Any] | list[Any] | None:
    """The first JSON object (or array of objects) in the prompt that parses, else None. A template nested
    deeper than MAX_TEMPLATE_DEPTH is an InvalidRequest."""
    for index, char in enumerate(prompt):
        if char not in "{[":
            continue
        try:
            value, _end = _DECODER.raw_decode(prompt, index)
        except json.JSONDecodeError:
            continue
        except RecursionError as error:
            raise InvalidRequest(
                f"The JSON template in the prompt is nested deeper than {MAX_TEMPLATE_DEPTH} levels"
            ) from error
        if isinstance(value, dict | list) and _depth(value) > MAX_TEMPLATE_DEPTH:
            raise InvalidRequest(f"The JSON template in the prompt is nested deeper than {MAX_TEMPLATE_DEPTH} levels")
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
    except (json.JSONDecodeError, RecursionError):
        return None

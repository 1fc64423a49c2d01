"""The JSON template a prompt carries ("... using the following schema: {...}"), and a model's JSON answer."""

from __future__ import annotations

import json
from typing import Any

from snapscribe.contracts.parsing import STRICT_DECODER, UnreadableNumber, depth
from snapscribe.contracts.parsing import loads as strict_loads
from snapscribe.errors import InvalidRequest

# A template is a form's fields, a list of rows at most a few levels down: deeper is no template anyone fills.
MAX_TEMPLATE_DEPTH = 32
# What the strict decoder refuses, read as a placeholder: only to tell whether the refused text was a template.
_SHAPE_DECODER = json.JSONDecoder(
    parse_int=lambda _text: 0, parse_float=lambda _text: 0.0, parse_constant=lambda _name: 0
)


def find_json_template(prompt: str) -> dict[str, Any] | list[Any] | None:
    """The first JSON object (or array of objects) in the prompt that parses, else None. A template nested
    deeper than MAX_TEMPLATE_DEPTH, or holding a number JSON has not (NaN, Infinity) or Python cannot hold, is an
    InvalidRequest."""
    for index, char in enumerate(prompt):
        if char not in "{[":
            continue
        try:
            value, _end = STRICT_DECODER.raw_decode(prompt, index)
        except json.JSONDecodeError:
            continue
        except UnreadableNumber as error:  # NaN, Infinity, an integer past Python's limit: no template fills those
            if _is_template(_SHAPE_DECODER.raw_decode(prompt, index)[0]):
                raise InvalidRequest(
                    f"The JSON template in the prompt holds a number the service does not read: {error}"
                ) from None
            continue
        except RecursionError as error:
            raise InvalidRequest(
                f"The JSON template in the prompt is nested deeper than {MAX_TEMPLATE_DEPTH} levels"
            ) from error
        if isinstance(value, dict | list) and depth(value) > MAX_TEMPLATE_DEPTH:
            raise InvalidRequest(f"The JSON template in the prompt is nested deeper than {MAX_TEMPLATE_DEPTH} levels")
        if _is_template(value):
            return value  # type: ignore[no-any-return]
    return None


def _is_template(value: Any) -> bool:
    """An object with fields, or an array of such rows."""
    return (isinstance(value, dict) and bool(value)) or (
        isinstance(value, list) and bool(value) and isinstance(value[0], dict)
    )


def canonical_json(text: str) -> str | None:
    """A model's JSON answer as compact JSON text (a ```json fence unwrapped), or None if it is not JSON."""
    candidate = text.strip()
    if candidate.startswith("```"):
        candidate = candidate.strip("`").removeprefix("json").strip()
    try:
        return json.dumps(strict_loads(candidate), ensure_ascii=False)
    except (ValueError, RecursionError):  # not JSON, or a number JSON has not (NaN) or Python cannot hold
        return None

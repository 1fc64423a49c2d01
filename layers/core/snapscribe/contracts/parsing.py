"""Turn a JSON body into a contract model, or a typed error whose message names the field.

JSON is read strictly: a number JSON has not (NaN, Infinity) or that Python or a double cannot hold (an integer
past Python's int-string limit, a float past the double's range) is refused as the body's fault, as is nesting no
contract has, so that no body reaches a model, a plan or a stored job that the service could not write back."""

from __future__ import annotations

import json
import math
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from snapscribe.errors import InvalidRequest, MissingField

ModelT = TypeVar("ModelT", bound=BaseModel)
# No contract nests deeper than a few levels (engine.options, a template's rows): this is far past all of them.
MAX_BODY_DEPTH = 64


class UnreadableNumber(ValueError):
    """A JSON number (or non-standard constant) the service does not read; the message says which, briefly."""


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError as error:  # past sys.get_int_max_str_digits()
        raise UnreadableNumber(
            f"an integer of {len(text.lstrip('-'))} digits is more than the service reads"
        ) from error


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise UnreadableNumber("a number beyond the range of a double")
    return value


def _constant(name: str) -> Any:
    raise UnreadableNumber(f"{name} is not a JSON number")


# Python's decoder, but strict about numbers. A JSONDecodeError is malformed JSON; an UnreadableNumber (also a
# ValueError, not a JSONDecodeError) a number it refuses.
STRICT_DECODER = json.JSONDecoder(parse_int=_integer, parse_float=_float, parse_constant=_constant)


def depth(value: Any) -> int:
    """How deeply objects and arrays nest in a decoded document (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def loads(text: str | bytes) -> Any:
    """JSON text decoded strictly (STRICT_DECODER): JSONDecodeError, UnicodeDecodeError, UnreadableNumber or
    RecursionError for what it refuses."""
    if isinstance(text, bytes):
        text = text.decode(json.detect_encoding(text), "surrogatepass")
    return STRICT_DECODER.decode(text)


def parse_json_body(body: str | bytes | None, model: type[ModelT]) -> ModelT:
    if body is None or not body.strip():
        raise InvalidRequest("The request body must be a JSON object")
    try:
        document = loads(body)
    except UnreadableNumber as error:
        raise InvalidRequest(f"The request body holds a number the service does not read: {error}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidRequest("The request body is not valid JSON") from error
    except RecursionError as error:  # "[[[[..." deeper than the decoder goes: no contract nests like that
        raise InvalidRequest("The request body is nested too deeply") from error
    if not isinstance(document, dict):
        raise InvalidRequest("The request body must be a JSON object")
    if depth(document) > MAX_BODY_DEPTH:
        raise InvalidRequest(f"The request body is nested more than {MAX_BODY_DEPTH} levels deep")
    try:
        return model.model_validate(document)
    except ValidationError as error:
        raise validation_error(error) from None


def validation_error(error: ValidationError) -> InvalidRequest:
    first = error.errors(include_url=False)[0]
    field = ".".join(str(part) for part in first["loc"]) or "body"
    if first["type"] == "missing":
        return MissingField(f"Missing required parameter: {field}")
    return InvalidRequest(f"Invalid parameter {field}: {first['msg']}")

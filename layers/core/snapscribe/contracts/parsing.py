"""Turn a JSON body into a contract model, or a typed error whose message names the field."""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from snapscribe.errors import InvalidRequest, MissingField

ModelT = TypeVar("ModelT", bound=BaseModel)


def parse_json_body(body: str | bytes | None, model: type[ModelT]) -> ModelT:
    if body is None or not body.strip():
        raise InvalidRequest("The request body must be a JSON object")
    try:
        document = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidRequest("The request body is not valid JSON") from error
    except RecursionError as error:  # "[[[[..." deeper than the decoder goes: no contract nests like that
        raise InvalidRequest("The request body is nested too deeply") from error
    if not isinstance(document, dict):
        raise InvalidRequest("The request body must be a JSON object")
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

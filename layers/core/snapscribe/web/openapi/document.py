"""The OpenAPI 3.1 document of every route, built from the routes' declarations (web/routing.py), the pydantic
models the code validates and answers with (their JSON Schema, by pydantic) and the APIs' error tables."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from snapscribe import errors as e
from snapscribe.contracts.errors import BASE_RESP_ROWS, STRUCTURED_EXTRACTION_ERRORS, ErrorTable
from snapscribe.contracts.jobs import JobAccepted
from snapscribe.contracts.structured_extraction import INTERNAL_ERROR
from snapscribe.web.routing import Api, Route

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"
LOCAL_SERVER = "http://127.0.0.1:3000"
REF = "#/components/schemas/{model}"

DESCRIPTION = """\
Images in, text and structured data out: four APIs behind one account system.

**Authentication**: every route but this document's needs an API key, as `Authorization: Bearer <key>` or
`X-API-Key: <key>`. Answers after authentication carry `X-RateLimit-Limit` and `X-RateLimit-Remaining`.

**Jobs**: a charging route sent with `Prefer: respond-async` is admitted as a job (the same checks, the same
hold) and answers 202 with `Location`; `GET /api/v1/jobs/{jobId}` follows it, and its result is the body the
synchronous call would have answered. `Callback-Url` adds a signed webhook (Standard Webhooks) when it ends.

**Retries**: a POST with an `Idempotency-Key` (1-255 printable characters) answers a retry with the same key and
body with the first answer, charging once.

**Errors**: each API answers in its own shape: `{"error": "..."}`, or the structured-extraction API's body with
`base_resp`. API Gateway itself answers a body over 6 MB, an unknown route or a timeout with `{"message": "..."}`.
"""

SECURITY_SCHEMES: dict[str, Any] = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "description": "`Authorization: Bearer <API key>`"},
    "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "`X-API-Key: <API key>`"},
}
KEYED: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"apiKeyHeader": []}]

_INTEGER = {"type": "integer"}
HEADERS: dict[str, Any] = {
    "X-RateLimit-Limit": {"description": "Requests per minute this key may make", "schema": _INTEGER},
    "X-RateLimit-Remaining": {"description": "Requests left in this minute's window", "schema": _INTEGER},
    "X-RateLimit-Reset": {"description": "When the window ends, in epoch seconds", "schema": _INTEGER},
    "Retry-After": {"description": "Seconds to wait before the next request", "schema": _INTEGER},
    "Location": {"description": "The job's path: GET it to follow the job", "schema": {"type": "string"}},
    "Preference-Applied": {
        "description": "The preference honoured",
        "schema": {"type": "string", "enum": ["respond-async"]},
    },
}
PARAMETERS: dict[str, Any] = {
    "Prefer": {
        "name": "Prefer",
        "in": "header",
        "description": "`respond-async`: run the request as a job and answer 202 at once (RFC 7240)",
        "schema": {"type": "string"},
        "example": "respond-async",
    },
    "CallbackUrl": {
        "name": "Callback-Url",
        "in": "header",
        "description": "With `Prefer: respond-async`: a public http(s) URL that receives the job's signed webhook "
        "(Standard Webhooks, signed with the key's webhook secret) when the job ends",
        "schema": {"type": "string", "maxLength": 2048},
        "example": "https://example.com/hooks/snapscribe",
    },
    "IdempotencyKey": {
        "name": "Idempotency-Key",
        "in": "header",
        "description": "A retry with the same key and body gets the first answer and is not charged again",
        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
        "example": "order-1042-receipt",
    },
    "RequestSource": {
        "name": "Request-Source",
        "in": "header",
        "description": "What the client is (e.g. API), kept with the request in the usage ledger (its first 64 "
        "printable characters)",
        "schema": {"type": "string"},
    },
}
RATE_HEADERS = {
    name: {"$ref": f"#/components/headers/{name}"} for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining")
}
INTERNAL = "an internal error (logged; its details are never answered)"


# What each error means, for the description of the statuses that answer it.
ERROR_MEANINGS: dict[type[e.SnapscribeError], str] = {
    e.Unauthorized: "no API key, or not a valid one",
    e.InsufficientBalance: "the balance cannot pay for the request (nothing was charged)",
    e.RateLimited: "the key's requests per minute are used up: retry after Retry-After seconds",
    e.RequestInProgress: "a request with this Idempotency-Key is still running",
    e.TooLongForSync: "too much work for one synchronous request (nothing was charged): send it as a job",
    e.MissingField: "a required field is missing",
    e.UnsupportedImageFormat: "the image's format is not accepted",
    e.ImageTooLarge: "the image is too large",
    e.CorruptImage: "the image cannot be read",
    e.DecompressionBomb: "the image would be too large once decoded",
    e.InvalidRequest: "the request is invalid: the message says what is wrong",
    e.UploadPending: "the upload has not been checked yet (or was never uploaded)",
    e.NotFound: "not found, or not the caller's (the two are answered alike)",
    e.JobFinished: "the job has finished",
    e.EngineInputTooLarge: "the input is over what the engine takes: the message says which limit",
    e.EngineTimeout: "the engine did not answer in time",
    e.EngineThrottled: "the engine's service is at its quota or capacity: retry after Retry-After seconds",
    e.EngineUnavailable: "the engine is not configured, or its model not enabled, in this deployment",
    e.EngineError: "the engine failed",
}


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _models(routes: Sequence[Route]) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    models: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {(JobAccepted, "serialization"): None}
    for route in routes:
        if route.body is not None:
            models[route.body, "validation"] = None
        if route.answer is not None:
            models[route.answer, "serialization"] = None
        for status in route.error_statuses:
            models[route.errors.model_for(status), "serialization"] = None
    return list(models)


def _meaning(errors: ErrorTable, status: int) -> str:
    meanings = [ERROR_MEANINGS[error] for error, row_status, _build in errors.rows if row_status == status]
    if status == 500:
        meanings.append(INTERNAL)
    text = "; ".join(dict.fromkeys(meanings))
    if errors is STRUCTURED_EXTRACTION_ERRORS:
        codes = sorted({code for _error, row_status, code in BASE_RESP_ROWS if row_status == status})
        if status == 500:
            codes.append(INTERNAL_ERROR)
        text += ". base_resp.status_code: " + ", ".join(str(code) for code in dict.fromkeys(codes))
    return text[:1].upper() + text[1:]


def _follow_job() -> dict[str, Any]:
    """What a client does with a job: the links of every charging route's 202."""
    job_id = {"jobId": "$response.body#/jobId"}
    return {
        "GetJob": {"operationId": "get_job", "parameters": job_id},
        "CancelJob": {"operationId": "cancel_job", "parameters": job_id},
    }


def _responses(route: Route, schemas: dict[tuple[type[BaseModel], JsonSchemaMode], Any]) -> dict[str, Any]:
    answer = schemas[route.answer, "serialization"] if route.answer else {"type": "object"}
    if route.content_type != "application/json":
        answer = {"type": "string"}
    success: dict[str, Any] = {"description": route.summary, "content": {route.content_type: {"schema": answer}}}
    if not route.public:
        success["headers"] = RATE_HEADERS
    responses: dict[str, Any] = {str(route.status): success}
    if route.charging:
        responses["202"] = {
            "description": "Admitted as a job (`Prefer: respond-async`): follow it at Location",
            "headers": {**RATE_HEADERS, "Location": _ref("headers", "Location")}
            | {"Preference-Applied": _ref("headers", "Preference-Applied")},
            "content": {"application/json": {"schema": schemas[JobAccepted, "serialization"]}},
        }
    for status in route.error_statuses:
        response: dict[str, Any] = {
            "description": _meaning(route.errors, status),
            "content": {"application/json": {"schema": schemas[route.errors.model_for(status), "serialization"]}},
        }
        if status != 401:
            response["headers"] = dict(RATE_HEADERS)
        if status == 429:
            response["headers"] |= {name: _ref("headers", name) for name in ("X-RateLimit-Reset", "Retry-After")}
        responses[str(status)] = response
    for status, name, link in route.links:
        responses[str(status)].setdefault("links", {})[name] = link
    if route.charging:
        responses["202"].setdefault("links", {}).update(_follow_job())
    return responses


def _parameters(route: Route) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for name in re.findall(r"{(\w+)}", route.path)
    ]
    parameters += [
        {"name": query.name, "in": "query", "description": query.description, "schema": query.schema}
        for query in route.query
    ]
    if route.charging:
        parameters += [_ref("parameters", "Prefer"), _ref("parameters", "CallbackUrl")]
    if route.idempotent:
        parameters.append(_ref("parameters", "IdempotencyKey"))
    if route.charging:
        parameters.append(_ref("parameters", "RequestSource"))
    return parameters


def _operation(route: Route, schemas: dict[tuple[type[BaseModel], JsonSchemaMode], Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {"operationId": route.name, "tags": [route.api], "summary": route.summary}
    if route.description:
        operation["description"] = route.description
    if route.public:
        operation["security"] = []
    if parameters := _parameters(route):
        operation["parameters"] = parameters
    if route.body is not None:
        media: dict[str, Any] = {"schema": schemas[route.body, "validation"]}
        if route.example is not None:
            media["example"] = route.example
        if route.form:
            media["encoding"] = {"image": {"contentType": "image/jpeg, image/png, image/bmp, application/octet-stream"}}
        content_type = "multipart/form-data" if route.form else "application/json"
        operation["requestBody"] = {"required": True, "content": {content_type: media}}
    operation["responses"] = _responses(route, schemas)
    return operation


@cache
def _paths_and_schemas(apis: tuple[Api, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
    routes = [route for api in apis for route in api.routes]
    schemas, top = models_json_schema(_models(routes), ref_template=REF)
    paths: dict[str, Any] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method] = _operation(route, schemas)  # type: ignore[arg-type]
    return paths, top.get("$defs", {})


def openapi_document(apis: Sequence[Api], server: str = LOCAL_SERVER) -> dict[str, Any]:
    """The whole document of these APIs, in their order, with `server` as the base URL clients call."""
    paths, schemas = _paths_and_schemas(tuple(apis))
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "snapscribe", "version": API_VERSION, "description": DESCRIPTION},
        "servers": [{"url": server}],
        "security": KEYED,
        "tags": [{"name": api.name, "description": api.description} for api in apis],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": SECURITY_SCHEMES,
            "parameters": PARAMETERS,
            "headers": HEADERS,
        },
    }

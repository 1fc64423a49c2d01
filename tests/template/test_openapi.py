"""The OpenAPI document: valid OpenAPI 3.1, the same routes as the template and the routers, each API's error
bodies as its error table builds them, the committed copy current, and served (with Swagger UI) by its function."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from typing import Any

import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel

from snapscribe import errors as e
from snapscribe import routes as routes_package
from snapscribe.contracts import errors as tables
from snapscribe.routes.api_docs import APIS, document
from snapscribe_tools import openapi as make_openapi
from snapscribe_tools.template import functions, load_template
from tests.conftest import body_of, invoke, load_event

DOCUMENT = document()
ROUTES = [route for api in APIS for route in api.routes]
# Every route module there is: one added without its entry in the document fails the routers' test.
ROUTE_MODULES = tuple(module.name for module in pkgutil.iter_modules(routes_package.__path__))


def _snake(camel: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", camel).lower()


def _operations(document: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (method, path, operation["operationId"])
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }


def test_the_document_is_valid_openapi_3_1() -> None:
    assert DOCUMENT["openapi"].startswith("3.1")
    validate(DOCUMENT)


def test_the_committed_document_is_current() -> None:
    committed = make_openapi.COMMITTED.read_text(encoding="utf-8")
    assert committed == make_openapi.rendered(), "docs/openapi.json is stale: run `make openapi`"


def test_every_template_route_is_documented_under_its_own_name_and_nothing_else() -> None:
    events = load_template()["Resources"]
    template = {
        (event["Properties"]["Method"].lower(), event["Properties"]["Path"], _snake(event_id))
        for function in functions(load_template())
        for event_id, event in events[function.logical_id]["Properties"].get("Events", {}).items()
        if event["Type"] == "Api"
    }
    assert _operations(DOCUMENT) == template


def test_the_routers_serve_exactly_the_documented_routes() -> None:
    # Imported here, not at collection: the route modules' loggers take the service name the handlers set.
    served = set()
    for name in ROUTE_MODULES:
        module = importlib.import_module(f"snapscribe.routes.{name}")
        for key in module.router._routes:
            rule, methods = key[0], key[1]
            path = re.sub(r"<(\w+)>", "{}", rule)
            served |= {(method.lower(), path) for method in methods}
    documented = {(method, re.sub(r"{\w+}", "{}", path)) for method, path, _name in _operations(DOCUMENT)}
    assert served == documented


def test_both_security_schemes_guard_every_route_but_the_documents_own() -> None:
    schemes = DOCUMENT["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert schemes["apiKeyHeader"] == {**schemes["apiKeyHeader"], "type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert DOCUMENT["security"] == [{"bearerAuth": []}, {"apiKeyHeader": []}]
    public = {
        operation["operationId"]
        for item in DOCUMENT["paths"].values()
        for operation in item.values()
        if operation.get("security") == []
    }
    assert public == {"get_openapi", "get_api_docs"}


def _headers(operation: dict[str, Any]) -> set[str]:
    names = set()
    for parameter in operation.get("parameters", []):
        if "$ref" in parameter:
            parameter = DOCUMENT["components"]["parameters"][parameter["$ref"].rsplit("/", 1)[1]]
        if parameter["in"] == "header":
            names.add(parameter["name"])
    return names


def test_charging_routes_document_jobs_and_retries() -> None:
    paths = DOCUMENT["paths"]
    for path in ("/api/v1/extract-image", "/v1/ocr/image/extract", "/api/ocr/process", "/v1/image-extraction"):
        operation = paths[path]["post"]
        assert {"Prefer", "Callback-Url", "Idempotency-Key"} <= _headers(operation), path
        accepted = operation["responses"]["202"]
        assert accepted["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/JobAccepted"}
        assert {"Location", "Preference-Applied"} <= set(accepted["headers"])
    assert "Idempotency-Key" not in _headers(paths["/v1/image-extraction"]["get"])
    assert _headers(paths["/api/v1/jobs"]["get"]) == set()
    assert {"/api/v1/jobs", "/api/v1/jobs/{jobId}"} <= set(paths)


def test_the_structured_extraction_api_lists_its_base_resp_codes_per_status() -> None:
    responses = DOCUMENT["paths"]["/v1/ocr/image/extract"]["post"]["responses"]
    assert "100001, 261001, 261002, 261003" in responses["400"]["description"]
    assert responses["504"]["description"].endswith("261101")
    assert responses["500"]["description"].endswith("261999")
    form = DOCUMENT["components"]["schemas"]["StructuredExtractionForm"]
    assert form["properties"]["image"] == {**form["properties"]["image"], "type": "string", "format": "binary"}
    assert set(form["required"]) == {"model", "prompt", "image"}
    assert "filename" not in form["properties"]


def _an_error(error_type: type[e.SnapscribeError]) -> e.SnapscribeError:
    if error_type is e.RateLimited:
        return e.RateLimited(limit=60, reset_at=1, retry_after=1)
    if error_type is e.InsufficientBalance:
        return e.InsufficientBalance(needed=2, available=1)
    return error_type("what was wrong")


@pytest.mark.parametrize("route", [route for route in ROUTES if not route.public], ids=lambda route: route.name)
def test_every_documented_error_status_is_answered_in_the_documented_shape(route: Any) -> None:
    table = route.errors
    for status in route.error_statuses:
        rows = [error_type for error_type, row_status, _build in table.rows if row_status == status]
        answers = [table.respond(_an_error(error_type)) for error_type in rows]
        if status == 500:
            answers.append(table.respond(RuntimeError("a bug")))
        assert answers, f"{route.name}: no row of {table.name} answers {status}"
        model: type[BaseModel] = table.model_for(status)
        for answer in answers:
            assert answer.status == status
            model.model_validate(answer.body, strict=True)
    statuses = {row_status for _error, row_status, _build in table.rows}
    assert set(route.error_statuses) <= statuses | {500}


def test_the_docs_function_serves_the_document_with_the_callers_base_url() -> None:
    result = invoke("ApiDocsFunction", load_event("get_openapi"))
    assert result["statusCode"] == 200
    served = body_of(result)
    assert served["servers"] == [{"url": "http://localhost:3000"}]
    assert {**served, "servers": DOCUMENT["servers"]} == json.loads(json.dumps(DOCUMENT))


def test_the_docs_page_is_swagger_ui_that_needs_nothing_from_the_internet() -> None:
    result = invoke("ApiDocsFunction", load_event("get_api_docs"))
    assert result["statusCode"] == 200
    assert result["multiValueHeaders"]["Content-Type"][0].startswith("text/html")
    page = result["body"]
    assert "SwaggerUIBundle" in page
    assert '"operationId": "extract_structured"' in page
    assert not re.search(r"""(src|href)=['"]https?://""", page)  # script and style are inline


def test_every_error_table_has_its_meanings_documented() -> None:
    from snapscribe.web.openapi.document import ERROR_MEANINGS

    for table in (
        tables.EXTRACT_IMAGE_ERRORS,
        tables.FILES_ERRORS,
        tables.STRUCTURED_EXTRACTION_ERRORS,
        tables.BATCH_EXTRACTION_ERRORS,
        tables.JOBS_ERRORS,
    ):
        assert {error for error, _status, _build in table.rows} <= set(ERROR_MEANINGS), table.name

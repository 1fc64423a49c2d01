"""Bad input is never a 500: every JSON route (each route declaration with a body, from routes/api_docs.APIS) gets
numbers Python cannot hold or JSON does not have (integers past the int-string limit, floats past the double's
range, NaN and Infinity), nesting no contract has, at the top and in each field of its example; the form route gets
them in its prompt's JSON template; and every declared query parameter of every route gets digits that are not
ASCII, negative, huge and empty values. Each through the real handler under moto: a 4xx in the route's own error
shape (base_resp 100001 for structured extraction, {"error": ...} for the rest), never a 500, nothing charged."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from snapscribe.contracts.structured_extraction import MISSING_REQUIRED
from snapscribe.routes.api_docs import APIS
from snapscribe.services import from_environment
from snapscribe.web.routing import Route
from snapscribe_tools.template import functions, load_template
from tests.conftest import EVENTS_KEY, PROJECT_ROOT, body_of, invoke, load_event

ROUTES = [route for api in APIS for route in api.routes]
FUNCTION_OF = {
    (route.method.lower(), route.path): function.logical_id
    for function in functions(load_template())
    for route in function.routes
}
JSON_ROUTES = [route for route in ROUTES if route.body is not None and not route.form]
FORM_ROUTES = [route for route in ROUTES if route.form]
QUERIED = [(route, parameter.name) for route in ROUTES for parameter in route.query]

HUGE_DIGITS = "1" + "0" * 5000  # past Python's 4300-digit int-string limit
# Numbers Python's json reads but JSON has not (or that Python or a double cannot hold), nesting no contract has.
BAD_VALUES = {
    "huge-int": HUGE_DIGITS,
    "huge-negative-int": "-" + HUGE_DIGITS,
    "huge-float": "1e999",
    "huge-negative-float": "-1e999",
    "long-float": HUGE_DIGITS + ".5",
    "nan": "NaN",
    "infinity": "Infinity",
    "negative-infinity": "-Infinity",
    "nested-200": "[" * 200 + "]" * 200,
    "nested-900": "[" * 900 + "]" * 900,
    "nested-100000": "[" * 100_000 + "]" * 100_000,
}
# JSON, but extreme: read, and refused by each field's own type or bounds (a template may hold them: it is filled).
EXTREME_VALUES = {
    "long-int-within-the-limit": "9" * 4000,
    "largest-double": "1.7976931348623157e308",
    "underflowing-float": "1e-400",
}
BAD_QUERY_VALUES = {
    "superscript-two": "²",
    "arabic-indic-three": "٣",
    "fullwidth-five": "５",
    "negative": "-1",
    "huge": "9" * 5000,
    "empty": "",
    "blank": " ",
    "float": "1.5",
    "nul": "1\x00",
}
PLACEHOLDER = "__bad_value__"
BOUNDARY = "----snapscribe-sweep-boundary"
SAMPLE = (PROJECT_ROOT / "samples" / "invoice.png").read_bytes()


def _id(route: Route) -> str:
    return route.name


def event_for(
    route: Route, *, body: str | None = None, query: dict[str, str] | None = None, base64_body: bool = False
) -> dict[str, Any]:
    """An API Gateway event for the route (the committed events' headers and context), path parameters filled."""
    event = load_event("list_jobs")
    path = route.path
    parameters = {}
    for name in ("uuid", "id", "jobId"):
        if "{" + name + "}" in path:
            parameters[name] = "0f8e2c55-6d1b-4d0a-9a53-3c1f4b2a7e10"
            path = path.replace("{" + name + "}", parameters[name])
    event.update(
        resource=route.path,
        path=path,
        httpMethod=route.method.upper(),
        pathParameters=parameters or None,
        body=body,
        isBase64Encoded=base64_body,
        queryStringParameters=query,
        multiValueQueryStringParameters={name: [value] for name, value in query.items()} if query else None,
    )
    event["requestContext"].update(resourcePath=route.path, httpMethod=route.method.upper(), path=path)
    if body is not None:
        content_type = f"multipart/form-data; boundary={BOUNDARY}" if route.form else "application/json"
        event["headers"]["Content-Type"] = content_type
        event["multiValueHeaders"]["Content-Type"] = [content_type]
    return event


def form_body(prompt: str, image: bytes = SAMPLE) -> str:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in {"model": "local", "prompt": prompt}.items()
    ]
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="invoice.png"\r\n'
        "Content-Type: image/png\r\n\r\n".encode()
        + image
        + b"\r\n"
    )
    return base64.b64encode(b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()).decode()


def valid_body(route: Route) -> tuple[str, bool]:
    """A body the route accepts (its documented example; the committed event's for the form), and whether it is
    base64-encoded."""
    if route.form:
        return form_body('Extract: {"invoice_no": ""}'), True
    if route.name == "extract_image":
        return str(load_event("extract_image_base64")["body"]), False
    assert route.example is not None, f"{route.name}: a JSON route documents an example body"
    return json.dumps(route.example), False


def bodies_with(route: Route, token: str, *, in_template: bool = True) -> Iterator[tuple[str, str]]:
    """(where, body): the raw token as the whole body, as a member of an object, and in each of the example's
    fields (and, where a prompt's JSON template is read, inside the template)."""
    yield "body", token
    yield "member", '{"bad": ' + token + "}"
    example = json.loads(valid_body(route)[0])
    for field in example:
        document = copy.deepcopy(example)
        document[field] = PLACEHOLDER
        yield field, json.dumps(document).replace(json.dumps(PLACEHOLDER), token)
    if "prompt" in example and in_template:
        document = {**example, "jsonMode": True, "prompt": 'Extract: {"total": ' + PLACEHOLDER + "}"}
        if len(token) < 10_000:  # the template's own nesting limit is tested with the route
            yield "prompt-template", json.dumps(document).replace(PLACEHOLDER, token.replace('"', '\\"'))


def assert_refused_in_its_shape(route: Route, result: dict[str, Any], what: str) -> None:
    """A 400 in the route's error shape: base_resp 100001 for structured extraction, {"error": ...} elsewhere."""
    status = result["statusCode"]
    assert status == 400, f"{route.name}, {what}: {status} {result['body'][:300]}"
    body = body_of(result)
    route.errors.model_for(status).model_validate(body, strict=True)
    if route.api == "structured-extraction":
        assert body["base_resp"]["status_code"] == MISSING_REQUIRED, body
    else:
        assert set(body) == {"error"}, body
        assert body["error"], body
        assert "set_int_max_str_digits" not in body["error"], body  # not Python's own message


def _balance() -> int:
    return int(from_environment().accounts.store.get_balance("events"))


@pytest.fixture
def sweeper(accounts: Any) -> str:
    """The committed events' key, with credits and a rate limit out of the sweep's way (one test sends ~100)."""
    _key, record = accounts.create_key(user_id="events", credits=100_000, rate_limit=100_000, raw_key=EVENTS_KEY)
    return str(record.user_id)


def _function(route: Route) -> str:
    return FUNCTION_OF[(route.method, route.path)]


def test_the_sweep_covers_every_json_route_and_every_query_parameter() -> None:
    assert {route.name for route in JSON_ROUTES} == {
        "extract_image",
        "create_upload_url",
        "ocr_by_key",
        "extract_batch",
        "extract_batch_by_get",
    }
    assert {route.name for route in FORM_ROUTES} == {"extract_structured"}
    assert {(route.name, name) for route, name in QUERIED} == {
        ("extract_image", "fields"),
        ("extract_structured", "fields"),
        ("list_jobs", "limit"),
        ("list_jobs", "cursor"),
    }
    for route in ROUTES:
        assert (route.method, route.path) in FUNCTION_OF, route.name


@pytest.mark.parametrize("route", JSON_ROUTES, ids=_id)
def test_a_json_body_with_numbers_or_nesting_json_has_not_is_a_400_in_the_routes_shape(
    sweeper: str, route: Route
) -> None:
    before = _balance()
    for value, token in BAD_VALUES.items():
        for where, body in bodies_with(route, token):
            result = invoke(_function(route), event_for(route, body=body))
            assert_refused_in_its_shape(route, result, f"{value} in {where}")
    for value, token in EXTREME_VALUES.items():
        for where, body in bodies_with(route, token, in_template=False):
            result = invoke(_function(route), event_for(route, body=body))
            assert_refused_in_its_shape(route, result, f"{value} in {where}")
    for value in ("huge-int", "nan", "nested-100000"):  # the same bodies base64-encoded (a binary media type)
        body = base64.b64encode(('{"bad": ' + BAD_VALUES[value] + "}").encode()).decode()
        result = invoke(_function(route), event_for(route, body=body, base64_body=True))
        assert_refused_in_its_shape(route, result, f"{value}, base64-encoded")
    assert _balance() == before


@pytest.mark.parametrize("route", FORM_ROUTES, ids=_id)
def test_a_forms_prompt_template_with_numbers_json_has_not_is_a_400_in_the_routes_shape(
    sweeper: str, route: Route
) -> None:
    before = _balance()
    for value, token in BAD_VALUES.items():
        if value != "nested-100000":  # the template's own nesting limit is tested with the route
            body = form_body('Extract: {"total": ' + token + ', "invoice_no": ""}')
            result = invoke(_function(route), event_for(route, body=body, base64_body=True))
            assert_refused_in_its_shape(route, result, value)
    assert _balance() == before


@pytest.mark.parametrize(("route", "parameter"), QUERIED, ids=lambda item: getattr(item, "name", item))
def test_a_query_parameter_with_a_value_it_does_not_take_is_a_400_in_the_routes_shape(
    sweeper: str, route: Route, parameter: str
) -> None:
    before = _balance()
    body, encoded = valid_body(route) if route.body is not None else (None, False)
    for value, text in BAD_QUERY_VALUES.items():
        event = event_for(route, body=body, base64_body=encoded, query={parameter: text})
        assert_refused_in_its_shape(route, invoke(_function(route), event), value)
    assert _balance() == before
    # The requests were good but for that value: with a good one they are served.
    good = {"fields": "true", "limit": "5", "cursor": None}[parameter]
    query = {parameter: good} if good is not None else None
    result = invoke(_function(route), event_for(route, body=body, base64_body=encoded, query=query))
    assert result["statusCode"] == route.status, result["body"][:300]

"""What a route reads from the request: who calls (set by the middleware), and its body as a typed model."""

from __future__ import annotations

import base64
import ipaddress
import re
import time
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from pydantic import BaseModel

from snapscribe.caller import Caller
from snapscribe.contracts.parsing import parse_json_body
from snapscribe.errors import InvalidRequest
from snapscribe.web.multipart import FormParts, read_form

if TYPE_CHECKING:
    from snapscribe.services import Services

ModelT = TypeVar("ModelT", bound=BaseModel)
MAX_SOURCE_LENGTH = 64


def _event(router: BaseRouter) -> APIGatewayProxyEvent:
    event = router.current_event
    assert isinstance(event, APIGatewayProxyEvent)
    return event


def services_of(router: BaseRouter) -> Services:
    """The function's Services, which its handler put in the resolver's context for this request."""
    services: Services = router.context["services"]
    return services


def route_label(router: BaseRouter) -> str:
    """The route as the usage ledger and the logs name it: "POST /api/ocr/process", "GET /api/files/{uuid}"."""
    event = _event(router)
    return f"{event.http_method} {event.resource or event.path}"


def _stage_prefix(event: APIGatewayProxyEvent) -> str:
    """The path before the route's own: "/prod" on an API Gateway URL, "" behind a custom domain or locally."""
    full = str(event["requestContext"].get("path") or "")
    return full[: -len(event.path)] if event.path and full.endswith(event.path) else ""


_DOMAIN = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)+(?::\d{1,5})?|\[[0-9A-Fa-f:.]+\](?::\d{1,5})?"
)


def _is_loopback(domain: str) -> bool:
    host = urlsplit(f"//{domain}").hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def public_base(router: BaseRouter) -> str:
    """The URL the API's paths are relative to, as the service is published: the configured public base URL
    (SNAPSCRIBE_PUBLIC_BASE_URL), else the gateway's own domain and stage from the event's requestContext, which API
    Gateway sets (https; http for a loopback gateway: the local stack's, `sam local`'s). Never the client's Host or
    X-Forwarded-* headers, which anyone sending the request chooses."""
    configured = services_of(router).settings.public_base_url
    if configured:
        return configured
    event = _event(router)
    domain = str(event["requestContext"].get("domainName") or "")
    if not _DOMAIN.fullmatch(domain):
        domain = "localhost"
    scheme = "http" if _is_loopback(domain) else "https"
    return f"{scheme}://{domain}{_stage_prefix(event)}"


def job_url(router: BaseRouter, job_id: str) -> str:
    """Where a job is followed (its statusUrl): GET /api/v1/jobs/{jobId} under the public base."""
    return f"{public_base(router)}/api/v1/jobs/{job_id}"


def request_id(router: BaseRouter) -> str:
    request_id = _event(router).request_context.request_id
    if request_id:
        return request_id
    context = router.lambda_context
    return context.aws_request_id if context is not None else "local"


def caller(router: BaseRouter) -> Caller:
    """The authenticated caller (the `authenticate` middleware put its principal in the context), and when
    this invocation will be stopped."""
    context = router.lambda_context
    ends_at = time.time() + context.get_remaining_time_in_millis() / 1000 if context is not None else None
    return Caller(
        principal=router.context["principal"],
        request_id=request_id(router),
        route=route_label(router),
        ends_at=ends_at,
        source=request_source(router),
    )


FLAGS = {"true": True, "1": True, "false": False, "0": False}


def whole_number_query(router: BaseRouter, name: str, *, default: int, minimum: int, maximum: int) -> int:
    """An optional whole-number query parameter: ASCII digits only (not "²" or "٣", which str.isdigit takes too),
    from `minimum` to `maximum`; absent, `default`; anything else (empty, negative, huge) an InvalidRequest."""
    raw = _event(router).get_query_string_value(name)
    if raw is None:
        return default
    # Digits first, then their count: int() is never asked for a number past its string limit.
    if (
        not (raw.isascii() and raw.isdigit())
        or len(raw.lstrip("0")) > len(str(maximum))
        or not (minimum <= int(raw) <= maximum)
    ):
        raise InvalidRequest(f"Invalid query parameter {name}: use a whole number from {minimum} to {maximum}")
    return int(raw)


def wants_fields(router: BaseRouter) -> bool:
    """The optional `fields` query flag of the template-filling APIs: true adds each field's confidence and box
    to the answer, whose contract body is otherwise unchanged."""
    raw = _event(router).get_query_string_value("fields")
    if raw is None:
        return False
    if raw.strip().lower() not in FLAGS:
        raise InvalidRequest("Invalid query parameter fields: use true or false")
    return FLAGS[raw.strip().lower()]


def prefers_async(router: BaseRouter) -> bool:
    """`Prefer: respond-async` (RFC 7240), among other preferences or parameters, in any case."""
    for value in _event(router).headers.get("prefer", "").split(","):
        name = value.split(";", 1)[0].split("=", 1)[0].strip().lower()
        if name == "respond-async":
            return True
    return False


def callback_url_header(router: BaseRouter) -> str | None:
    """The `Callback-Url` header as sent, trimmed (work.callback_url checks it may be reached)."""
    value = _event(router).headers.get("callback-url")
    return None if value is None else value.strip()


def request_source(router: BaseRouter) -> str | None:
    """The optional Request-Source header (the extract-image contract's, e.g. "API"): printable, at most 64
    characters, kept with the request in the usage ledger."""
    raw = _event(router).headers.get("request-source")  # Powertools headers are case-insensitive
    if not raw:
        return None
    printable = "".join(char for char in raw if char.isprintable()).strip()
    return printable[:MAX_SOURCE_LENGTH] or None


def text_body(router: BaseRouter) -> str | None:
    """The body as text. A JSON route whose body arrived base64-encoded gets it decoded; bytes that are not
    UTF-8 become U+FFFD and fail JSON parsing with a 400, never a 500."""
    event = _event(router)
    if event.is_base64_encoded and event.body:
        return base64.b64decode(event.body).decode("utf-8", errors="replace")
    return event.body


def json_body(router: BaseRouter, model: type[ModelT]) -> ModelT:
    """The JSON body as `model`, or InvalidRequest/MissingField naming the field."""
    return parse_json_body(text_body(router), model)


def form_body(router: BaseRouter, *, max_file_bytes: int) -> FormParts:
    """A multipart body (a binary media type of the API, so it arrives base64-encoded), parsed as sent."""
    event = _event(router)
    raw = base64.b64decode(event.body or "") if event.is_base64_encoded else (event.body or "").encode("utf-8")
    return read_form(raw, event.headers.get("content-type") or "", max_file_bytes=max_file_bytes)

"""What runs around every API route, declared at the route: `middlewares=account_checks(ERRORS)`.

In order: answer errors in the API's own shape (outermost, so it also answers the checks below) ->
authenticate the key (401) -> count the request in the key's rate window (429) -> for a POST with an
`Idempotency-Key`, run the route through Powertools idempotency -> the route. Typed errors become the
API's error shape through its table; anything else is logged with its stack and answered with the API's
internal error, never with details of the failure. Every answer after authentication carries the rate
headers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.metrics import MetricUnit

from snapscribe.accounts.keys import key_from_headers
from snapscribe.accounts.models import Principal
from snapscribe.contracts.errors import ErrorTable
from snapscribe.errors import IdempotencyKeyReused, InvalidRequest, RequestInProgress, SnapscribeError
from snapscribe.web.requests import callback_url_header, prefers_async, route_label, services_of
from snapscribe.web.responses import json_response, rate_headers


@cache
def _logger() -> Logger:
    """The handler's logger's child, made at the first request: made at import, it takes the service name the
    environment has then, and a module imported before the handler sets it (by a tool, or a test's collection)
    would log under another logger."""
    return Logger(child=True)


@cache
def _metrics() -> Metrics:
    """Shares its metric set with the handler's Metrics, which flushes it. Made at the first request, as the logger
    is: made at import (a test's collection, a tool), it has no namespace, and its flush at 100 values fails."""
    return Metrics()


Middleware = Callable[[APIGatewayRestResolver, NextMiddleware], Response[Any]]
IDEMPOTENCY_HEADER = "idempotency-key"


def account_checks(errors: ErrorTable, *, idempotent: bool = False) -> list[Middleware]:
    """The middleware of an authenticated route answering in `errors`' shape; `idempotent` for POST routes
    whose retries must not charge twice."""
    chain: list[Middleware] = [answer_errors_in(errors), authenticate, count_in_rate_window]
    if idempotent:
        chain.append(run_idempotently)
    return chain


def _who(app: APIGatewayRestResolver) -> dict[str, str]:
    # Passed with each record, not appended to the logger: a child logger whose parent has another
    # service name cannot append keys, and logging must never fail a request.
    principal: Principal | None = app.context.get("principal")
    return {"user_id": principal.user_id, "key_id": principal.key_id} if principal else {}


def answer_errors_in(errors: ErrorTable) -> Middleware:
    def answer_errors(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
        route = route_label(app)
        try:
            response = next_middleware(app)
        except SnapscribeError as error:
            answer = errors.respond(error)
            _logger().info(
                "request refused",
                extra={
                    **_who(app),
                    "route": route,
                    "status": answer.status,
                    "error_type": type(error).__name__,
                    "reason": error.message,
                },
            )
            response = json_response(answer.status, answer.body, answer.headers)
        except Exception:
            _logger().exception("request failed", extra={**_who(app), "route": route})
            answer = errors.respond(RuntimeError())
            response = json_response(answer.status, answer.body)
        else:
            _logger().info("request served", extra={**_who(app), "route": route, "status": response.status_code})
        # The error's own headers (a 429's) win over the window's.
        response.headers = {**rate_headers(app.context.get("rate")), **response.headers}
        _metrics().add_metric(name=f"Responses{response.status_code // 100}xx", unit=MetricUnit.Count, value=1)
        return response

    return answer_errors


def authenticate(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    principal = services_of(app).accounts.authenticate(key_from_headers(dict(app.current_event.headers)))
    app.context["principal"] = principal
    return next_middleware(app)


def count_in_rate_window(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    app.context["rate"] = services_of(app).accounts.check_rate(app.context["principal"])
    return next_middleware(app)


def _idempotency_key(headers: Mapping[str, str]) -> str | None:
    value = headers.get(IDEMPOTENCY_HEADER)
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > 255 or not value.isprintable():
        raise InvalidRequest("Idempotency-Key must be 1-255 printable characters")
    return value


def request_fingerprint(app: APIGatewayRestResolver) -> str:
    """What a retry with the same Idempotency-Key must repeat: the body, and the headers that change what is done or
    answered: whether it runs as a job (Prefer: respond-async; other preferences change nothing) and the job's
    Callback-Url. A request with neither has the fingerprint of its body alone, as before they counted."""
    fingerprint = hashlib.sha256((app.current_event.body or "").encode("utf-8"))
    as_job, callback = prefers_async(app), callback_url_header(app)
    if as_job or callback is not None:
        fingerprint.update(b"\0" + json.dumps({"respondAsync": as_job, "callbackUrl": callback}).encode("utf-8"))
    return fingerprint.hexdigest()


def run_idempotently(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """A retry with the same Idempotency-Key (and the same request: its body, Prefer and Callback-Url) gets the first
    answer, and is not charged again; one with another request is refused (IdempotencyKeyReused, as a changed body
    always was). Failures are not remembered: their record is deleted, so a retry runs again."""
    key = _idempotency_key(app.current_event.headers)
    if key is None:
        return next_middleware(app)
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    config = IdempotencyConfig(
        # Scoped to the caller and the route: another user's identical key is another request.
        event_key_jmespath="[user, route, key]",
        payload_validation_jmespath="body",
        expires_after_seconds=services_of(app).settings.idempotency_expiry_seconds,
        raise_on_no_idempotency_key=True,
    )
    if app.lambda_context is not None:
        config.register_lambda_context(app.lambda_context)

    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="request", config=config, persistence_store=services_of(app).idempotency_store
    )
    def run(request: dict[str, str]) -> dict[str, Any]:
        response = next_middleware(app)
        return {"status": response.status_code, "body": response.body, "headers": dict(response.headers)}

    principal: Principal = app.context["principal"]
    request = {"user": principal.user_id, "route": route_label(app), "key": key, "body": request_fingerprint(app)}
    try:
        stored = run(request=request)
    except IdempotencyValidationError as error:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request (its body, Prefer or Callback-Url)"
        ) from error
    except IdempotencyAlreadyInProgressError as error:
        raise RequestInProgress("A request with this Idempotency-Key is still in progress") from error
    return Response(
        status_code=int(stored["status"]),
        content_type="application/json",
        body=stored["body"],
        headers=dict(stored["headers"]),
    )

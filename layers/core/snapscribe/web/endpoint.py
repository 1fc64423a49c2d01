"""Run an operation behind the account checks every route shares, and answer in the route's contract.

Order: authenticate (401) -> count the request in the key's rate window (429) -> run the operation,
through Powertools idempotency when an `Idempotency-Key` header is sent -> add the rate headers.
Typed errors become the contract's error shape through its table; anything else is logged with its
stack and answered with the contract's internal error, never with details of the failure.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from snapscribe import services
from snapscribe.accounts.keys import key_from_headers
from snapscribe.accounts.models import RateStatus
from snapscribe.config import get_settings
from snapscribe.errors import InvalidRequest, RequestInProgress, SnapscribeError
from snapscribe.web.calls import Call, Outcome
from snapscribe.web.errors import ErrorTable

logger = Logger(child=True)
metrics = Metrics()  # shares its metric set with the handler's Metrics, which flushes it

Operation = Callable[[Call], Outcome]
IDEMPOTENCY_HEADER = "idempotency-key"


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response[str]:
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(body, ensure_ascii=False),
        headers=dict(headers or {}),
    )


def rate_headers(rate: RateStatus | None) -> dict[str, str]:
    if rate is None:
        return {}
    return {"X-RateLimit-Limit": str(rate.limit), "X-RateLimit-Remaining": str(rate.remaining)}


def _idempotency_key(headers: Mapping[str, str]) -> str | None:
    value = headers.get(IDEMPOTENCY_HEADER)
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > 255 or not value.isprintable():
        raise InvalidRequest("Idempotency-Key must be 1-255 printable characters")
    return value


def _run_idempotently(call: Call, key: str, operation: Operation, context: LambdaContext | None) -> Outcome:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    config = IdempotencyConfig(
        # Scoped to the caller and the route: another user's identical key is another request.
        event_key_jmespath="[user, route, key]",
        payload_validation_jmespath="body",
        expires_after_seconds=get_settings().idempotency_expiry_seconds,
        raise_on_no_idempotency_key=True,
    )
    if context is not None:
        config.register_lambda_context(context)

    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="request", config=config, persistence_store=services.idempotency_store()
    )
    def run(request: dict[str, str]) -> dict[str, Any]:
        outcome = operation(call)
        return {"status": outcome.status, "body": outcome.body}

    body_hash = hashlib.sha256((call.body or "").encode("utf-8")).hexdigest()
    try:
        stored = run(request={"user": call.principal.user_id, "route": call.route, "key": key, "body": body_hash})
    except IdempotencyValidationError as error:
        raise InvalidRequest("This Idempotency-Key was already used with a different request body") from error
    except IdempotencyAlreadyInProgressError as error:
        raise RequestInProgress("A request with this Idempotency-Key is still in progress") from error
    return Outcome(int(stored["status"]), stored["body"])


def run_endpoint(
    *,
    headers: Mapping[str, str],
    body: str | None,
    method: str,
    request_id: str,
    route: str,
    errors: ErrorTable,
    operation: Operation,
    context: LambdaContext | None = None,
) -> Response[str]:
    lowered = {name.lower(): value for name, value in headers.items() if isinstance(value, str)}
    rate: RateStatus | None = None
    # Passed with each record, not appended to the logger: a child logger whose parent has another
    # service name cannot append keys, and logging must never fail a request.
    who: dict[str, str] = {}
    try:
        accounts = services.account_service()
        principal = accounts.authenticate(key_from_headers(lowered))
        who = {"user_id": principal.user_id, "key_id": principal.key_id}
        rate = accounts.check_rate(principal)
        call = Call(principal=principal, request_id=request_id, route=route, body=body, headers=lowered)
        idempotency_key = _idempotency_key(lowered) if method.upper() == "POST" else None
        outcome = _run_idempotently(call, idempotency_key, operation, context) if idempotency_key else operation(call)
    except SnapscribeError as error:
        answer = errors.respond(error)
        metrics.add_metric(name=f"Responses{answer.status // 100}xx", unit=MetricUnit.Count, value=1)
        logger.info(
            "request refused",
            extra={
                **who,
                "route": route,
                "status": answer.status,
                "error_type": type(error).__name__,
                "reason": error.message,
            },
        )
        return json_response(answer.status, answer.body, {**rate_headers(rate), **answer.headers})
    except Exception:
        logger.exception("request failed", extra={**who, "route": route})
        answer = errors.respond(RuntimeError())
        metrics.add_metric(name="Responses5xx", unit=MetricUnit.Count, value=1)
        return json_response(answer.status, answer.body, rate_headers(rate))
    metrics.add_metric(name=f"Responses{outcome.status // 100}xx", unit=MetricUnit.Count, value=1)
    logger.info("request served", extra={**who, "route": route, "status": outcome.status})
    return json_response(outcome.status, outcome.body, rate_headers(rate))

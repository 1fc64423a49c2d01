"""Lambda handlers: Powertools logging, metrics and tracing around them, and a function's API app (the REST
resolver with the routers it serves)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from snapscribe.config import get_settings

if TYPE_CHECKING:  # the event handler is imported by the API functions only (rest_api), not by the others
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver
    from aws_lambda_powertools.event_handler.router import APIGatewayRouter

Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def instrumented(handler: Handler, *, correlation_id_path: str | None = None) -> Handler:
    """The handler with the invocation's context in every log record, its metrics flushed, and traced when
    tracing is on (the X-Ray SDK, about 80 ms of import, is loaded by the first traced invocation only)."""
    logger, metrics = Logger(), Metrics()
    traced: list[Handler] = []

    @logger.inject_lambda_context(correlation_id_path=correlation_id_path)
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        if not tracing_on():
            return handler(event, context)
        if not traced:
            from aws_lambda_powertools import Tracer

            traced.append(Tracer().capture_lambda_handler(handler))
        return traced[0](event, context)

    return lambda_handler


def tracing_on() -> bool:
    """X-Ray is on unless Powertools' own switch turns it off (the local stack and the tests do)."""
    return not get_settings().trace_disabled


def rest_api(*routers: APIGatewayRouter) -> APIGatewayRestResolver:
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver

    app = APIGatewayRestResolver()
    for router in routers:
        app.include_router(router)
    return app


def lambda_handler_for(app: APIGatewayRestResolver) -> Handler:
    return instrumented(app.resolve, correlation_id_path=correlation_paths.API_GATEWAY_REST)

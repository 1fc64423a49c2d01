"""Lambda handlers: Powertools logging, metrics and tracing around them, and a function's API app (the REST
resolver with the routers it serves), handed the function's Services (its composition root) at every request."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

if TYPE_CHECKING:  # the event handler is imported by the API functions only (rest_api), not by the others
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver
    from aws_lambda_powertools.event_handler.router import APIGatewayRouter

    from snapscribe.services import Services

Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def instrumented(
    handler: Handler, services: Callable[[], Services], *, correlation_id_path: str | None = None
) -> Handler:
    """The handler with the invocation's context in every log record, its metrics flushed, and traced when
    tracing is on (the X-Ray SDK, about 80 ms of import, is loaded by the first traced invocation only)."""
    logger, metrics = Logger(), Metrics()
    traced: list[Handler] = []

    @logger.inject_lambda_context(correlation_id_path=correlation_id_path)
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        if services().settings.trace_disabled:
            return handler(event, context)
        if not traced:
            from aws_lambda_powertools import Tracer

            traced.append(Tracer().capture_lambda_handler(handler))
        return traced[0](event, context)

    return lambda_handler


def rest_api(*routers: APIGatewayRouter) -> APIGatewayRestResolver:
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver

    app = APIGatewayRestResolver()
    for router in routers:
        app.include_router(router)
    return app


def lambda_handler_for(app: APIGatewayRestResolver, services: Callable[[], Services]) -> Handler:
    """The API function's handler: each request resolved with the function's Services in the resolver's context
    (routes and middleware read them with `web.requests.services_of`)."""

    def resolve(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        app.append_context(services=services())
        return app.resolve(event, context)

    return instrumented(resolve, services, correlation_id_path=correlation_paths.API_GATEWAY_REST)

"""Lambda handlers: Powertools logging, metrics and tracing around them, and a function's API app (the REST
resolver with the routers it serves)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def instrumented(handler: Handler, *, correlation_id_path: str | None = None) -> Handler:
    """The handler with the invocation's context in every log record, its metrics flushed, and traced."""
    logger, metrics, tracer = Logger(), Metrics(), Tracer()

    @logger.inject_lambda_context(correlation_id_path=correlation_id_path)
    @metrics.log_metrics
    @tracer.capture_lambda_handler
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return handler(event, context)

    return lambda_handler


def rest_api(*routers: APIGatewayRouter) -> APIGatewayRestResolver:
    app = APIGatewayRestResolver()
    for router in routers:
        app.include_router(router)
    return app


def lambda_handler_for(app: APIGatewayRestResolver) -> Handler:
    return instrumented(app.resolve, correlation_id_path=correlation_paths.API_GATEWAY_REST)

"""A function's API app (the Powertools REST resolver with the routers it serves) and its Lambda handler."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def rest_api(*routers: APIGatewayRouter) -> APIGatewayRestResolver:
    app = APIGatewayRestResolver()
    for router in routers:
        app.include_router(router)
    return app


def lambda_handler_for(app: APIGatewayRestResolver) -> Handler:
    logger, metrics, tracer = Logger(), Metrics(), Tracer()

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    @metrics.log_metrics
    @tracer.capture_lambda_handler
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return app.resolve(event, context)

    return lambda_handler

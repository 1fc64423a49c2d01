"""ExtractImageFunction: POST/GET /api/v1/extract-image (seed 001), POST /v1/ocr/image/extract (seed 002)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from snapscribe.web import routes

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayRestResolver()


@app.post("/api/v1/extract-image")
def post_extract_image() -> Response[str]:
    return routes.extract_image(app.current_event, app.lambda_context)


@app.get("/api/v1/extract-image")
def get_extract_image() -> Response[str]:
    return routes.extract_image_formats(app.current_event, app.lambda_context)


@app.post("/v1/ocr/image/extract")
def post_ocr_image_extract() -> Response[str]:
    return routes.ocr_image_extract(app.current_event, app.lambda_context)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

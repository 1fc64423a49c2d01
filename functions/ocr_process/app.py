"""OcrProcessFunction (container image): OCR by key and results (seed 003), batch extraction (seed 004)."""

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


@app.post("/api/ocr/process")
def post_process() -> Response[str]:
    return routes.process_upload(app.current_event, app.lambda_context)


@app.get("/api/ocr/results/<result_id>")
def get_result(result_id: str) -> Response[str]:
    return routes.ocr_result(app.current_event, app.lambda_context, result_id)


@app.post("/v1/image-extraction")
@app.get("/v1/image-extraction")  # the seed documents GET with a JSON body
def start_extraction() -> Response[str]:
    return routes.start_extraction(app.current_event, app.lambda_context)


@app.get("/v1/image-extraction/<extraction_id>")
def get_extraction(extraction_id: str) -> Response[str]:
    return routes.get_extraction(app.current_event, app.lambda_context, extraction_id)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

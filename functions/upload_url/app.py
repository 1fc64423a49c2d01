"""UploadUrlFunction: POST /api/files/upload-url and DELETE /api/files/{uuid} (seed 003)."""

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


@app.post("/api/files/upload-url")
def post_upload_url() -> Response[str]:
    return routes.upload_url(app.current_event, app.lambda_context)


@app.delete("/api/files/<upload_id>")
def delete_file(upload_id: str) -> Response[str]:
    return routes.delete_upload(app.current_event, app.lambda_context, upload_id)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

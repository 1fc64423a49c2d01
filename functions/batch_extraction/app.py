"""BatchExtractionFunction: the batch-extraction API (snapscribe.routes.batch_extraction); container image."""

from __future__ import annotations

from snapscribe.function_settings import ChargingApiSettings
from snapscribe.routes import batch_extraction
from snapscribe.services import composition
from snapscribe.web.handler import lambda_handler_for, rest_api

app = rest_api(batch_extraction.router)
lambda_handler = lambda_handler_for(app, composition(ChargingApiSettings))

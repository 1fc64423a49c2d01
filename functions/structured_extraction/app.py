"""StructuredExtractionFunction: the structured-extraction API (snapscribe.routes.structured_extraction)."""

from __future__ import annotations

from snapscribe.function_settings import ChargingApiSettings
from snapscribe.routes import structured_extraction
from snapscribe.services import composition
from snapscribe.web.handler import lambda_handler_for, rest_api

app = rest_api(structured_extraction.router)
lambda_handler = lambda_handler_for(app, composition(ChargingApiSettings))

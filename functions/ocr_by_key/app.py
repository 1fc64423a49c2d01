"""OcrByKeyFunction: the OCR-by-key API (snapscribe.routes.ocr_by_key); a container image with the local engine."""

from __future__ import annotations

from snapscribe.function_settings import ChargingApiSettings
from snapscribe.routes import ocr_by_key
from snapscribe.services import composition
from snapscribe.web.handler import lambda_handler_for, rest_api

app = rest_api(ocr_by_key.router)
lambda_handler = lambda_handler_for(app, composition(ChargingApiSettings))

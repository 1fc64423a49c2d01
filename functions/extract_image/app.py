"""ExtractImageFunction: the extract-image API (snapscribe.routes.extract_image)."""

from __future__ import annotations

from snapscribe.function_settings import ChargingApiSettings
from snapscribe.routes import extract_image
from snapscribe.services import composition
from snapscribe.web.handler import lambda_handler_for, rest_api

app = rest_api(extract_image.router)
lambda_handler = lambda_handler_for(app, composition(ChargingApiSettings))

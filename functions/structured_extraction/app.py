"""StructuredExtractionFunction: the structured-extraction API (snapscribe.routes.structured_extraction)."""

from __future__ import annotations

from snapscribe.routes import structured_extraction
from snapscribe.web.handler import lambda_handler_for, rest_api

app = rest_api(structured_extraction.router)
lambda_handler = lambda_handler_for(app)

"""BatchExtractionFunction: the batch-extraction API (snapscribe.routes.batch_extraction); container image."""

from __future__ import annotations

from snapscribe.routes import batch_extraction
from snapscribe.web.handler import lambda_handler_for, rest_api

app = rest_api(batch_extraction.router)
lambda_handler = lambda_handler_for(app)

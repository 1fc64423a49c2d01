"""ApiDocsFunction: the API's OpenAPI document and Swagger UI (snapscribe.routes.api_docs)."""

from __future__ import annotations

from snapscribe.web.cold_start import collector_paused

with collector_paused():  # the cold start's imports and composition (web/cold_start.py)
    from snapscribe.function_settings import DocsSettings
    from snapscribe.routes import api_docs
    from snapscribe.services import composition
    from snapscribe.web.handler import lambda_handler_for, rest_api

    app = rest_api(api_docs.router)
    lambda_handler = lambda_handler_for(app, composition(DocsSettings))

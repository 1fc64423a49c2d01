"""The API's own description: the OpenAPI document and Swagger UI over it (public: no API key)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from snapscribe.web.errors import DOCS_ERRORS
from snapscribe.web.middleware import answer_errors_in
from snapscribe.web.openapi.document import openapi_document
from snapscribe.web.requests import api_base
from snapscribe.web.responses import json_response

router = APIGatewayRouter()


@router.get("/openapi.json", middlewares=[answer_errors_in(DOCS_ERRORS)])
def get_openapi() -> Response[str]:
    return json_response(200, openapi_document(api_base(router)))


@router.get("/docs", middlewares=[answer_errors_in(DOCS_ERRORS)])
def get_api_docs() -> Response[str]:
    return Response(status_code=200, content_type="text/html; charset=utf-8", body=swagger_page(api_base(router)))


def swagger_page(server: str) -> str:
    """Swagger UI with its script and style inline (Powertools carries them), so the page works offline."""
    from aws_lambda_powertools.event_handler.openapi.swagger_ui.html import generate_swagger_html

    spec = json.dumps(openapi_document(server)).replace("</", "<\\/")  # no </script> inside the page's script
    script, style = _swagger_assets()
    # The key typed into "Authorize" is not kept in the browser's storage once the page is closed.
    return generate_swagger_html(spec, script, style, "", None, persist_authorization=False)


@cache
def _swagger_assets() -> tuple[str, str]:
    from aws_lambda_powertools.event_handler.openapi import swagger_ui

    folder = Path(swagger_ui.__file__).parent
    return (
        (folder / "swagger-ui-bundle.min.js").read_text(encoding="utf-8"),
        (folder / "swagger-ui.min.css").read_text(encoding="utf-8"),
    )

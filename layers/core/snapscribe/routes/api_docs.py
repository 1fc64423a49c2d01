"""The API's own description: the OpenAPI document and Swagger UI over it (public: no API key). The document is
built from every API's route declarations, in this order (the document's tags and paths follow it)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import Response

from snapscribe.contracts.errors import DOCS_ERRORS
from snapscribe.routes import (
    account,
    batch_extraction,
    extract_image,
    file_upload,
    jobs,
    ocr_by_key,
    structured_extraction,
)
from snapscribe.web.openapi.document import LOCAL_SERVER, openapi_document
from snapscribe.web.requests import public_base
from snapscribe.web.responses import json_response
from snapscribe.web.routing import Api

api = Api("docs", "This description of the API", DOCS_ERRORS, public=True)
router = api.router
APIS: tuple[Api, ...] = (
    extract_image.api,
    structured_extraction.api,
    file_upload.api,
    ocr_by_key.api,
    batch_extraction.api,
    jobs.api,
    account.api,
    api,
)


def document(server: str = LOCAL_SERVER) -> dict[str, Any]:
    """The whole OpenAPI document, with `server` as the base URL clients call (the committed copy, docs/openapi.json,
    names the local stack's)."""
    return openapi_document(APIS, server)


@api.route("get", "/openapi.json", summary="This document", answer=None)
def get_openapi() -> Response[str]:
    return json_response(200, document(public_base(router)))


@api.route("get", "/docs", summary="This document in Swagger UI", answer=None, content_type="text/html")
def get_api_docs() -> Response[str]:
    return Response(status_code=200, content_type="text/html; charset=utf-8", body=swagger_page(public_base(router)))


def swagger_page(server: str) -> str:
    """Swagger UI with its script and style inline (Powertools carries them), so the page works offline."""
    from aws_lambda_powertools.event_handler.openapi.swagger_ui.html import generate_swagger_html

    spec = json.dumps(document(server)).replace("</", "<\\/")  # no </script> inside the page's script
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

"""The OpenAPI description of every route: `document.openapi_document()`."""

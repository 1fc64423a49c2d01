"""One module per API: its `Api` (tag, error table, router) and each route declared once, whole: method, path,
models, error statuses, OpenAPI text, and what it calls (web/routing.py). A function's handler
(functions/<name>/app.py) includes the routers it serves and composes the Services they use."""

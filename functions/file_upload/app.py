"""FileUploadFunction: the file-upload API (snapscribe.routes.file_upload)."""

from __future__ import annotations

from snapscribe.routes import file_upload
from snapscribe.web.handler import lambda_handler_for, rest_api

app = rest_api(file_upload.router)
lambda_handler = lambda_handler_for(app)

"""FileUploadFunction: the file-upload API (snapscribe.routes.file_upload)."""

from __future__ import annotations

from snapscribe.web.cold_start import collector_paused

with collector_paused():  # the cold start's imports and composition (web/cold_start.py)
    from snapscribe.function_settings import FileUploadSettings
    from snapscribe.routes import file_upload
    from snapscribe.services import composition
    from snapscribe.web.handler import lambda_handler_for, rest_api

    app = rest_api(file_upload.router)
    lambda_handler = lambda_handler_for(app, composition(FileUploadSettings))

"""JobsFunction: the jobs API (snapscribe.routes.jobs)."""

from __future__ import annotations

from snapscribe.web.cold_start import collector_paused

with collector_paused():  # the cold start's imports and composition (web/cold_start.py)
    from snapscribe.function_settings import JobsApiSettings
    from snapscribe.routes import jobs
    from snapscribe.services import composition
    from snapscribe.web.handler import lambda_handler_for, rest_api

    app = rest_api(jobs.router)
    lambda_handler = lambda_handler_for(app, composition(JobsApiSettings))

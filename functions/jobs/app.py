"""JobsFunction: the jobs API (snapscribe.routes.jobs)."""

from __future__ import annotations

from snapscribe.routes import jobs
from snapscribe.web.handler import lambda_handler_for, rest_api

app = rest_api(jobs.router)
lambda_handler = lambda_handler_for(app)

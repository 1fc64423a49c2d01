"""AccountFunction: the account API (snapscribe.routes.account)."""

from __future__ import annotations

from snapscribe.routes import account
from snapscribe.web.handler import lambda_handler_for, rest_api

app = rest_api(account.router)
lambda_handler = lambda_handler_for(app)

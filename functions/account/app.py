"""AccountFunction: the account API (snapscribe.routes.account)."""

from __future__ import annotations

from snapscribe.web.cold_start import collector_paused

with collector_paused():  # the cold start's imports and composition (web/cold_start.py)
    from snapscribe.function_settings import AccountSettings
    from snapscribe.routes import account
    from snapscribe.services import composition
    from snapscribe.web.handler import lambda_handler_for, rest_api

    app = rest_api(account.router)
    lambda_handler = lambda_handler_for(app, composition(AccountSettings))

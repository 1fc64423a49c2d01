"""The account API: the caller's balance, rate limit, and what recent requests and jobs cost."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from snapscribe.contracts.account import AccountView
from snapscribe.contracts.errors import JOBS_ERRORS
from snapscribe.operations import account as operations
from snapscribe.web.requests import caller, services_of
from snapscribe.web.responses import json_response
from snapscribe.web.routing import Api

api = Api("account", "Balance, rate limit and usage", JOBS_ERRORS)
router = api.router


@api.route(
    "get",
    "/api/v1/account",
    summary="The caller's balance, rate limit and recent usage",
    answer=AccountView,
    error_statuses=(401, 429, 500),
)
def get_account() -> Response[str]:
    result = operations.account(caller(router), router.context["rate"], accounts=services_of(router).accounts)
    return json_response(200, result)

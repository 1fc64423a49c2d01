"""The account API: the caller's balance, rate limit, and what recent requests and jobs cost."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from snapscribe import services
from snapscribe.operations import account as operations
from snapscribe.web.errors import JOBS_ERRORS
from snapscribe.web.middleware import account_checks
from snapscribe.web.requests import caller
from snapscribe.web.responses import json_response

router = APIGatewayRouter()


@router.get("/api/v1/account", middlewares=account_checks(JOBS_ERRORS))
def get_account() -> Response[str]:
    result = operations.account(caller(router), router.context["rate"], accounts=services.account_service())
    return json_response(200, result)

"""JSON answers, and the rate headers every authenticated answer carries."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel

from snapscribe.accounts.models import RateStatus


def json_response(
    status: int, body: BaseModel | Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> Response[str]:
    document = body.model_dump() if isinstance(body, BaseModel) else dict(body)
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(document, ensure_ascii=False),
        headers=dict(headers or {}),
    )


def rate_headers(rate: RateStatus | None) -> dict[str, str]:
    if rate is None:
        return {}
    return {"X-RateLimit-Limit": str(rate.limit), "X-RateLimit-Remaining": str(rate.remaining)}

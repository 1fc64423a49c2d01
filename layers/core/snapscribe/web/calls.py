"""What an operation receives and returns, free of any HTTP framework."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from snapscribe.accounts.models import Principal


@dataclass(frozen=True)
class Call:
    principal: Principal
    request_id: str
    route: str
    body: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    status: int
    body: dict[str, Any]

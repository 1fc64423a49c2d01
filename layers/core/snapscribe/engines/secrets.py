"""API keys of model engines, read from SSM SecureStrings and re-read at most `max_age` seconds after they were
last read: a rotated key is used within five minutes, without a cold start, and SSM is asked once per five
minutes per function instance rather than once per request."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

KEY_MAX_AGE_SECONDS = 300
# What an operator leaves in the parameter before the real key is set: as good as no key.
PLACEHOLDERS = frozenset({"", "unset", "change_me", "none"})


class RotatingSecret:
    """A secret read through `read` and kept `max_age` seconds by `clock` (injected in tests)."""

    def __init__(
        self,
        read: Callable[[], str | None],
        *,
        max_age: float = KEY_MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self.max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._value: str | None = None
        self._read_at: float | None = None

    def __call__(self) -> str | None:
        with self._lock:
            now = self._clock()
            if self._read_at is None or now - self._read_at >= self.max_age:
                value = (self._read() or "").strip()
                self._value = None if value.lower() in PLACEHOLDERS else value
                self._read_at = now
            return self._value


def ssm_secure_string(client: Callable[[], SSMClient], name: str) -> Callable[[], str | None]:
    """A reader of one SecureString: None when the parameter does not exist (not configured yet)."""

    def read() -> str | None:
        ssm = client()
        try:
            return ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"].get("Value")
        except ssm.exceptions.ParameterNotFound:
            return None

    return read

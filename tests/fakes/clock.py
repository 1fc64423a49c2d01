"""A clock the tests set by hand, and the fixed "now" it starts at."""

from __future__ import annotations

NOW = 1_700_000_000.0  # a fixed "now" for clocks


class Clock:
    """A clock a test sets by hand."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

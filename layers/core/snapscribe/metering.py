"""What the service counts for its operator: engine calls, their errors and latency, pages read, and credits
settled. The code that counts depends on the `Meter` port only; `PowertoolsMeter` writes CloudWatch EMF through
Powertools Metrics (namespace POWERTOOLS_METRICS_NAMESPACE, the one dimension service=POWERTOOLS_SERVICE_NAME),
flushed by each handler's `log_metrics` (web/handler.instrumented). The alarms and the dashboard in template.yaml
name these metrics: renaming one here is renaming it there."""

from __future__ import annotations

import threading
from typing import Any, Protocol

ENGINE_CALLS = "EngineCalls"  # one per call of an engine (a page read, an extraction, a whole document)
ENGINE_ERRORS = "EngineErrors"  # one per call that failed on the engine's side (not the client's input)
ENGINE_LATENCY = "EngineLatency"  # milliseconds, per call, failed or not
PAGES_READ = "PagesRead"  # pages or images a successful call read, whether the request is charged for them or not
CREDITS_CHARGED = "CreditsCharged"  # credits a settlement kept (the ledger's cost - refund)
CREDITS_REFUNDED = "CreditsRefunded"  # credits a settlement gave back (the ledger's refund)

METRICS = (ENGINE_CALLS, ENGINE_ERRORS, ENGINE_LATENCY, PAGES_READ, CREDITS_CHARGED, CREDITS_REFUNDED)


class Meter(Protocol):
    def count(self, name: str, value: int = 1) -> None:
        """Add `value` to the count `name` (nothing is recorded for 0)."""
        ...

    def milliseconds(self, name: str, value: float) -> None:
        """Record one duration of `name`."""
        ...


class NoMeter:
    """Counts nothing: what code composed outside a function (the admin CLI, tools, benchmarks) is given."""

    def count(self, name: str, value: int = 1) -> None:
        return None

    def milliseconds(self, name: str, value: float) -> None:
        return None


NO_METER: Meter = NoMeter()


class PowertoolsMeter:
    """Powertools Metrics: every Metrics() shares one metric set per process, which the handler flushes as EMF
    at the end of each invocation. Made on first use, so that a function that never counts pays nothing."""

    def __init__(self) -> None:
        self._metrics: Any = None
        self._units: Any = None
        # A synchronous request runs its items on threads, and Powertools' metric set is a plain dict of lists
        # (a metric's first two values added at once can lose one; its 100th flushes and clears the set).
        self._lock = threading.Lock()

    def _add(self, name: str, unit: str, value: float) -> None:
        with self._lock:
            if self._metrics is None:
                from aws_lambda_powertools import Metrics
                from aws_lambda_powertools.metrics import MetricUnit

                self._metrics, self._units = Metrics(), MetricUnit
            self._metrics.add_metric(name=name, unit=getattr(self._units, unit), value=value)

    def count(self, name: str, value: int = 1) -> None:
        if value:
            self._add(name, "Count", value)

    def milliseconds(self, name: str, value: float) -> None:
        self._add(name, "Milliseconds", value)

"""The Meter port in memory, and the same records read back from the EMF that Powertools prints: what the contract
suite (tests/contracts/test_meter_contract.py) compares, and what the metering tests count."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from typing import Any

Record = tuple[str, str, float]  # (metric, unit, value)


class RecordingMeter:
    """Every count and duration, as the EMF would carry it: a count of 0 is no record (the adapter writes none)."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self._lock = threading.Lock()  # a synchronous request runs its items on threads

    def count(self, name: str, value: int = 1) -> None:
        if value:
            with self._lock:
                self.records.append((name, "Count", float(value)))

    def milliseconds(self, name: str, value: float) -> None:
        with self._lock:
            self.records.append((name, "Milliseconds", float(value)))

    def total(self, name: str) -> float:
        return sum(value for metric, _unit, value in self.records if metric == name)

    def totals(self) -> dict[str, float]:
        """Each metric's sum (a duration's too): what a test compares with the work it ran."""
        return totals(self.records)

    def clear(self) -> None:
        with self._lock:
            self.records.clear()


def totals(records: Iterable[Record]) -> dict[str, float]:
    summed: dict[str, float] = {}
    for metric, _unit, value in records:
        summed[metric] = summed.get(metric, 0.0) + value
    return summed


def emf_blobs(output: str) -> list[dict[str, Any]]:
    """The EMF documents among the lines a function printed (its log records are JSON too, without `_aws`)."""
    blobs = []
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            document = json.loads(line)
            if "CloudWatchMetrics" in document.get("_aws", {}):
                blobs.append(document)
    return blobs


def emf_records(blobs: Iterable[dict[str, Any]]) -> list[Record]:
    """Each metric value the documents carry, with the unit their CloudWatchMetrics directive declares."""
    records: list[Record] = []
    for blob in blobs:
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                values = blob[metric["Name"]]
                for value in values if isinstance(values, list) else [values]:
                    records.append((metric["Name"], metric["Unit"], float(value)))
    return records

"""The Meter port: the in-memory fake (tests/fakes/metering.py) records what the Powertools adapter writes as EMF,
the same metrics, units and values, so that the metering tests on the fake say what CloudWatch would receive."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from aws_lambda_powertools import Metrics

from snapscribe.metering import (
    CREDITS_CHARGED,
    CREDITS_REFUNDED,
    ENGINE_CALLS,
    ENGINE_ERRORS,
    ENGINE_LATENCY,
    PAGES_READ,
    Meter,
    PowertoolsMeter,
)
from tests.fakes import RecordingMeter, emf_blobs, emf_records
from tests.fakes.metering import Record


def some_work(meter: Meter) -> None:
    """What a request that read three pages, one call failing, and settled with a partial refund counts."""
    for latency, pages in ((12.5, 1), (40.0, 2), (3.25, 0)):
        meter.count(ENGINE_CALLS)
        meter.milliseconds(ENGINE_LATENCY, latency)
        meter.count(PAGES_READ, pages)
    meter.count(ENGINE_ERRORS)
    meter.count(CREDITS_CHARGED, 270)
    meter.count(CREDITS_REFUNDED, 30)
    meter.count(CREDITS_REFUNDED, 0)  # a settlement that gave nothing back


@pytest.fixture
def powertools(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Callable[[], list[Record]]]:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "snapscribe")
    flusher = Metrics(namespace="snapscribe-contract")
    flusher.clear_metrics()  # the module's metric set is the process's: start from nothing

    capsys.readouterr()

    def flushed() -> list[Record]:
        """Every record printed since the test began: its flush's, and those Powertools flushed by itself."""
        flusher.flush_metrics()
        return emf_records(emf_blobs(capsys.readouterr().out))

    yield flushed
    flusher.clear_metrics()


def test_the_fake_records_what_the_powertools_adapter_writes(powertools: Callable[[], list[Record]]) -> None:
    fake = RecordingMeter()
    some_work(fake)
    some_work(PowertoolsMeter())
    written = powertools()
    assert sorted(written) == sorted(fake.records)
    assert sum(value for name, _unit, value in written if name == PAGES_READ) == 3  # each a value; CloudWatch sums


def test_a_count_of_nothing_writes_nothing_either_way(powertools: Callable[[], list[Record]]) -> None:
    fake = RecordingMeter()
    for meter in (fake, PowertoolsMeter()):
        meter.count(CREDITS_REFUNDED, 0)
        meter.count(PAGES_READ, 0)
    with pytest.warns(UserWarning, match="No application metrics"):  # Powertools' word for an empty flush
        assert fake.records == powertools() == []


def test_counts_from_many_threads_are_all_written(powertools: Callable[[], list[Record]]) -> None:
    """A synchronous request's items count from their threads; past 100 values Powertools flushes by itself."""
    meter = PowertoolsMeter()

    def pages(_thread: int) -> None:
        for _ in range(260):
            meter.count(PAGES_READ)

    switching = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch as often as they can: what a busy instance may do now and then
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(pages, range(8)))
    finally:
        sys.setswitchinterval(switching)
    assert sum(value for name, _unit, value in powertools() if name == PAGES_READ) == 8 * 260

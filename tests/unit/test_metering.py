"""The operator's metrics (snapscribe/metering.py) counted on an in-memory meter through the real paths: the engine
registry's engines (the local engine reading the sample invoice; Gemini's SDK against a stand-in that fails), the
synchronous run, jobs on the worker (delivered twice, cancelled, their finisher stopped and taken over) and the
housekeeping refund. Engine calls and pages are counted per call; credits once per settlement, whoever retries."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from snapscribe.accounts.service import AccountService
from snapscribe.contracts.extract_image import ExtractImageRequest, ExtractImageResponse
from snapscribe.engines.base import ExtractionRequest
from snapscribe.engines.layout import OcrLine
from snapscribe.engines.local import LocalEngine
from snapscribe.engines.metered import metered
from snapscribe.engines.registry import Engines
from snapscribe.engines.textract import TextractEngine
from snapscribe.errors import EngineError, EngineInputTooLarge, EngineTimeout, UnsupportedImageFormat
from snapscribe.jobs.files import JobFiles
from snapscribe.jobs.model import CANCELLED, SUCCEEDED, Job
from snapscribe.jobs.plan import Deps
from snapscribe.jobs.reaper import reap
from snapscribe.jobs.run import run_now
from snapscribe.jobs.submit import JobServices, submit
from snapscribe.jobs.worker import Worker
from snapscribe.metering import (
    CREDITS_CHARGED,
    CREDITS_REFUNDED,
    ENGINE_CALLS,
    ENGINE_ERRORS,
    ENGINE_LATENCY,
    PAGES_READ,
)
from snapscribe.operations.extract_image import EXTRACT_IMAGE
from snapscribe.operations.jobs import cancel_job
from snapscribe.operations.kinds import KINDS
from snapscribe.operations.whole_files import DocumentReader
from tests.conftest import PROJECT_ROOT, GeminiStub
from tests.fakes import (
    NOW,
    Account,
    Clock,
    FakeAccountStore,
    FakeEngine,
    FakeJobStore,
    FakeQueue,
    RecordingMeter,
    Uploads,
    b64,
    make_caller,
    make_settings,
)

INVOICE = (PROJECT_ROOT / "samples" / "invoice.png").read_bytes()
START = 1_000_000


class Metered:
    """One funded user whose account service and engine registry count on one RecordingMeter; a job store,
    queues and a worker in memory."""

    def __init__(self, tmp_path: Path, **settings: Any) -> None:
        self.meter = RecordingMeter()
        store = FakeAccountStore()
        store.add_credits("alice", START)
        self.clock = Clock(NOW)
        self.account = Account(store, AccountService(store, clock=self.clock, meter=self.meter), make_caller("alice"))
        self.settings = make_settings(tmp_path / "work", **{"engine": "local", **settings})
        self.engines = Engines(self.settings, meter=self.meter)
        self.files = Uploads()
        self.store = FakeJobStore()
        self.work = FakeQueue()
        self.jobs = JobServices(
            store=self.store,
            files=JobFiles(self.files.objects, max_input_bytes=50 << 20),
            work=self.work,
            webhooks=FakeQueue(),
            max_seconds=3600,
        )
        self.worker = Worker(self.jobs, self.deps, KINDS, lease_seconds=330, clock=self.clock)

    def deps(self) -> Deps:
        return Deps(
            accounts=self.account.service,
            settings=self.settings,
            engine_for=self.engines,
            uploads=self.files.uploads,
            objects=self.files.objects,
        )

    def submit(self, request: ExtractImageRequest) -> Job:
        return submit(EXTRACT_IMAGE, request, self.account.caller, self.deps(), self.jobs, callback_url=None)

    def run(self, deliveries: int = 1) -> None:
        while messages := self.work.take():
            for message in messages:
                for _ in range(deliveries):
                    self.worker.handle(message)

    def job(self, job_id: str) -> Job:
        found = self.store.get(job_id)
        assert found is not None
        return found

    def ledger(self) -> tuple[int, int]:
        """(charged, refunded) over every ledger row."""
        rows = self.account.store.ledger("alice")
        return sum(row.cost - row.refund for row in rows), sum(row.refund for row in rows)

    def credits(self) -> tuple[float, float]:
        return self.meter.total(CREDITS_CHARGED), self.meter.total(CREDITS_REFUNDED)


def invoices(count: int) -> ExtractImageRequest:
    return ExtractImageRequest.model_validate(
        {"inputMethod": "base64", "images": [b64(INVOICE)] * count, "prompt": "Read the text"}
    )


def counted(meter: RecordingMeter, *names: str) -> list[int]:
    """How many records each metric has (a count's records, a duration's values)."""
    return [sum(1 for metric, _unit, _value in meter.records if metric == name) for name in names]


# --- engine calls and pages -------------------------------------------------------------------------------
def test_a_synchronous_extraction_counts_each_page_read_its_latency_and_its_settlement(tmp_path: Path) -> None:
    harness = Metered(tmp_path)
    result = run_now(EXTRACT_IMAGE, invoices(2), harness.account.caller, harness.deps())
    assert isinstance(result, ExtractImageResponse)
    assert "INV-1042" in str(result.model_dump())  # the local engine read the invoice: its calls were real
    meter = harness.meter
    assert (meter.total(ENGINE_CALLS), meter.total(PAGES_READ), meter.total(ENGINE_ERRORS)) == (2, 2, 0)
    latencies = [value for metric, unit, value in meter.records if metric == ENGINE_LATENCY and unit == "Milliseconds"]
    assert len(latencies) == 2
    assert all(value > 0 for value in latencies)
    charged, refunded = harness.ledger()
    assert charged > 0
    assert harness.credits() == (charged, refunded)  # the metrics add up to the ledger
    assert counted(meter, CREDITS_CHARGED) == [1]  # one settlement


def test_an_engine_that_fails_counts_an_error_no_pages_and_the_whole_hold_refunded(
    tmp_path: Path, gemini_stub: GeminiStub
) -> None:
    gemini_stub.reply_error(500)
    harness = Metered(
        tmp_path, engine="gemini", engines="gemini", gemini_api_key="k-1", gemini_base_url=gemini_stub.url
    )
    with pytest.raises(EngineError):
        run_now(EXTRACT_IMAGE, invoices(1), harness.account.caller, harness.deps())
    meter = harness.meter
    assert (meter.total(ENGINE_CALLS), meter.total(ENGINE_ERRORS), meter.total(PAGES_READ)) == (1, 1, 0)
    assert counted(meter, ENGINE_LATENCY) == [1]
    charged, refunded = harness.ledger()
    assert (charged, refunded > 0) == (0, True)
    assert harness.credits() == (0, refunded)
    assert harness.account.balance == START


@pytest.mark.parametrize(
    ("failure", "engine_errors"),
    [
        (EngineTimeout("the model did not answer in time"), 1),
        (EngineError("the model returned HTTP 500"), 1),
        (RuntimeError("a fault of the engine's code"), 1),
        (EngineInputTooLarge("more than the model takes"), 0),  # the client's input, not the engine's failure
        (UnsupportedImageFormat("not an image the engine reads"), 0),
    ],
)
def test_an_engine_error_is_the_engines_failure_not_the_clients_input(failure: Exception, engine_errors: int) -> None:
    meter = RecordingMeter()
    engine = metered(FakeEngine(failure), meter)
    with pytest.raises(type(failure)):
        engine.extract(ExtractionRequest(images=[], prompt="x"))
    assert (meter.total(ENGINE_CALLS), meter.total(ENGINE_ERRORS), meter.total(PAGES_READ)) == (1, engine_errors, 0)
    assert counted(meter, ENGINE_LATENCY) == [1]


class WholeFiles:
    """An engine that reads stored files whole, answering lines on the pages it is given."""

    name, max_image_side, reads_pages_apart = "whole", None, True

    def __init__(self, pages_with_lines: Sequence[int]) -> None:
        self.pages_with_lines = pages_with_lines

    def read_document(self, bucket: str, key: str, *, page_sizes: Any, deadline: float, **options: Any) -> list[Any]:
        return [OcrLine("text", 0, 0, 10, 10, 1.0, page) for page in self.pages_with_lines]

    def extract(self, request: ExtractionRequest) -> Any:
        raise NotImplementedError

    def compose(self, request: ExtractionRequest, lines: Sequence[OcrLine], pages: int) -> Any:
        raise NotImplementedError

    def token_hold(self, pages: int, prompt: str) -> int:
        return pages


def test_a_whole_file_read_counts_its_pages_and_only_a_whole_file_reader_reads_whole_files() -> None:
    meter = RecordingMeter()
    reader = metered(WholeFiles([0, 2]), meter)
    assert isinstance(reader, DocumentReader)
    textract = metered(TextractEngine(client=object()), meter)
    assert isinstance(textract, DocumentReader)  # whole files still go to it
    for member in ("read_document", "compose", "max_image_side"):  # as Python 3.12+ (the runtime's) checks: static
        inspect.getattr_static(textract, member)
    assert not isinstance(metered(LocalEngine(), meter), DocumentReader)  # its wrapper has no read_document
    reader.read_document("bucket", "key", page_sizes=[(10, 10)] * 3, deadline=0)  # type: ignore[attr-defined]
    reader.read_document("bucket", "key", page_sizes=None, deadline=0)  # type: ignore[attr-defined]
    assert (meter.total(ENGINE_CALLS), meter.total(PAGES_READ)) == (2, 3 + 2)  # sizes given; else pages answered


def test_the_registry_hands_out_its_engines_metered_once_each(tmp_path: Path) -> None:
    meter = RecordingMeter()
    engines = Engines(make_settings(tmp_path, engine="local"), meter=meter)
    assert engines() is engines("rapidocr")
    assert (engines().name, engines().reads_pages_apart, engines().languages()) == (
        "local",
        True,
        engines().languages(),
    )
    assert "en" in engines().languages()  # what only a page engine has is the engine's own


# --- jobs: each call and each settlement counted once ---------------------------------------------------
def test_a_job_delivered_twice_counts_each_page_and_its_settlement_once(tmp_path: Path) -> None:
    harness = Metered(tmp_path)
    job = harness.submit(invoices(2))
    harness.run(deliveries=2)  # SQS may deliver every message twice: a resolved item is not run again
    finished = harness.job(job.job_id)
    assert finished.status == SUCCEEDED
    assert (harness.meter.total(ENGINE_CALLS), harness.meter.total(PAGES_READ)) == (2, 2)
    assert harness.credits() == harness.ledger()
    assert harness.meter.total(CREDITS_CHARGED) == finished.charged > 0
    assert counted(harness.meter, CREDITS_CHARGED) == [1]


class FinisherStopped(Exception):
    """The finisher's invocation ends between settling the hold and recording the job."""


def test_a_settlement_repeated_by_the_finisher_that_takes_over_is_counted_once(tmp_path: Path) -> None:
    harness = Metered(tmp_path)
    job = harness.submit(invoices(1))
    record = harness.store.finish

    def settled_then_stopped(job_id: str, **recorded: Any) -> None:
        raise FinisherStopped

    harness.store.finish = settled_then_stopped  # type: ignore[method-assign]
    with pytest.raises(FinisherStopped):
        harness.run()
    harness.store.finish = record  # type: ignore[method-assign]
    settled_first = harness.credits()
    assert settled_first == harness.ledger()
    harness.clock.now += 121  # the finisher's claim is stale: the reaper's finalisation takes it over
    assert reap(harness.jobs, now=int(harness.clock.now)).finish_requests == 1
    harness.run()
    finished = harness.job(job.job_id)
    assert finished.status == SUCCEEDED  # the second finisher settled again (a no-op) and recorded the job
    assert harness.credits() == settled_first == (finished.charged, harness.ledger()[1])
    assert counted(harness.meter, CREDITS_CHARGED) == [1]


def test_a_cancelled_job_counts_what_ran_as_charged_and_the_rest_as_refunded(tmp_path: Path) -> None:
    harness = Metered(tmp_path)
    job = harness.submit(invoices(3))
    messages = harness.work.take()
    harness.worker.handle(messages[0])
    cancel_job(harness.account.caller, job.job_id, jobs=harness.jobs, now="2026-01-01T00:00:00Z")
    for message in messages[1:]:
        harness.worker.handle(message)
    harness.run()  # the cancel's finalisation
    finished = harness.job(job.job_id)
    assert finished.status == CANCELLED
    assert (harness.meter.total(ENGINE_CALLS), harness.meter.total(PAGES_READ)) == (1, 1)  # nothing ran after it
    charged, refunded = harness.ledger()
    assert refunded > 0
    assert harness.credits() == (charged, refunded) == (finished.charged, finished.hold.cost - finished.charged)


def test_a_hold_nobody_settled_is_counted_refunded_once_however_often_housekeeping_runs(tmp_path: Path) -> None:
    harness = Metered(tmp_path)
    service = harness.account.service
    reservation = service.reserve(harness.account.caller.principal, 70, request_id="req-stopped", route="POST /x")
    harness.clock.now += 2000  # past its invocation's longest run and the grace
    assert service.refund_overdue_holds() == [reservation]
    assert service.settle(reservation, refund=0) is False  # the stopped invocation's late settlement: no change
    service.refund_overdue_holds()
    assert harness.credits() == (0, 70)
    assert harness.account.balance == START

"""Jobs against in-memory fakes of their store, queues and engine: the result is the synchronous call's body;
every item is counted once under redelivery, racing workers, a stopped worker and dead letters; cancelling
stops what has not started; the reaper fails what is overdue; the hold is settled once, with what succeeded."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from snapscribe.contracts.batch_extraction import BatchExtractionRequest, EngineSpec, FileIdentifier
from snapscribe.contracts.extract_image import ExtractImageRequest
from snapscribe.contracts.jobs import JobView
from snapscribe.contracts.ocr_by_key import OcrByKeyRequest
from snapscribe.errors import EngineThrottled, EngineTimeout, JobFinished, LimitExceeded
from snapscribe.jobs.batch import Delivery
from snapscribe.jobs.files import JobFiles
from snapscribe.jobs.model import CANCELLED, FAILED, ITEM_RETRY, SUCCEEDED, ItemClaim, Job
from snapscribe.jobs.plan import Deps
from snapscribe.jobs.reaper import reap
from snapscribe.jobs.run import run_now
from snapscribe.jobs.submit import JobServices, submit
from snapscribe.jobs.worker import UNSENT_ITEM, ItemBusy, Worker
from snapscribe.operations.batch_extraction import EXTRACT_BATCH
from snapscribe.operations.extract_image import EXTRACT_IMAGE
from snapscribe.operations.jobs import cancel_job
from snapscribe.operations.kinds import KINDS
from snapscribe.operations.ocr_by_key import OCR_BY_KEY
from tests.fakes import (
    NOW,
    Account,
    Clock,
    FakeEngine,
    FakeJobStore,
    FakeQueue,
    Uploads,
    b64,
    funded_account,
    image_bytes,
    make_caller,
    make_settings,
    tiff_pages,
)

START = 1_000_000
PER_PAGE = 200


def by_width(request: Any) -> str:
    """A page's text names its width, so that pages can be told apart whatever order they ran in."""
    return f"page {request.images[0].width}"


class Harness:
    """One user's account, the upload stores, a job store, two queues and a worker, all in memory."""

    def __init__(self, tmp_path: Path, engine: FakeEngine, *, credits: int = START) -> None:
        self.account: Account = funded_account(credits)
        self.files = Uploads()
        self.store = FakeJobStore()
        self.work, self.webhooks = FakeQueue(), FakeQueue()
        self.settings = make_settings(tmp_path / "work")
        self.engine = engine
        self.clock = Clock(NOW)
        self.jobs = JobServices(
            store=self.store,
            files=JobFiles(self.files.objects, max_input_bytes=50 << 20),
            work=self.work,
            webhooks=self.webhooks,
            max_seconds=3600,
        )
        self.worker = Worker(self.jobs, self.deps, KINDS, lease_seconds=330, clock=self.clock)

    def deps(self) -> Deps:
        return Deps(
            accounts=self.account.service,
            settings=self.settings,
            engine_for=lambda *_args, **_options: self.engine,
            uploads=self.files.uploads,
            objects=self.files.objects,
        )

    def submit(self, kind: Any, request: Any, callback_url: str | None = None) -> Job:
        caller = make_caller(self.account.user_id, route="POST /test")
        return submit(kind, request, caller, self.deps(), self.jobs, callback_url=callback_url)

    def run(self, deliveries: int = 1, worker: Callable[[dict[str, Any]], None] | None = None) -> int:
        """Hand out every message (each `deliveries` times, as SQS may) until the queue stays empty."""
        handled = 0
        while messages := self.work.take():
            for message in messages:
                for _ in range(deliveries):
                    (worker or self.worker.handle)(message)
                    handled += 1
        return handled

    def job(self, job_id: str) -> Job:
        found = self.store.get(job_id)
        assert found is not None
        return found

    def result(self, job_id: str) -> Any:
        text = self.job(job_id).result
        assert text is not None
        return json.loads(text)


def pages_engine() -> FakeEngine:
    return FakeEngine(by_width, name="local", reads_pages_apart=True)


def batch_request(*uploads: str) -> BatchExtractionRequest:
    return BatchExtractionRequest(engine=EngineSpec(name="local"), files=[FileIdentifier(uuid=u) for u in uploads])


# --- the result -------------------------------------------------------------------------------------
def test_a_batch_job_answers_the_calls_exact_body_and_charges_the_same(tmp_path: Path) -> None:
    harness = Harness(tmp_path, pages_engine())
    tiff = harness.files.add("alice", tiff_pages([31, 32, 33]), filename="report.tiff", pages=3)
    png = harness.files.add("alice", image_bytes(41, 20), pages=1)
    request = batch_request(png.upload_id, tiff.upload_id)

    synchronous = run_now(EXTRACT_BATCH, request, make_caller("alice"), harness.deps())
    _status, expected = EXTRACT_BATCH.answer(synchronous)
    balance_after_call = harness.account.balance

    job = harness.submit(EXTRACT_BATCH, request)
    assert harness.job(job.job_id).status == "queued"
    assert harness.account.balance == balance_after_call - 4 * PER_PAGE  # held at admission
    harness.run()
    finished = harness.job(job.job_id)
    got = harness.result(job.job_id)
    got["data"]["uuid"] = expected["data"]["uuid"]  # each extraction has its own id
    assert got == expected
    assert (finished.status, finished.result_status, finished.charged) == (SUCCEEDED, 201, 4 * PER_PAGE)
    assert (finished.total, finished.done, finished.failed, finished.remaining) == (4, 4, 0, 0)
    assert harness.account.balance == START - 2 * 4 * PER_PAGE  # the call and the job, each charged once
    ledger = [(row.cost, row.refund, row.status, row.job_id) for row in harness.account.store.ledger("alice")]
    assert (800, 0, "charged", job.job_id) in ledger


def test_an_ocr_job_composes_the_text_from_pages_read_apart(tmp_path: Path) -> None:
    harness = Harness(tmp_path, pages_engine())
    tiff = harness.files.add("alice", tiff_pages([51, 52, 53]), filename="report.tiff", pages=3)
    request = OcrByKeyRequest(key=tiff.key)
    expected = run_now(OCR_BY_KEY, request, make_caller("alice"), harness.deps()).model_dump()
    job = harness.submit(OCR_BY_KEY, request)
    harness.run()
    got = harness.result(job.job_id)
    for moving in ("id", "createdAt", "fileUrl"):
        got.pop(moving)
        expected.pop(moving)
    assert got == expected
    assert got["text"] == "page 51\n\npage 52\n\npage 53"
    assert harness.job(job.job_id).charged == got["tokensUsed"]


def test_a_3000_image_job_is_admitted_at_once_and_every_image_is_read_once(tmp_path: Path) -> None:
    harness = Harness(tmp_path, pages_engine())
    images = [b64(image_bytes(20 + index % 7, 10)) for index in range(3000)]
    job = harness.submit(EXTRACT_IMAGE, ExtractImageRequest(inputMethod="base64", images=images, prompt="Read it."))
    assert harness.work.messages == [{"job": job.job_id, "expand": [0, 3000]}]  # admission sends one message
    harness.run()
    finished = harness.job(job.job_id)
    assert (finished.status, finished.done, finished.failed, finished.charged) == (SUCCEEDED, 3000, 0, 3010)
    body = harness.result(job.job_id)
    assert (body["imageCount"], body["creditUsage"]) == (3000, 3010)
    assert body["results"].split("\n\n")[:3] == ["page 20", "page 21", "page 22"]  # image order kept
    assert len(harness.engine.requests) == 3000
    assert harness.account.balance == START - 3010


def test_an_invalid_request_is_refused_like_the_call_and_no_job_is_made(tmp_path: Path) -> None:
    harness = Harness(tmp_path, pages_engine())
    ids = [harness.files.add("alice", image_bytes()).upload_id for _ in range(6)]
    with pytest.raises(LimitExceeded):
        harness.submit(EXTRACT_BATCH, batch_request(*ids))
    assert (harness.store.jobs, harness.work.messages, harness.account.summary()) == ({}, [], (START, []))


# --- counted once -------------------------------------------------------------------------------------
def test_every_message_delivered_twice_still_counts_each_item_once(tmp_path: Path) -> None:
    harness = Harness(tmp_path, pages_engine())
    tiff = harness.files.add("alice", tiff_pages([31, 32, 33, 34, 35]), filename="r.tiff", pages=5)
    job = harness.submit(EXTRACT_BATCH, batch_request(tiff.upload_id))
    harness.run(deliveries=2)
    finished = harness.job(job.job_id)
    assert (finished.done, finished.failed, finished.remaining, finished.charged) == (5, 0, 0, 5 * PER_PAGE)
    assert len(harness.engine.requests) == 5  # a redelivered item that is done is not run again
    assert harness.account.balance == START - 5 * PER_PAGE


def test_racing_workers_count_each_item_once_and_finish_the_job_once(tmp_path: Path) -> None:
    harness = Harness(tmp_path, pages_engine())
    tiff = harness.files.add("alice", tiff_pages(range(30, 50)), filename="r.tiff", pages=20)
    job = harness.submit(EXTRACT_BATCH, batch_request(tiff.upload_id), callback_url="https://hooks.example/x")
    messages = harness.work.take()
    finishes: list[str] = []
    record_finish = harness.store.finish

    def finish(job_id: str, **recorded: Any) -> None:  # the finished job's record: written once per finish
        finishes.append(job_id)
        record_finish(job_id, **recorded)

    harness.store.finish = finish  # type: ignore[method-assign]

    def deliver_all() -> None:  # eight workers, each given every message (at least once, many times over)
        for message in messages:
            with contextlib.suppress(ItemBusy):  # another worker holds it: SQS brings the message back later
                harness.worker.handle(message)

    threads = [threading.Thread(target=deliver_all) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    finished = harness.job(job.job_id)
    assert (finished.done, finished.failed, finished.remaining) == (20, 0, 0)
    assert finishes == [job.job_id]
    assert harness.webhooks.messages == [{"job": job.job_id}]  # the webhook is queued once
    assert harness.account.balance == START - 20 * PER_PAGE


def test_a_worker_stopped_mid_item_is_taken_over_once_its_lease_runs_out(tmp_path: Path) -> None:
    harness = Harness(tmp_path, pages_engine())
    tiff = harness.files.add("alice", tiff_pages([31, 32]), filename="r.tiff", pages=2)
    job = harness.submit(EXTRACT_BATCH, batch_request(tiff.upload_id))
    first, second = harness.work.take()
    # A worker claims item 0 and is stopped (timeout, crash) before resolving it.
    assert harness.store.claim_item(job.job_id, 0, token="dead", lease_until=int(NOW) + 330, now=int(NOW)) == "claimed"
    harness.worker.handle(second)
    with pytest.raises(ItemBusy):  # redelivered while the dead worker's lease is live: left for later
        harness.worker.handle(first)
    harness.clock.now += 331  # SQS brings it back after its visibility timeout, past the lease
    harness.worker.handle(first)
    assert not harness.store.resolve_item(job.job_id, 0, "done", token="dead", error=None)  # too late to count
    finished = harness.job(job.job_id)
    assert (finished.status, finished.done, finished.failed, finished.charged) == (SUCCEEDED, 2, 0, 2 * PER_PAGE)
    assert harness.store.item_records[(job.job_id, 0)]["attempts"] == 2


# --- failures ---------------------------------------------------------------------------------------------
def test_a_throttled_page_is_delivered_again_not_failed(tmp_path: Path) -> None:
    """A model's quota used up (after the SDK's own retries) is a passing fault: the item's message stays on the
    queue, and its next delivery (after the claim's lease) reads it; SQS's receive count bounds how often."""
    throttled = EngineThrottled("the model's quota is used up")
    harness = Harness(tmp_path, FakeEngine(throttled, by_width, name="local", reads_pages_apart=True))
    tiff = harness.files.add("alice", tiff_pages([31, 32]), filename="r.tiff", pages=2)
    job = harness.submit(EXTRACT_BATCH, batch_request(tiff.upload_id))
    first, second = harness.work.take()
    with pytest.raises(EngineThrottled):
        harness.worker.handle(first)  # not resolved: the message is delivered again
    assert harness.job(job.job_id).failed == 0
    harness.worker.handle(second)
    harness.clock.now += 331  # the first claim's lease is over when the queue delivers it again
    harness.worker.handle(first)
    finished = harness.job(job.job_id)
    assert (finished.status, finished.done, finished.failed, finished.charged) == (SUCCEEDED, 2, 0, 2 * PER_PAGE)
    assert [page["text"] for page in harness.result(job.job_id)["data"]["files"][0]["pages"]] == ["page 31", "page 32"]


def test_a_dead_lettered_page_is_failed_and_its_credits_come_back(tmp_path: Path) -> None:
    harness = Harness(tmp_path, pages_engine())
    tiff = harness.files.add("alice", tiff_pages([31, 32, 33]), filename="r.tiff", pages=3)
    job = harness.submit(EXTRACT_BATCH, batch_request(tiff.upload_id))
    messages = harness.work.take()
    harness.worker.handle(messages[0])
    harness.worker.handle(messages[2])
    harness.worker.dead_letter(messages[1])  # received three times without an answer
    harness.worker.dead_letter(messages[1])  # and the dead-letter queue delivers at least once too
    finished = harness.job(job.job_id)
    data = harness.result(job.job_id)["data"]
    assert (finished.status, finished.done, finished.failed, finished.charged) == (SUCCEEDED, 2, 1, 2 * PER_PAGE)
    assert (data["status"], data["failed_pages"], data["returned_credits"]) == ("partially_processed", 1, PER_PAGE)
    assert data["files"][0]["pages"][1]["error"].startswith("The item failed three times")
    assert harness.account.balance == START - 2 * PER_PAGE


def test_a_failed_image_fails_an_extract_image_job_with_the_calls_error_and_refunds_it(tmp_path: Path) -> None:
    harness = Harness(tmp_path, pages_engine())
    images = [b64(image_bytes()), b64(image_bytes()[:60]), b64(image_bytes())]  # a truncated PNG: its header is good
    job = harness.submit(EXTRACT_IMAGE, ExtractImageRequest(inputMethod="base64", images=images, prompt="Read."))
    harness.run()
    finished = harness.job(job.job_id)
    assert (finished.status, finished.result_status, finished.charged) == (FAILED, 400, 0)
    assert harness.result(job.job_id)["error"].startswith("images[1]: The PNG image is corrupt")
    assert harness.account.balance == START


# --- cancel and reap -----------------------------------------------------------------------------------
def test_cancelling_mid_way_stops_what_has_not_started_and_gives_its_credits_back(tmp_path: Path) -> None:
    harness = Harness(tmp_path, pages_engine())
    tiff = harness.files.add("alice", tiff_pages(range(31, 37)), filename="r.tiff", pages=6)
    job = harness.submit(EXTRACT_BATCH, batch_request(tiff.upload_id))
    messages = harness.work.take()
    for message in messages[:2]:
        harness.worker.handle(message)
    assert harness.store.request_cancel(job.job_id, "now")
    for message in messages[2:]:
        harness.worker.handle(message)
    finished = harness.job(job.job_id)
    data = harness.result(job.job_id)["data"]
    assert (finished.status, finished.done, finished.cancelled, finished.charged) == (CANCELLED, 2, 4, 2 * PER_PAGE)
    assert [page["status"] for page in data["files"][0]["pages"]] == ["processed"] * 2 + ["failed"] * 4
    assert len(harness.engine.requests) == 2  # items not started were not run
    assert harness.account.balance == START - 2 * PER_PAGE
    assert not harness.store.request_cancel(job.job_id, "later")  # finished: nothing to cancel


def test_a_cancelled_ocr_job_has_no_result_and_costs_nothing(tmp_path: Path) -> None:
    harness = Harness(tmp_path, pages_engine())
    tiff = harness.files.add("alice", tiff_pages([31, 32, 33]), filename="r.tiff", pages=3)
    job = harness.submit(OCR_BY_KEY, OcrByKeyRequest(key=tiff.key))
    messages = harness.work.take()
    harness.worker.handle(messages[0])
    harness.store.request_cancel(job.job_id, "now")
    for message in messages[1:]:
        harness.worker.handle(message)
    finished = harness.job(job.job_id)
    assert (finished.status, finished.result, finished.result_status, finished.charged) == (CANCELLED, None, None, 0)
    assert harness.account.balance == START


def test_the_reaper_fails_what_is_overdue_and_a_worker_finishes_the_job(tmp_path: Path) -> None:
    harness = Harness(tmp_path, pages_engine())
    tiff = harness.files.add("alice", tiff_pages([31, 32, 33]), filename="r.tiff", pages=3)
    job = harness.submit(EXTRACT_BATCH, batch_request(tiff.upload_id))
    first, *_lost = harness.work.take()  # two messages never come (a broken queue, say)
    harness.worker.handle(first)
    assert reap(harness.jobs, now=job.deadline - 1).overdue_jobs == 0  # not yet
    reaped = reap(harness.jobs, now=job.deadline + 1)
    assert (reaped.overdue_jobs, reaped.items_failed) == (1, 2)
    harness.run()  # the finish request
    finished = harness.job(job.job_id)
    assert (finished.done, finished.failed, finished.charged) == (1, 2, PER_PAGE)
    assert harness.account.balance == START - PER_PAGE
    assert reap(harness.jobs, now=job.deadline + 2).overdue_jobs == 0  # finished jobs are not open


class FinisherStopped(BaseException):
    """The finishing invocation stopped (a BaseException, as a Lambda's end is: no handler catches it)."""


def test_a_job_whose_finisher_was_stopped_is_finished_by_the_reapers_request(tmp_path: Path) -> None:
    harness = Harness(tmp_path, pages_engine())
    tiff = harness.files.add("alice", tiff_pages([31]), filename="r.tiff", pages=1)
    job = harness.submit(EXTRACT_BATCH, batch_request(tiff.upload_id))
    claim = harness.store.claim_finalization

    def claimed_then_stopped(job_id: str, **claiming: Any) -> bool:
        claim(job_id, **claiming)
        raise FinisherStopped  # the invocation ends here: timed out or crashed, the claim made

    harness.store.claim_finalization = claimed_then_stopped  # type: ignore[method-assign]
    with pytest.raises(FinisherStopped):
        harness.run()
    assert harness.job(job.job_id).finished_at is None
    harness.store.claim_finalization = claim  # type: ignore[method-assign]
    harness.clock.now += 331  # the finisher's claim goes stale
    assert reap(harness.jobs, now=int(harness.clock.now)).finish_requests == 1
    harness.run()
    assert (harness.job(job.job_id).status, harness.account.balance) == (SUCCEEDED, START - PER_PAGE)


def test_a_redelivery_finishes_the_job_its_stopped_worker_resolved_the_last_item_of(tmp_path: Path) -> None:
    """The worker resolved and counted the last item, then was stopped before finishing the job; SQS delivers
    the message again: the job is finished then, not five minutes later by the reaper."""
    harness = Harness(tmp_path, pages_engine())
    tiff = harness.files.add("alice", tiff_pages([31, 32]), filename="r.tiff", pages=2)
    job = harness.submit(EXTRACT_BATCH, batch_request(tiff.upload_id))
    messages = harness.work.take()
    for message in messages:
        harness.worker.handle(message, finish=False)
    harness.worker.touched = set()  # stopped after the batch's items, before finish_touched()
    assert harness.job(job.job_id).finished_at is None
    harness.worker.handle(messages[-1])  # redelivered
    assert (harness.job(job.job_id).status, harness.account.balance) == (SUCCEEDED, START - 2 * PER_PAGE)
    assert len(harness.engine.requests) == 2


# --- a cancel stops work at once ------------------------------------------------------------------------
def cancel(harness: Harness, job_id: str) -> JobView:
    """DELETE /api/v1/jobs/{jobId}, as its owner."""
    return cancel_job(make_caller(harness.account.user_id), job_id, jobs=harness.jobs, now="now")


def test_a_cancel_resolves_what_has_not_started_at_once_and_its_credits_come_back_before_the_queue_drains(
    tmp_path: Path,
) -> None:
    harness = Harness(tmp_path, pages_engine())
    tiff = harness.files.add("alice", tiff_pages(range(31, 37)), filename="r.tiff", pages=6)
    job = harness.submit(EXTRACT_BATCH, batch_request(tiff.upload_id))
    messages = harness.work.take()
    for message in messages[:2]:
        harness.worker.handle(message)
    answered = cancel(harness, job.job_id)
    assert (answered.status, answered.progress.done, answered.progress.cancelled) == ("cancelling", 2, 4)
    assert harness.work.messages == [{"job": job.job_id, "finalize": True}]  # nothing runs: finished at once
    harness.run()  # the finalisation alone: the four items' messages have not come back yet
    finished = harness.job(job.job_id)
    assert (finished.status, finished.done, finished.cancelled, finished.charged) == (CANCELLED, 2, 4, 2 * PER_PAGE)
    assert harness.account.balance == START - 2 * PER_PAGE
    for message in messages[2:]:  # they drain, and nothing runs
        harness.worker.handle(message)
    assert len(harness.engine.requests) == 2
    again = cancel(harness, job.job_id)  # idempotent: the job as it stands
    assert (again.status, again.charged, again.progress.cancelled) == (CANCELLED, 2 * PER_PAGE, 4)
    assert harness.account.balance == START - 2 * PER_PAGE


def test_an_item_running_at_the_cancel_finishes_and_is_charged_and_the_webhook_comes_once_at_the_end(
    tmp_path: Path,
) -> None:
    started, release = threading.Event(), threading.Event()

    def slow_second_page(request: Any) -> str:
        if request.images[0].width == 32:
            started.set()
            assert release.wait(10)
        return by_width(request)

    harness = Harness(tmp_path, FakeEngine(slow_second_page, name="local", reads_pages_apart=True))
    tiff = harness.files.add("alice", tiff_pages(range(31, 37)), filename="r.tiff", pages=6)
    job = harness.submit(EXTRACT_BATCH, batch_request(tiff.upload_id), callback_url="https://hooks.example/x")
    messages = harness.work.take()
    harness.worker.handle(messages[0])
    running = threading.Thread(target=harness.worker.handle, args=(messages[1],))
    running.start()
    assert started.wait(10)
    answered = cancel(harness, job.job_id)
    assert (answered.status, answered.progress.done, answered.progress.cancelled) == ("cancelling", 1, 4)
    assert cancel(harness, job.job_id).status == "cancelling"  # twice: the same
    assert (harness.work.messages, harness.webhooks.messages) == ([], [])  # one item runs: its worker finishes
    assert harness.account.balance == START - 6 * PER_PAGE  # held until the job's end
    release.set()
    running.join()
    finished = harness.job(job.job_id)
    assert (finished.status, finished.done, finished.cancelled, finished.charged) == (CANCELLED, 2, 4, 2 * PER_PAGE)
    assert harness.account.balance == START - 2 * PER_PAGE
    assert harness.webhooks.messages == [{"job": job.job_id}]
    for message in messages[2:]:
        harness.worker.handle(message)
    assert harness.webhooks.messages == [{"job": job.job_id}]  # once
    assert len(harness.engine.requests) == 2


def test_a_cancel_is_read_before_each_item_of_a_batch(tmp_path: Path) -> None:
    """A worker reads the job once a batch, but the cancel before each item: one that lands mid-batch (before the
    DELETE has resolved anything) stops the batch's next item."""
    harness = Harness(tmp_path, pages_engine())
    tiff = harness.files.add("alice", tiff_pages(range(31, 35)), filename="r.tiff", pages=4)
    job = harness.submit(EXTRACT_BATCH, batch_request(tiff.upload_id))
    messages = harness.work.take()
    harness.worker.handle(messages[0], finish=False)
    assert harness.store.request_cancel(job.job_id, "now")
    for message in messages[1:]:
        harness.worker.handle(message, finish=False)
    harness.worker.finish_touched()
    finished = harness.job(job.job_id)
    assert (finished.status, finished.done, finished.cancelled, finished.charged) == (CANCELLED, 1, 3, PER_PAGE)
    assert len(harness.engine.requests) == 1


def test_a_large_job_cancelled_before_its_expansion_sends_nothing_and_costs_nothing(tmp_path: Path) -> None:
    harness = Harness(tmp_path, pages_engine())
    harness.jobs.direct_items = 2  # a larger job is admitted with one "expand" message
    tiff = harness.files.add("alice", tiff_pages(range(31, 37)), filename="r.tiff", pages=6)
    job = harness.submit(EXTRACT_BATCH, batch_request(tiff.upload_id))
    assert harness.work.messages == [{"job": job.job_id, "expand": [0, 6]}]
    assert cancel(harness, job.job_id).progress.cancelled == 6
    harness.run()  # the expansion sends nothing; the finalisation finishes the job
    finished = harness.job(job.job_id)
    assert (finished.status, finished.cancelled, finished.charged) == (CANCELLED, 6, 0)
    assert (harness.account.balance, harness.engine.requests) == (START, [])


# --- dead letters ------------------------------------------------------------------------------------
def test_a_dead_lettered_expansion_fails_the_items_it_never_sent_and_refunds_them(tmp_path: Path) -> None:
    harness = Harness(tmp_path, pages_engine())
    harness.jobs.direct_items = 2
    tiff = harness.files.add("alice", tiff_pages(range(31, 37)), filename="r.tiff", pages=6)
    job = harness.submit(EXTRACT_BATCH, batch_request(tiff.upload_id))
    (expansion,) = harness.work.take()  # received three times, it never sent the items
    harness.worker.dead_letter(expansion)
    harness.worker.dead_letter(expansion)  # the dead-letter queue delivers at least once too
    finished = harness.job(job.job_id)
    data = harness.result(job.job_id)["data"]
    assert (finished.failed, finished.remaining, finished.charged) == (6, 0, 0)
    assert (data["status"], data["returned_credits"]) == ("failed", 6 * PER_PAGE)  # the batch API's own answer
    assert data["files"][0]["pages"][0]["error"].endswith(UNSENT_ITEM["message"])
    assert harness.account.balance == START
    with pytest.raises(JobFinished, match=rf"already finished \({finished.status}\)"):
        cancel(harness, job.job_id)


# --- passing faults are tried again --------------------------------------------------------------------
def test_a_timeout_is_tried_again_at_once_its_claim_given_back(tmp_path: Path) -> None:
    """A page that timed out once: the worker gives its claim back, so the message's next delivery runs it, even
    long before the claim's lease would have run out (it used to find the item busy, three times, and fail it)."""
    harness = Harness(
        tmp_path, FakeEngine(TimeoutError("read timed out"), by_width, name="local", reads_pages_apart=True)
    )
    tiff = harness.files.add("alice", tiff_pages([31, 32]), filename="r.tiff", pages=2)
    job = harness.submit(EXTRACT_BATCH, batch_request(tiff.upload_id))
    first, second = harness.work.take()
    with pytest.raises(TimeoutError):
        harness.worker.handle(first)
    assert harness.store.item_claim(job.job_id, 0) == ItemClaim(ITEM_RETRY, 1, int(NOW) + 330)
    harness.worker.handle(first)  # delivered again at once: not busy
    harness.worker.handle(second)
    finished = harness.job(job.job_id)
    assert (finished.status, finished.done, finished.failed, finished.charged) == (SUCCEEDED, 2, 0, 2 * PER_PAGE)
    assert harness.store.item_records[(job.job_id, 0)]["attempts"] == 2


@pytest.mark.parametrize(
    "fault", [EngineTimeout("the model did not answer in time"), EngineThrottled("the model's quota is used up")]
)
def test_a_passing_fault_is_tried_three_times_then_the_item_fails_with_it(tmp_path: Path, fault: Exception) -> None:
    def fails_on_the_first_page(request: Any) -> str:
        if request.images[0].width == 31:
            raise fault
        return by_width(request)

    harness = Harness(tmp_path, FakeEngine(fails_on_the_first_page, name="local", reads_pages_apart=True))
    tiff = harness.files.add("alice", tiff_pages([31, 32]), filename="r.tiff", pages=2)
    job = harness.submit(EXTRACT_BATCH, batch_request(tiff.upload_id))
    first, second = harness.work.take()
    for _attempt in range(2):
        with pytest.raises(type(fault)):
            harness.worker.handle(first)  # left on the queue, its claim given back
    assert harness.job(job.job_id).failed == 0
    harness.worker.handle(first)  # the third attempt: it fails for good, with its error
    harness.worker.handle(first)  # and a later delivery finds it resolved
    harness.worker.handle(second)
    finished = harness.job(job.job_id)
    pages = harness.result(job.job_id)["data"]["files"][0]["pages"]
    assert (finished.done, finished.failed, finished.charged) == (1, 1, PER_PAGE)
    assert (pages[0]["status"], pages[0]["error"].endswith(str(fault))) == ("failed", True)
    assert harness.store.item_records[(job.job_id, 0)]["attempts"] == 3
    assert harness.account.balance == START - PER_PAGE


# --- an item that kills its worker is isolated ------------------------------------------------------------
class WorkerKilled(BaseException):
    """The invocation died (out of memory, a segfault in native code, its timeout): nothing of it is reported."""


def test_an_item_that_kills_its_worker_every_time_is_dead_lettered_alone_and_its_neighbours_run(
    tmp_path: Path,
) -> None:
    """SQS as the event source mapping drives it: batches of ten; a dead invocation leaves its whole batch, which
    comes back after the visibility timeout (past the claims' leases); handed-back messages come back too; a
    message received three times that fails goes to the dead-letter queue."""

    def kills_on_page_six(request: Any) -> str:
        if request.images[0].width == 35:
            raise WorkerKilled
        return by_width(request)

    harness = Harness(tmp_path, FakeEngine(kills_on_page_six, name="local", reads_pages_apart=True))
    tiff = harness.files.add("alice", tiff_pages(range(30, 40)), filename="r.tiff", pages=10)
    job = harness.submit(EXTRACT_BATCH, batch_request(tiff.upload_id))
    queue = [(message, 1) for message in harness.work.take()]
    invocations = 0
    while queue:
        batch, queue = queue[:10], queue[10:]
        invocations += 1
        worker = Worker(harness.jobs, harness.deps, KINDS, lease_seconds=330, clock=harness.clock)  # a new instance
        order = worker.batch_order([Delivery(message, count) for message, count in batch])
        back = [batch[position] for position in order.handed_back]
        try:
            for position in order.run:
                try:
                    worker.handle(batch[position][0], finish=False)
                except Exception:
                    back.append(batch[position])
            worker.finish_touched()
        except WorkerKilled:
            back = batch
        harness.clock.now += 331  # the visibility timeout: what came back is received again
        for message, count in back:
            if count >= 3:
                harness.worker.dead_letter(message)
            else:
                queue.append((message, count + 1))
    finished = harness.job(job.job_id)
    pages = harness.result(job.job_id)["data"]["files"][0]["pages"]
    assert [page["status"] for page in pages] == ["processed"] * 5 + ["failed"] + ["processed"] * 4
    assert pages[5]["error"].endswith("The item failed three times: its worker stopped or timed out")
    assert (finished.done, finished.failed, finished.charged) == (9, 1, 9 * PER_PAGE)
    assert invocations == 3
    assert harness.account.balance == START - 9 * PER_PAGE


def test_a_batch_runs_the_item_whose_worker_died_last_and_hands_the_other_such_items_back(tmp_path: Path) -> None:
    harness = Harness(tmp_path, pages_engine())
    tiff = harness.files.add("alice", tiff_pages(range(30, 35)), filename="r.tiff", pages=5)
    job = harness.submit(EXTRACT_BATCH, batch_request(tiff.upload_id))
    messages = harness.work.take()
    for index in (1, 3):  # claimed by workers that died
        harness.store.claim_item(job.job_id, index, token="dead", lease_until=int(NOW) - 1, now=int(NOW) - 331)
    harness.store.claim_item(job.job_id, 4, token="alive", lease_until=int(NOW) + 100, now=int(NOW))
    deliveries = [Delivery(messages[0], 2), Delivery(messages[1], 2), Delivery(messages[2], 1)]
    deliveries += [Delivery(messages[3], 3), Delivery(messages[4], 2)]
    order = harness.worker.batch_order(deliveries)
    assert (order.run, order.handed_back) == ([0, 2, 4, 1], [3])
    # Seen for the first time, an item is never suspected, whatever its record says (no read is made).
    assert harness.worker.batch_order([Delivery(messages[1], 1)]).run == [0]


# --- a stopped finisher is taken over within minutes ------------------------------------------------------
def test_a_finisher_stopped_between_settling_and_recording_is_taken_over_in_two_minutes_and_settles_once(
    tmp_path: Path,
) -> None:
    harness = Harness(tmp_path, pages_engine())
    tiff = harness.files.add("alice", tiff_pages([31, 32]), filename="r.tiff", pages=2)
    job = harness.submit(EXTRACT_BATCH, batch_request(tiff.upload_id))
    record = harness.store.finish

    def settled_then_stopped(job_id: str, **recorded: Any) -> None:
        raise FinisherStopped  # the hold is settled; the job is not recorded

    harness.store.finish = settled_then_stopped  # type: ignore[method-assign]
    with pytest.raises(FinisherStopped):
        harness.run()
    harness.store.finish = record  # type: ignore[method-assign]
    assert (harness.job(job.job_id).status, harness.job(job.job_id).remaining) == ("running", 0)
    assert harness.account.balance == START - 2 * PER_PAGE  # settled: charged
    harness.clock.now += 60
    reap(harness.jobs, now=int(harness.clock.now))
    harness.run()
    assert harness.job(job.job_id).finished_at is None  # a minute: the claim is not stale yet
    harness.clock.now += 61  # two minutes after the claim, well before the ten of twice the worker's timeout
    assert reap(harness.jobs, now=int(harness.clock.now)).finish_requests == 1
    harness.run()
    finished = harness.job(job.job_id)
    assert (finished.status, finished.charged) == (SUCCEEDED, 2 * PER_PAGE)
    assert harness.account.balance == START - 2 * PER_PAGE  # settled once, whoever finished
    rows = [(row.cost, row.refund, row.status) for row in harness.account.store.ledger("alice")]
    assert rows == [(2 * PER_PAGE, 0, "charged")]


def test_a_finisher_still_alive_when_taken_over_changes_nothing_twice(tmp_path: Path) -> None:
    harness = Harness(tmp_path, pages_engine())
    tiff = harness.files.add("alice", tiff_pages([31, 32, 33]), filename="r.tiff", pages=3)
    job = harness.submit(EXTRACT_BATCH, batch_request(tiff.upload_id), callback_url="https://hooks.example/x")
    record = harness.store.finish
    finishes: list[str] = []

    def slow_record(job_id: str, **recorded: Any) -> None:  # the first finisher stalls before it records
        if not finishes:
            finishes.append("stalled")
            harness.clock.now += 121
            harness.worker.finish_if_done(job_id)  # another finisher takes the stale claim over, and finishes
        finishes.append(recorded["status"])
        record(job_id, **recorded)

    harness.store.finish = slow_record  # type: ignore[method-assign]
    harness.run()
    finished = harness.job(job.job_id)
    # Both record (the store keeps the first record made, the taker-over's); nothing is settled or queued twice.
    assert (finished.status, finished.charged, finishes) == (SUCCEEDED, 3 * PER_PAGE, ["stalled", SUCCEEDED, SUCCEEDED])
    assert harness.webhooks.messages == [{"job": job.job_id}]
    assert harness.account.balance == START - 3 * PER_PAGE

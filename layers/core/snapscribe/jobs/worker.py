"""What the worker does with one message of the work queue: an item, an expansion, or a finalisation.

SQS delivers at least once and a worker can be stopped at any instant, so every step that counts is a
conditional write: an item is claimed (one worker at a time, taken over only when its lease has run out),
resolved once and counted on its job once, and whoever resolves the last item finishes the job (jobs/finish.py:
claimed once, the result in item order, the hold settled with what succeeded, the webhook queued).

Before each item the job's cancel is read (one attribute, a consistent read): once it is requested, no item
starts. A passing fault (a throttled or timed-out engine) gives the item's claim back and leaves its message on the
queue, so that its next delivery runs it again at once; on its last attempt the item fails with that error.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from snapscribe.errors import EngineTimeout, SnapscribeError
from snapscribe.jobs.batch import BatchOrder, Delivery, batch_order
from snapscribe.jobs.finish import FINISH_STALE_SECONDS, Finisher
from snapscribe.jobs.model import (
    BUSY,
    CANCELLED_ITEM,
    DEAD_ITEM,
    ITEM_CANCELLED,
    ITEM_DONE,
    ITEM_FAILED,
    QUEUED,
    RESOLVED,
    Job,
)
from snapscribe.jobs.plan import Deps, ItemOutcome, JobKind, WorkPlan, error_record
from snapscribe.jobs.run import run_item
from snapscribe.jobs.submit import JobServices, iso, item_messages

log = logging.getLogger(__name__)

EXPAND_CHUNK = 500  # items sent per expansion message (the rest follow in another)
OUTPUT_INLINE_BYTES = 100_000  # an item's output up to this size is kept in its record, larger ones in the bucket
MAX_ATTEMPTS = 3  # claims of an item a passing fault may take; the last one fails the item with its error
UNSENT_ITEM = {"type": "EngineError", "message": "The item was never queued: its job's expansion failed three times"}


class ItemBusy(Exception):
    """Another worker holds the item's lease: the message comes back later (SQS visibility)."""


def passing_fault(error: BaseException) -> SnapscribeError | None:
    """The typed error of a fault worth another attempt (throttling, an engine that did not answer in time), or
    None. A synchronous request answers these at once; a job's item is tried again."""
    if isinstance(error, SnapscribeError):
        return error if error.retryable or isinstance(error, EngineTimeout) else None
    if isinstance(error, TimeoutError):
        return EngineTimeout("the engine did not answer in time")
    return None


class Worker:
    def __init__(
        self,
        jobs: JobServices,
        deps: Callable[[], Deps],
        kinds: dict[str, JobKind],
        *,
        lease_seconds: int,
        clock: Callable[[], float] = time.time,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.jobs = jobs
        self._deps = deps
        self.kinds = kinds
        self.lease_seconds = lease_seconds
        self.clock = clock
        self.max_attempts = max_attempts
        # A finisher's claim is stale once its invocation must have ended (the lease is twice the worker's
        # timeout), and after two minutes at most.
        stale_after = min(FINISH_STALE_SECONDS, lease_seconds)
        self.finisher = Finisher(jobs, deps, kinds, self._plan, stale_after=stale_after, clock=clock)
        self._plans: OrderedDict[str, WorkPlan] = OrderedDict()  # a few recent jobs' plans, per instance
        self._jobs: dict[str, Job] = {}  # jobs read for this batch's messages (their cancel is read per item)
        self.touched: set[str] = set()  # jobs whose items this instance resolved since finish_touched()

    def _plan(self, job: Job) -> WorkPlan:
        if job.job_id not in self._plans:
            context = self.kinds[job.kind].context_model
            self._plans[job.job_id] = self.jobs.files.plan(job.owner, job.job_id, context)
            while len(self._plans) > 8:
                self._plans.popitem(last=False)
        return self._plans[job.job_id]

    # --- messages -----------------------------------------------------------------------------------
    def _job(self, job_id: str) -> Job | None:
        if job_id not in self._jobs:
            job = self.jobs.store.get(job_id)
            if job is None:
                return None
            self._jobs[job_id] = job
        return self._jobs[job_id]

    def batch_order(self, deliveries: list[Delivery]) -> BatchOrder:
        """The order to run a batch in: an item whose worker died running it runs last, one a batch."""
        return batch_order(self.jobs.store, deliveries, now=int(self.clock()))

    def handle(self, message: dict[str, Any], *, finish: bool = True) -> None:
        """One message; an exception leaves it on the queue for another delivery. With `finish=False` (a batch),
        the jobs it touched are finished by finish_touched() once the batch is done: one check per job."""
        job = self._job(str(message["job"]))
        if job is None or job.finished:
            return  # gone (expired), or finished: nothing left to do
        if "expand" in message:
            self._expand(job, *(int(bound) for bound in message["expand"]))
        elif "finalize" in message:
            self.finish_if_done(job.job_id)
        else:
            self._run(job, int(message["item"]))
        if finish:
            self.finish_touched()

    def finish_touched(self) -> None:
        """Finish every job this instance resolved items of whose last item is now resolved. The batch is over:
        its jobs are read afresh for the next one."""
        touched, self.touched = self.touched, set()
        self._jobs = {}
        for job_id in sorted(touched):
            self.finish_if_done(job_id)

    def finish_if_done(self, job_id: str) -> None:
        self.finisher.finish_if_done(job_id)

    def dead_letter(self, message: dict[str, Any]) -> None:
        """A message SQS gave up on after three receives: its item failed, or, for an expansion, every item of its
        range nobody has claimed (their holds come back when the job is finished); a finalisation is tried once
        more."""
        job_id = str(message["job"])
        if "item" in message:
            self.jobs.store.resolve_item(job_id, int(message["item"]), ITEM_FAILED, token=None, error=DEAD_ITEM)
        elif "expand" in message:
            start, end = (int(bound) for bound in message["expand"])
            self.jobs.store.resolve_unclaimed(job_id, range(start, end), ITEM_FAILED, error=UNSENT_ITEM)
        self.finish_if_done(job_id)

    def _cancelled(self, job: Job) -> bool:
        """Whether the job's cancel is requested, read before each item (a cancel shows at once, mid-batch)."""
        if job.cancel_requested:
            return True
        if self.jobs.store.cancel_requested(job.job_id):
            self._jobs[job.job_id] = replace(job, cancel_requested=True)
            return True
        return False

    def _expand(self, job: Job, start: int, end: int) -> None:
        if self._cancelled(job):  # nothing more is sent: what nobody has claimed is cancelled
            self.jobs.store.resolve_unclaimed(job.job_id, range(start, end), ITEM_CANCELLED, error=CANCELLED_ITEM)
            self.touched.add(job.job_id)
            return
        stop = min(end, start + EXPAND_CHUNK)
        self.jobs.work.send(item_messages(job.job_id, start, stop))
        if stop < end:
            self.jobs.work.send([{"job": job.job_id, "expand": [stop, end]}])

    def _run(self, job: Job, index: int) -> None:
        store = self.jobs.store
        cancelled = self._cancelled(job)
        if cancelled:
            self.touched.add(job.job_id)
            if store.resolve_item(job.job_id, index, ITEM_CANCELLED, token=None, error=CANCELLED_ITEM):
                return  # not started, and now never will be
        token = uuid.uuid4().hex
        now = int(self.clock())
        claim = store.claim_item(job.job_id, index, token=token, lease_until=now + self.lease_seconds, now=now)
        if claim == RESOLVED:
            # A redelivery of work already counted (the claim completes a count its resolver did not make). Its
            # worker may have been stopped before finishing the job: whoever sees the item resolved checks.
            self.touched.add(job.job_id)
            return
        if claim == BUSY:  # another worker is on it: if it dies, this message's redelivery takes the item over
            raise ItemBusy(f"item {index} of job {job.job_id} is being run by another worker")
        if cancelled:  # started before the cancel by a worker that is gone: it does not start again
            store.resolve_item(job.job_id, index, ITEM_CANCELLED, token=token, error=CANCELLED_ITEM)
            return
        if job.status == QUEUED:
            store.mark_running(job.job_id, iso(self.clock()))
        kind = self.kinds[job.kind]
        plan = self._plan(job)
        try:
            outcome = run_item(kind, plan, index, self._deps())
        except Exception as error:  # a passing fault, or a fault of ours: tried again
            if self._try_again(job, index, token, error):
                raise
            return
        if outcome.error is not None and passing_fault(outcome.error) is not None:
            if self._try_again(job, index, token, outcome.error):
                raise outcome.error
            return
        self._resolve(job, index, token, outcome)

    def _try_again(self, job: Job, index: int, token: str, error: Exception) -> bool:
        """After an attempt that ended in `error`: True when the item is to be tried again (its claim given back,
        so that its message's next delivery runs it at once, instead of finding it busy until the lease ends);
        False when this was its last attempt at a passing fault, and it failed with that error. A fault of ours is
        tried again until SQS gives up on the message (its dead letter fails the item)."""
        store = self.jobs.store
        typed = passing_fault(error)
        if typed is None:
            log.exception("item %s of job %s failed: it will be tried again", index, job.job_id, exc_info=error)
        else:
            claim = store.item_claim(job.job_id, index)
            if claim is not None and claim.attempts >= self.max_attempts:
                store.resolve_item(job.job_id, index, ITEM_FAILED, token=token, error=error_record(typed))
                self.touched.add(job.job_id)
                return False
        store.release_item(job.job_id, index, token=token)
        return True

    def _resolve(self, job: Job, index: int, token: str, outcome: ItemOutcome) -> None:
        store = self.jobs.store
        if outcome.output is not None:
            text = json.dumps(outcome.output, ensure_ascii=False)
            if len(text.encode("utf-8")) <= OUTPUT_INLINE_BYTES:
                store.resolve_item(job.job_id, index, ITEM_DONE, token=token, error=None, output=text)
            else:
                key = self.jobs.files.put_output(job.owner, job.job_id, index, text)
                store.resolve_item(job.job_id, index, ITEM_DONE, token=token, error=None, output_key=key)
        else:
            assert outcome.error is not None
            store.resolve_item(job.job_id, index, ITEM_FAILED, token=token, error=error_record(outcome.error))
        self.touched.add(job.job_id)

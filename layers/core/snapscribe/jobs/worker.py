"""What the worker does with one message of the work queue: an item, an expansion, or a finalisation.

SQS delivers at least once and a worker can be stopped at any instant, so every step that counts is a
conditional write: an item is claimed (one worker at a time, taken over only when its lease has run out),
resolved once and counted on its job in the same transaction, and whoever resolves the last item finishes
the job (claimed once): the result in item order, the hold settled with what succeeded, the webhook queued.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from snapscribe.accounts.models import Principal
from snapscribe.caller import Caller
from snapscribe.errors import EngineError, SnapscribeError
from snapscribe.jobs.model import (
    BUSY,
    CANCELLED,
    FAILED,
    ITEM_CANCELLED,
    ITEM_DONE,
    ITEM_FAILED,
    QUEUED,
    RESOLVED,
    SUCCEEDED,
    Job,
)
from snapscribe.jobs.plan import Deps, ItemOutcome, JobKind, WorkPlan, error_from_record, error_record
from snapscribe.jobs.run import run_item
from snapscribe.jobs.submit import JobServices, iso, item_messages

log = logging.getLogger(__name__)

EXPAND_CHUNK = 500  # items sent per expansion message (the rest follow in another)
OUTPUT_INLINE_BYTES = 100_000  # an item's output up to this size is kept in its record, larger ones in the bucket
CANCELLED_ITEM = {"type": "Cancelled", "message": "The job was cancelled before this item ran"}
DEAD_ITEM = {"type": "EngineError", "message": "The item failed three times: its worker stopped or timed out"}


class Cancelled(SnapscribeError):
    """An item that did not run because its job was cancelled."""


class ItemBusy(Exception):
    """Another worker holds the item's lease: the message comes back later (SQS visibility)."""


class Worker:
    def __init__(
        self,
        jobs: JobServices,
        deps: Callable[[], Deps],
        kinds: dict[str, JobKind],
        *,
        lease_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.jobs = jobs
        self._deps = deps
        self.kinds = kinds
        self.lease_seconds = lease_seconds
        self.clock = clock
        self._plans: OrderedDict[str, WorkPlan] = OrderedDict()  # a few recent jobs' plans, per instance
        self._jobs: dict[str, Job] = {}  # jobs read for this batch's messages (a cancel shows from the next batch)
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

    def dead_letter(self, message: dict[str, Any]) -> None:
        """A message SQS gave up on after three receives: its item failed (its hold comes back when the job
        is finished); a finalisation is tried once more."""
        job_id = str(message["job"])
        if "item" in message:
            self.jobs.store.resolve_item(job_id, int(message["item"]), ITEM_FAILED, token=None, error=DEAD_ITEM)
        self.finish_if_done(job_id)

    def _expand(self, job: Job, start: int, end: int) -> None:
        stop = min(end, start + EXPAND_CHUNK)
        self.jobs.work.send(item_messages(job.job_id, start, stop))
        if stop < end:
            self.jobs.work.send([{"job": job.job_id, "expand": [stop, end]}])

    def _run(self, job: Job, index: int) -> None:
        store = self.jobs.store
        if job.cancel_requested:  # not started, and now never will be
            store.resolve_item(job.job_id, index, ITEM_CANCELLED, token=None, error=CANCELLED_ITEM)
            self.touched.add(job.job_id)
            return
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
        if job.status == QUEUED:
            store.mark_running(job.job_id, iso(self.clock()))
        kind = self.kinds[job.kind]
        plan = self._plan(job)
        outcome = run_item(kind, plan, index, self._deps())
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

    # --- finishing ----------------------------------------------------------------------------------
    def finish_if_done(self, job_id: str) -> None:
        job = self.jobs.store.get(job_id)
        if job is None or job.finished or job.remaining > 0:
            return
        now = int(self.clock())
        if not self.jobs.store.claim_finalization(
            job_id, token=uuid.uuid4().hex, now=now, stale_after=self.lease_seconds
        ):
            return  # another worker finishes it
        self._finish(job)

    def _outcomes(self, job: Job) -> list[ItemOutcome]:
        """Every item's outcome, in item order: its output (from its record, or the bucket), or its error."""
        records = self.jobs.store.items(job.job_id)
        stored = self.jobs.files.outputs(
            {index: record.output_key for index, record in records.items() if record.output_key}
        )
        outcomes = []
        for index in range(job.total):
            record = records.get(index)
            if record is None or record.status not in (ITEM_DONE, ITEM_FAILED, ITEM_CANCELLED):
                raise LookupError(f"item {index} of job {job.job_id} is not resolved")
            if record.status == ITEM_DONE:
                output = stored[index] if record.output_key else json.loads(record.output or "{}")
                outcomes.append(ItemOutcome(output=output))
            elif record.status == ITEM_CANCELLED or (record.error or {}).get("type") == "Cancelled":
                outcomes.append(ItemOutcome(error=Cancelled(CANCELLED_ITEM["message"])))
            else:
                outcomes.append(ItemOutcome(error=error_from_record(record.error or DEAD_ITEM)))
        return outcomes

    def _finish(self, job: Job) -> None:
        kind, plan, deps = self.kinds[job.kind], self._plan(job), self._deps()
        caller = Caller(
            principal=Principal(user_id=job.owner, key_id=job.key_id, rate_limit=0),
            request_id=job.request_id,
            route=job.route,
            job_id=job.job_id,
        )
        outcomes = self._outcomes(job)
        skipped = any(isinstance(item.error, Cancelled) for item in outcomes)
        if skipped and kind.all_or_nothing:  # cancelled before every item ran: no answer, nothing charged
            deps.accounts.settle(job.hold, refund=job.hold.cost)
            self._record(job, CANCELLED, None, None, charged=0)
            return
        used = 0
        outcome: BaseModel | SnapscribeError
        try:
            finished = kind.finish(plan, outcomes, caller, deps)
            outcome, used = finished.result, finished.used
        except SnapscribeError as error:
            outcome = error
        except Exception:  # a fault of ours while finishing: logged; the job fails and everything comes back
            log.exception("finishing job %s failed", job.job_id)
            outcome = EngineError("the job could not be finished")
        deps.accounts.settle(job.hold, refund=job.hold.cost - used)
        result_status, body = kind.answer(outcome)
        status = CANCELLED if skipped else (SUCCEEDED if result_status < 400 else FAILED)
        self._record(job, status, result_status, body, charged=used)

    def _record(self, job: Job, status: str, result_status: int | None, body: Any, *, charged: int) -> None:
        """The finished job: its status, the result (in its record, or in the bucket if large), what it cost;
        then its webhook, queued once."""
        inline = key = None
        if body is not None:
            text = json.dumps(body, ensure_ascii=False)
            if len(text.encode("utf-8")) <= self.jobs.result_inline_bytes:
                inline = text
            else:
                key = self.jobs.files.put_result(job.owner, job.job_id, text)
        self.jobs.store.finish(
            job.job_id,
            status=status,
            result_status=result_status,
            result=inline,
            result_key=key,
            charged=charged,
            now=iso(self.clock()),
        )
        if job.callback_url and self.jobs.store.mark_webhook_queued(job.job_id):
            self.jobs.webhooks.send([{"job": job.job_id}])

"""Finishing a job, once every item is resolved: claimed by one finisher (a conditional update), the outputs read in
item order, the kind's answer, the hold settled with what succeeded, the result recorded, the webhook queued once.

A finisher can be stopped at any instant. Its claim goes stale after `stale_after` seconds (no longer than its
invocation can last, and two minutes at most), and the next finalisation request (a redelivery, the reaper's, a
cancel's) takes it over. Taking over a finisher that is still alive is safe: settling only changes a hold still
reserved, the job is recorded only while unfinished, and its webhook is queued once, so whoever finishes, the hold
is settled once and the job recorded once.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from snapscribe.accounts.models import Principal
from snapscribe.caller import Caller
from snapscribe.errors import EngineError, SnapscribeError
from snapscribe.jobs.model import (
    CANCELLED,
    CANCELLED_ITEM,
    DEAD_ITEM,
    FAILED,
    ITEM_CANCELLED,
    ITEM_DONE,
    ITEM_FAILED,
    SUCCEEDED,
    Job,
)
from snapscribe.jobs.plan import Deps, ItemOutcome, JobKind, WorkPlan, error_from_record
from snapscribe.jobs.submit import JobServices, iso

log = logging.getLogger(__name__)

# A finisher's claim is taken over after this long at most: well before a stopped one would hold a job up for long.
FINISH_STALE_SECONDS = 120


class Cancelled(SnapscribeError):
    """An item that did not run because its job was cancelled."""


class Finisher:
    def __init__(
        self,
        jobs: JobServices,
        deps: Callable[[], Deps],
        kinds: dict[str, JobKind],
        plan: Callable[[Job], WorkPlan],
        *,
        stale_after: int = FINISH_STALE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.jobs = jobs
        self._deps = deps
        self.kinds = kinds
        self._plan = plan
        self.stale_after = stale_after
        self.clock = clock

    def finish_if_done(self, job_id: str) -> None:
        job = self.jobs.store.get(job_id)
        if job is None or job.finished or job.remaining > 0:
            return
        now = int(self.clock())
        if not self.jobs.store.claim_finalization(
            job_id, token=uuid.uuid4().hex, now=now, stale_after=self.stale_after
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
        # A job whose cancel was accepted ends cancelled, once its hold is settled, even if every item had started.
        status = CANCELLED if skipped or job.cancel_requested else (SUCCEEDED if result_status < 400 else FAILED)
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

"""Run a plan in this invocation: the synchronous path of every charging API."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic import BaseModel

from snapscribe.caller import Caller
from snapscribe.errors import SnapscribeError, TooLongForSync
from snapscribe.jobs.plan import Deps, ItemOutcome, JobKind, WorkPlan


def check_deadline(plan: WorkPlan, caller: Caller, deps: Deps) -> None:
    """Refuse, before anything is charged, work that cannot finish before this invocation ends."""
    if caller.ends_at is None:
        return
    left = caller.ends_at - time.time() - deps.settings.sync_margin_seconds
    if plan.seconds > left:
        raise TooLongForSync(
            f"This request needs about {plan.seconds:.0f} s of work, more than the {max(0, left):.0f} s a "
            "synchronous request has: send it again with the header 'Prefer: respond-async' to run it as a job "
            "(answered 202 at once; its statusUrl tells the progress and, at the end, the result)"
        )


def run_item(kind: JobKind, plan: WorkPlan, index: int, deps: Deps) -> ItemOutcome:
    """One item, its typed error kept as its outcome (what a worker records for the item). A passing fault (an
    upstream model's throttling) is raised instead: a worker's message is then delivered again (SQS bounds how
    often; the dead letter fails the item), a synchronous request answers it."""
    try:
        return ItemOutcome(output=kind.run_item(plan, index, deps))
    except SnapscribeError as error:
        if error.retryable:
            raise
        return ItemOutcome(error=error)


def run_now(kind: JobKind, request: Any, caller: Caller, deps: Deps) -> BaseModel:
    """The synchronous call: plan (the API's checks), check the deadline, hold, run every item in this invocation
    (the same operation a worker runs per item; no job record), finish, settle what it used. All-or-nothing work
    stops at its first failed item and raises it; other work runs `plan.parallel` items at once."""
    plan = kind.plan(request, caller, deps)
    check_deadline(plan, caller, deps)
    indexes = range(len(plan.items))
    with deps.accounts.hold(caller, plan.hold) as hold:
        if kind.all_or_nothing:
            outcomes = []
            for index in indexes:  # a loop, not a comprehension: one frame fewer between the route and the engine
                outcomes.append(ItemOutcome(output=kind.run_item(plan, index, deps)))
        else:
            with ThreadPoolExecutor(max_workers=max(1, plan.parallel), thread_name_prefix="item") as pool:
                outcomes = list(pool.map(lambda index: run_item(kind, plan, index, deps), indexes))
        finished = kind.finish(plan, outcomes, caller, deps)
        hold.use(finished.used)
        return finished.result

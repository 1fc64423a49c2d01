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
    try:
        return ItemOutcome(output=kind.run_item(plan, index, deps))
    except SnapscribeError as error:
        return ItemOutcome(error=error)


def run_items(kind: JobKind, plan: WorkPlan, deps: Deps) -> list[ItemOutcome]:
    """Every item, in item order. All-or-nothing work stops at its first failed item and raises it."""
    if kind.all_or_nothing:
        outcomes = []
        for index in range(len(plan.items)):
            outcome = run_item(kind, plan, index, deps)
            if outcome.error is not None:
                raise outcome.error
            outcomes.append(outcome)
        return outcomes
    with ThreadPoolExecutor(max_workers=max(1, plan.parallel), thread_name_prefix="item") as pool:
        return list(pool.map(lambda index: run_item(kind, plan, index, deps), range(len(plan.items))))


def run_now(kind: JobKind, request: Any, caller: Caller, deps: Deps) -> BaseModel:
    """Plan (the API's checks), check the deadline, hold, run every item, finish, settle what it used."""
    plan = kind.plan(request, caller, deps)
    check_deadline(plan, caller, deps)
    with deps.accounts.hold(caller, plan.hold) as hold:
        outcomes = run_items(kind, plan, deps)
        finished = kind.finish(plan, outcomes, caller, deps)
        hold.use(finished.used)
        return finished.result

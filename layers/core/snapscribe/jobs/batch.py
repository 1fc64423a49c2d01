"""The order a worker runs a batch of work messages in, so that an item that kills its invocation takes no other
item down with it.

A worker that dies (a crash, its timeout) leaves every message of its batch on the queue: they come back with a
receive count above one. Most of them are innocent: resolved before the death (a redelivery only completes their
count) or never reached. The item that was running when the worker died still has its claim, unresolved, its
lease run out: it is the suspect. Every other message runs first; then one suspect, last and so alone among the
items still to run; the batch's other suspects are handed back (reported as failures: they come back later, each
perhaps in a batch of its own). A suspect that kills its worker at every delivery reaches the dead-letter queue by
itself, and its neighbours have run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from snapscribe.jobs.model import RUNNING, JobStore


@dataclass(frozen=True)
class Delivery:
    message: dict[str, Any]
    receive_count: int  # SQS's ApproximateReceiveCount: 1 the first time the message is received


@dataclass(frozen=True)
class BatchOrder:
    run: list[int]  # positions in the batch, in the order to run them
    handed_back: list[int]  # positions not run in this invocation: reported as failed, they come back


def is_suspect(store: JobStore, delivery: Delivery, *, now: int) -> bool:
    """A redelivered item whose last claim is unresolved and past its lease: its worker died running it. (An item
    given back after a passing fault, or still leased to a live worker, is not.)"""
    message = delivery.message
    if delivery.receive_count <= 1 or "item" not in message:
        return False
    claim = store.item_claim(str(message["job"]), int(message["item"]))
    return claim is not None and claim.status == RUNNING and (claim.lease_until or 0) < now


def batch_order(store: JobStore, deliveries: list[Delivery], *, now: int) -> BatchOrder:
    """Innocent messages first, in their order; then the first suspect; the other suspects handed back."""
    innocent: list[int] = []
    suspects: list[int] = []
    for position, delivery in enumerate(deliveries):
        (suspects if is_suspect(store, delivery, now=now) else innocent).append(position)
    return BatchOrder(run=innocent + suspects[:1], handed_back=suspects[1:])

"""The WorkQueue contract: FakeQueue and SqsQueue (on moto, the template's WorkQueue) pass the same tests: what is
sent arrives once each, as JSON makes it (to SQS ten at a time, batches in parallel, so in no promised order),
and a batch with a message JSON cannot hold sends none of its messages (the batches before it are sent).

Not checkable here: SQS's at-least-once redelivery (the fake's take() hands each message out once; a test hands
one out again itself) and its size limits."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from snapscribe.jobs.model import WorkQueue
from snapscribe.jobs.sqs import SqsQueue
from tests.contracts.conftest import World
from tests.fakes import FakeQueue


@dataclass
class Subject:
    queue: WorkQueue
    received: Callable[[], list[Any]]  # every message waiting, as its consumer reads it


@pytest.fixture(params=["fake", "sqs"])
def subject(request: pytest.FixtureRequest) -> Subject:
    if request.param == "fake":
        fake = FakeQueue()
        return Subject(fake, fake.take)
    world: World = request.getfixturevalue("world")
    return Subject(
        SqsQueue(world.sqs, world.work_queue_url),
        lambda: [json.loads(body) for body in world.received(world.work_queue_url)],
    )


def in_any_order(messages: list[Any]) -> list[str]:
    return sorted(json.dumps(message, sort_keys=True) for message in messages)


@pytest.mark.parametrize("count", [1, 10, 23])
def test_every_message_sent_arrives_once(subject: Subject, count: int) -> None:
    messages = [{"job": "job-1", "item": index} for index in range(count)]
    subject.queue.send(messages)
    assert in_any_order(subject.received()) == in_any_order(messages)
    assert subject.received() == []


def test_sending_nothing_sends_nothing(subject: Subject) -> None:
    subject.queue.send([])
    assert subject.received() == []


def test_a_message_arrives_as_json_makes_it(subject: Subject) -> None:
    message: dict[Any, Any] = {"job": "job-1", "expand": (0, 3000), 7: "seven", "text": "سلام", "none": None}
    subject.queue.send([message])
    assert subject.received() == [{"job": "job-1", "expand": [0, 3000], "7": "seven", "text": "سلام", "none": None}]


def test_a_message_is_sent_as_it_was_when_sent(subject: Subject) -> None:
    message: dict[str, Any] = {"job": "job-1", "items": [1]}
    subject.queue.send([message])
    message["items"].append(2)
    assert subject.received() == [{"job": "job-1", "items": [1]}]


def test_a_batch_with_a_message_json_cannot_hold_sends_none_of_it(subject: Subject) -> None:
    with pytest.raises(TypeError):
        subject.queue.send([{"job": "job-1"}, {"job": "job-2", "when": object()}, {"job": "job-3"}])
    assert subject.received() == []


def test_a_send_is_all_or_nothing_only_ten_messages_at_a_time(subject: Subject) -> None:
    """The batches before the bad one are sent, the bad one is not; a later batch may be (SqsQueue's
    Executor.map cancels the batches not started yet when one fails: which those are is up to its threads)."""
    messages: list[dict[str, Any]] = [{"job": "job-1", "item": index} for index in range(23)]
    messages[12]["when"] = object()  # the second batch's
    with pytest.raises(TypeError):
        subject.queue.send(messages)
    received = in_any_order(subject.received())
    assert set(in_any_order(messages[:10])) <= set(received) <= set(in_any_order(messages[:10] + messages[20:]))

"""The synchronous path of a charging route runs the same item a worker runs, directly: from the declared route
through `perform` and `run_now` to the kind's `run_item`, with no job machinery between and no job record."""

from __future__ import annotations

import inspect

import boto3
import pytest

from snapscribe.engines.local import LocalEngine
from snapscribe.services import from_environment
from tests.conftest import invoke, load_event
from tests.integration.uploads import trigger

SNAPSCRIBE = "/snapscribe/"


def test_the_route_calls_the_item_directly_and_writes_no_job(
    uploaded: boto3.session.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    read_page = LocalEngine.read_page
    stacks: list[list[inspect.FrameInfo]] = []

    def watched(self: LocalEngine, *args: object, **options: object) -> object:
        stacks.append(inspect.stack())
        return read_page(self, *args, **options)

    monkeypatch.setattr(LocalEngine, "read_page", watched)
    trigger()
    assert invoke("OcrByKeyFunction", load_event("ocr_by_key"))["statusCode"] == 200
    frames = [
        (frame.filename.split(SNAPSCRIBE, 1)[-1], frame.function) for frame in stacks[0] if SNAPSCRIBE in frame.filename
    ]
    # Innermost first: the engine's caller is its meter (engines/metered.py, one frame), called by the kind's item,
    # run by run_now, called by perform from the route.
    assert frames[:5] == [
        ("engines/metered.py", "read_page"),
        ("operations/ocr_by_key.py", "run_item"),
        ("jobs/run.py", "run_now"),
        ("web/work.py", "perform"),
        ("web/routing.py", "handler"),
    ]
    assert not [frame for frame in frames if frame[0] in ("jobs/submit.py", "jobs/worker.py")]
    assert from_environment().jobs.store.list_for("events", limit=10, cursor=None).jobs == []

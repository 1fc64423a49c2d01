"""A plan's context is its kind's typed model: kept with a job as JSON and read back into the same model, so a
worker in another invocation sees what the planner decided, typed; another kind's model is refused."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from snapscribe.jobs.plan import PlanContext, WorkPlan
from snapscribe.operations.batch_extraction import BatchContext, PlannedFile
from snapscribe.operations.kinds import KINDS
from snapscribe.operations.ocr_by_key import OcrByKeyContext


def _plan(context: PlanContext) -> WorkPlan:
    return WorkPlan(
        kind="extract_batch", request={}, hold=400, items=[{"file": 0, "page": 1}], seconds=2.5, context=context
    )


def test_a_plan_round_trips_through_json_into_its_kinds_context() -> None:
    file = PlannedFile(uuid="u-1", key="ocr/alice/u-1-scan.pdf", max_bytes=1000, pages=3, processing_pages=2)
    planned = _plan(BatchContext(engine="local", files=[file], credits_per_page=200, languages=["fa"]))
    document = json.loads(json.dumps(planned.to_json()))  # as the bucket keeps it
    again = WorkPlan.from_json(document, {}, KINDS["extract_batch"].context_model)
    assert BatchContext.of(again) == planned.context
    assert BatchContext.of(again).files[0].processing_pages == 2


def test_another_kinds_context_is_refused() -> None:
    planned = _plan(OcrByKeyContext(engine="local", key="ocr/alice/k", max_bytes=10, pages=1))
    with pytest.raises(TypeError, match="OcrByKeyContext, not BatchContext"):
        BatchContext.of(planned)
    with pytest.raises(ValidationError):  # a kept plan that is not this kind's context
        WorkPlan.from_json(planned.to_json(), {}, BatchContext)


def test_every_kind_names_its_context_model() -> None:
    assert all(issubclass(kind.context_model, PlanContext) for kind in KINDS.values())

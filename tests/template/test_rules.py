"""The template's Rules hold the relations its parameters must keep, on every combination of their steps: the
work queue's visibility timeout at least six times the worker's timeout (AWS's advice for SQS event sources: a
message comes back only once its worker is gone), and a reserved concurrency that holds both of the worker's
event sources (a throttled batch comes back and counts as a receive: three and it is dead-lettered)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from snapscribe_tools.parameter_rules import constraint_refusals, refusals, rule_refusals
from snapscribe_tools.template import load_template, parameter_defaults

TEMPLATE = load_template()
PARAMETERS = TEMPLATE["Parameters"]
VISIBILITY_FACTOR = 6
DEAD_LETTER_CONSUMERS = 2  # WorkerFunction's DeadWorkItems event source: its ScalingConfig's MaximumConcurrency


def _steps(name: str) -> list[int]:
    return [int(value) for value in PARAMETERS[name]["AllowedValues"]]


def test_the_defaults_and_the_local_stack_parameters_deploy() -> None:
    assert refusals(TEMPLATE, parameter_defaults(TEMPLATE)) == []


def test_the_dead_letter_consumer_is_the_one_the_concurrency_rule_counts() -> None:
    events = TEMPLATE["Resources"]["WorkerFunction"]["Properties"]["Events"]
    assert events["DeadWorkItems"]["Properties"]["ScalingConfig"]["MaximumConcurrency"] == DEAD_LETTER_CONSUMERS


@pytest.mark.parametrize(
    ("timeout", "visibility"),
    list(itertools.product(_steps("WorkerTimeout"), _steps("WorkQueueVisibilityTimeout"))),
)
def test_a_visibility_timeout_under_six_worker_timeouts_is_refused(timeout: int, visibility: int) -> None:
    parameters = {"WorkerTimeout": str(timeout), "WorkQueueVisibilityTimeout": str(visibility)}
    assert constraint_refusals(TEMPLATE, parameters) == []
    refused = rule_refusals(TEMPLATE, parameters)
    if visibility >= VISIBILITY_FACTOR * timeout:
        assert refused == []
    else:
        assert len(refused) == 1, refused
        assert "WorkQueueVisibilityTimeout must be at least 6 x WorkerTimeout" in refused[0]


def test_every_worker_timeout_has_a_visibility_timeout_it_may_deploy_with() -> None:
    visibilities = _steps("WorkQueueVisibilityTimeout")
    for timeout in _steps("WorkerTimeout"):
        assert VISIBILITY_FACTOR * timeout in visibilities, timeout


@pytest.mark.parametrize(
    ("reserved", "maximum"),
    list(itertools.product(_steps("WorkerReservedConcurrency"), _steps("WorkerMaximumConcurrency"))),
)
def test_a_reserved_concurrency_too_small_for_the_worker_event_sources_is_refused(reserved: int, maximum: int) -> None:
    parameters = {"WorkerReservedConcurrency": str(reserved), "WorkerMaximumConcurrency": str(maximum)}
    assert constraint_refusals(TEMPLATE, parameters) == []
    refused = rule_refusals(TEMPLATE, parameters)
    if reserved == 0 or maximum + DEAD_LETTER_CONSUMERS <= reserved:
        assert refused == []
    else:
        assert len(refused) == 1, refused
        assert "WorkerMaximumConcurrency plus 2" in refused[0]


def test_the_reserved_concurrency_is_the_workers_only_when_set() -> None:
    worker = TEMPLATE["Resources"]["WorkerFunction"]["Properties"]
    assert worker["ReservedConcurrentExecutions"] == {
        "Fn::If": ["ReservesWorkerConcurrency", {"Ref": "WorkerReservedConcurrency"}, {"Ref": "AWS::NoValue"}]
    }
    assert TEMPLATE["Conditions"]["ReservesWorkerConcurrency"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "WorkerReservedConcurrency"}, "0"]}]
    }
    assert PARAMETERS["WorkerReservedConcurrency"]["Default"] == 0
    others = [
        logical_id
        for logical_id, resource in TEMPLATE["Resources"].items()
        if "ReservedConcurrentExecutions" in resource.get("Properties", {}) and logical_id != "WorkerFunction"
    ]
    assert others == []


def _without_rule(name: str) -> dict[str, Any]:
    rules = {rule: body for rule, body in TEMPLATE["Rules"].items() if rule != name}
    return {**TEMPLATE, "Rules": rules}


def test_the_evaluation_finds_a_missing_rule_and_a_value_off_the_steps() -> None:
    # The checks above can fail: without the 300-second rule, 300 with 1080 would deploy.
    breaking = {"WorkerTimeout": "300", "WorkQueueVisibilityTimeout": "1080"}
    assert rule_refusals(TEMPLATE, breaking) != []
    assert rule_refusals(_without_rule("WorkQueueOutlastsWorker300"), breaking) == []
    assert constraint_refusals(TEMPLATE, {"WorkerTimeout": "301"}) != []
    assert constraint_refusals(TEMPLATE, {"ApiTimeout": "30"}) != []  # MaxValue 29

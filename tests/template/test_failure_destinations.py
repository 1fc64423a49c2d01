"""Failure paths that end: every function invoked asynchronously (S3 notifications, the schedule) retries a bounded
number of times within a bounded age, then leaves the event in a dead-letter queue of its own (Lambda's on-failure
destination); the schedule's rule keeps what it could not deliver there too. SAM's grant for the destination is
sqs:SendMessage on that queue alone, and the queue takes the rule's messages only from that rule."""

from __future__ import annotations

from typing import Any

import pytest

from snapscribe_tools.dlq import QUEUES
from snapscribe_tools.template import load_template, resources
from tests.template.sam_transform import transformed

TEMPLATE = load_template()
FUNCTIONS = resources(TEMPLATE, "AWS::Serverless::Function")
ASYNCHRONOUS_EVENTS = {"S3", "Schedule", "ScheduleV2", "SNS", "EventBridgeRule", "CloudWatchEvent", "IoTRule"}
ASYNCHRONOUS = sorted(
    logical_id
    for logical_id, function in FUNCTIONS.items()
    if any(event["Type"] in ASYNCHRONOUS_EVENTS for event in function["Properties"].get("Events", {}).values())
)
FOURTEEN_DAYS = 1_209_600


def _invoke_config(logical_id: str) -> dict[str, Any]:
    config: dict[str, Any] = FUNCTIONS[logical_id]["Properties"]["EventInvokeConfig"]
    return config


def _destination(logical_id: str) -> str:
    on_failure = _invoke_config(logical_id)["DestinationConfig"]["OnFailure"]
    assert on_failure["Type"] == "SQS"
    queue: str = on_failure["Destination"]["Fn::GetAtt"][0]
    return queue


def test_the_asynchronous_functions_are_the_upload_check_and_housekeeping() -> None:
    assert ASYNCHRONOUS == ["HousekeepingFunction", "UploadEventsFunction"]


@pytest.mark.parametrize("logical_id", ASYNCHRONOUS)
def test_an_asynchronous_event_is_retried_a_bounded_time_then_dead_lettered(logical_id: str) -> None:
    config = _invoke_config(logical_id)
    assert 0 <= config["MaximumRetryAttempts"] <= 2
    assert 60 <= config["MaximumEventAgeInSeconds"] <= 3600
    queue = TEMPLATE["Resources"][_destination(logical_id)]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert queue["Properties"]["MessageRetentionPeriod"] == FOURTEEN_DAYS
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert _destination(logical_id) in QUEUES.values()  # snapscribe dlq lists and redrives it


def test_each_asynchronous_function_has_a_dead_letter_queue_of_its_own() -> None:
    destinations = [_destination(logical_id) for logical_id in ASYNCHRONOUS]
    assert len(set(destinations)) == len(destinations)
    redrive_targets = {
        queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for queue in resources(TEMPLATE, "AWS::SQS::Queue").values()
        if "RedrivePolicy" in queue["Properties"]
    }
    assert not redrive_targets & set(destinations)  # our messages and Lambda's records never share a queue


def test_sam_grants_each_function_sending_to_its_own_destination_alone() -> None:
    resources_ = transformed()["Resources"]
    for logical_id in ASYNCHRONOUS:
        policies = resources_[f"{logical_id}Role"]["Properties"]["Policies"]
        (destination_policy,) = [policy for policy in policies if "OnFailure" in policy["PolicyName"]]
        assert destination_policy["PolicyDocument"]["Statement"] == [
            {
                "Action": "sqs:SendMessage",
                "Effect": "Allow",
                "Resource": {"Fn::GetAtt": [_destination(logical_id), "Arn"]},
            }
        ]
        config = resources_[f"{logical_id}EventInvokeConfig"]["Properties"]
        assert config["FunctionName"] == {"Ref": logical_id}
        assert config["MaximumRetryAttempts"] == _invoke_config(logical_id)["MaximumRetryAttempts"]


def test_the_schedule_keeps_what_it_could_not_deliver_in_the_housekeeping_queue() -> None:
    (event,) = FUNCTIONS["HousekeepingFunction"]["Properties"]["Events"].values()
    assert event["Type"] == "Schedule"
    assert event["Properties"]["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["HousekeepingDeadLetterQueue", "Arn"]}}
    resources_ = transformed()["Resources"]
    rule = resources_["HousekeepingFunctionHousekeeping"]  # SAM's name for the schedule's rule
    assert rule["Type"] == "AWS::Events::Rule"
    (target,) = rule["Properties"]["Targets"]
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["HousekeepingDeadLetterQueue", "Arn"]}}
    policies = [
        policy["Properties"]
        for policy in resources(TEMPLATE, "AWS::SQS::QueuePolicy").values()
        if {"Ref": "HousekeepingDeadLetterQueue"} in policy["Properties"]["Queues"]
    ]
    (policy,) = policies
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["HousekeepingFunctionHousekeeping", "Arn"]}}
    }

"""`snapscribe dlq list|redrive`: each dead-letter queue's depth and a sample of its messages (job, item), and a
redrive. SQS message move tasks are proven at botocore's layer (Stubber: the exact StartMessageMoveTask call, and
what an endpoint without move tasks answers); moto has none, so the receive-and-send fallback runs on moto, in
process and over HTTP through the CLI against a local stack's state."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from snapscribe_tools import cli
from snapscribe_tools.dlq import DeadLetterQueue, dead_letter_queue, listing, redrive
from snapscribe_tools.resources import local_names
from snapscribe_tools.template import load_template

NAMES = local_names(load_template())
URL = "https://sqs.us-east-1.amazonaws.com/123456789012/snapscribe-WorkDeadLetterQueue"
ARN = "arn:aws:sqs:us-east-1:123456789012:snapscribe-WorkDeadLetterQueue"
SOURCE = "https://sqs.us-east-1.amazonaws.com/123456789012/snapscribe-WorkQueue"
QUEUE = DeadLetterQueue("WorkDeadLetterQueue", URL, ARN)


def _stubbed() -> Any:
    return botocore.session.get_session().create_client(
        "sqs", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )


# --- move tasks, at botocore's layer -----------------------------------------------------------------
def test_a_redrive_is_a_message_move_task_back_to_the_source_queues() -> None:
    sqs = _stubbed()
    with Stubber(sqs) as stub:
        stub.add_response("start_message_move_task", {"TaskHandle": "task-1"}, {"SourceArn": ARN})
        assert redrive(sqs, QUEUE) == {"queue": "WorkDeadLetterQueue", "method": "move-task", "taskHandle": "task-1"}
        stub.add_response(
            "get_queue_attributes",
            {"Attributes": {"QueueArn": "arn:aws:sqs:us-east-1:123456789012:elsewhere"}},
            {"QueueUrl": SOURCE + "-elsewhere", "AttributeNames": ["QueueArn"]},
        )
        stub.add_response(
            "start_message_move_task",
            {"TaskHandle": "task-2"},
            {
                "SourceArn": ARN,
                "DestinationArn": "arn:aws:sqs:us-east-1:123456789012:elsewhere",
                "MaxNumberOfMessagesPerSecond": 20,
            },
        )
        assert redrive(sqs, QUEUE, destination=SOURCE + "-elsewhere", rate=20)["taskHandle"] == "task-2"
        stub.assert_no_pending_responses()


def test_where_there_are_no_move_tasks_the_messages_are_received_sent_and_deleted() -> None:
    sqs = _stubbed()
    body = json.dumps({"job": "j-1", "item": 4})
    with Stubber(sqs) as stub:
        stub.add_client_error(
            "start_message_move_task", service_error_code="UnsupportedOperation", http_status_code=400
        )
        stub.add_response("list_dead_letter_source_queues", {"queueUrls": [SOURCE]}, {"QueueUrl": URL})
        received = {"Messages": [{"MessageId": "m-1", "ReceiptHandle": "r-1", "Body": body}]}
        stub.add_response("receive_message", received)
        stub.add_response(
            "send_message_batch",
            {"Successful": [{"Id": "0", "MessageId": "m-2", "MD5OfMessageBody": "x"}], "Failed": []},
            {"QueueUrl": SOURCE, "Entries": [{"Id": "0", "MessageBody": body}]},
        )
        stub.add_response(
            "delete_message_batch",
            {"Successful": [{"Id": "0"}], "Failed": []},
            {"QueueUrl": URL, "Entries": [{"Id": "0", "ReceiptHandle": "r-1"}]},
        )
        stub.add_response("receive_message", {"Messages": []})
        assert redrive(sqs, QUEUE) == {
            "queue": "WorkDeadLetterQueue",
            "method": "receive-and-send",
            "to": SOURCE,
            "moved": 1,
        }
        stub.assert_no_pending_responses()


def test_a_move_task_refused_for_another_reason_is_not_worked_around() -> None:
    sqs = _stubbed()
    with Stubber(sqs) as stub:
        stub.add_client_error("start_message_move_task", service_error_code="AccessDenied", http_status_code=403)
        with pytest.raises(ClientError, match="AccessDenied"):
            redrive(sqs, QUEUE)


# --- the fallback, on moto -----------------------------------------------------------------------------
def _queue(sqs: Any, logical_id: str) -> DeadLetterQueue:
    return dead_letter_queue(sqs, logical_id, sqs.get_queue_url(QueueName=NAMES[logical_id])["QueueUrl"])


def _bodies(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
    return sorted((json.loads(message["Body"]) for message in messages), key=json.dumps)


def test_the_dead_letters_are_listed_and_moved_back_to_their_queue_on_moto(aws: boto3.session.Session) -> None:
    sqs = aws.client("sqs")
    dead = _queue(sqs, "WorkDeadLetterQueue")
    sent = [{"job": "j-1", "item": 4}, {"job": "j-1", "expand": [0, 700]}, {"job": "j-2", "finalize": True}]
    for message in sent:
        sqs.send_message(QueueUrl=dead.url, MessageBody=json.dumps(message))
    listed = listing(sqs, dead)
    assert (listed["queue"], listed["messages"], listed["inFlight"]) == ("WorkDeadLetterQueue", 3, 0)
    described = sorted(
        (
            {name: entry[name] for name in ("job", "item", "expand", "finalize") if name in entry}
            for entry in listed["sample"]
        ),
        key=json.dumps,
    )
    assert described == sorted(sent, key=json.dumps)
    assert all(entry["receiveCount"] == 1 and entry["sentAt"].endswith("Z") for entry in listed["sample"])
    assert listing(sqs, dead)["messages"] == 3  # a sample leaves them there
    moved = redrive(sqs, dead)  # moto has no move tasks: received, sent and deleted
    work = sqs.get_queue_url(QueueName=NAMES["WorkQueue"])["QueueUrl"]
    assert (moved["method"], moved["to"], moved["moved"]) == ("receive-and-send", work, 3)
    assert listing(sqs, dead, sample=0)["messages"] == 0
    assert _bodies(sqs, work) == sorted(sent, key=json.dumps)


def test_the_cli_lists_and_redrives_a_local_stacks_dead_letters(
    moto_http: boto3.session.Session,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import os

    state = tmp_path / "stack.json"
    state.write_text(json.dumps({"awsEndpoint": os.environ["AWS_ENDPOINT_URL"], "names": NAMES}))
    monkeypatch.setenv("SNAPSCRIBE_STATE_FILE", str(state))
    sqs = moto_http.client("sqs")
    webhooks = _queue(sqs, "WebhookDeadLetterQueue")
    sqs.send_message(QueueUrl=webhooks.url, MessageBody=json.dumps({"job": "j-9"}))
    assert cli.main(["dlq", "list", "--local"]) == 0
    queues = {entry["queue"]: entry for entry in json.loads(capsys.readouterr().out)["queues"]}
    assert (queues["WorkDeadLetterQueue"]["messages"], queues["WebhookDeadLetterQueue"]["messages"]) == (0, 1)
    assert [entry["job"] for entry in queues["WebhookDeadLetterQueue"]["sample"]] == ["j-9"]
    assert cli.main(["dlq", "redrive", "--queue", "webhook"]) == 0
    (redriven,) = json.loads(capsys.readouterr().out)["redriven"]
    assert (redriven["method"], redriven["moved"]) == ("receive-and-send", 1)  # no move tasks on the local stack
    webhook_queue = sqs.get_queue_url(QueueName=NAMES["WebhookQueue"])["QueueUrl"]
    assert _bodies(sqs, webhook_queue) == [{"job": "j-9"}]

"""`snapscribe dlq` on the asynchronous functions' dead-letter queues: Lambda's destination records (an upload's S3
event that failed every retry) and EventBridge's undelivered schedule are listed with their event and error; an
upload's record is redriven by invoking its function again with the same event (Lambda at botocore's layer,
Stubber: moto runs no function without Docker), deleted only once Lambda took it; a housekeeping run is refused
with the reason. The queues are the template's own, in moto."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.stub import ANY, Stubber

from snapscribe_tools import cli
from snapscribe_tools.dlq import QUEUES, DeadLetterQueue, dead_letter_queue, listing, redrive
from snapscribe_tools.resources import local_names
from snapscribe_tools.template import load_template

NAMES = local_names(load_template())
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:snapscribe-UploadEventsFunction-x1:$LATEST"
UPLOAD_KEY = "ocr/events/0f8e2c55-6d1b-4d0a-9a53-3c1f4b2a7e10-scan.png"
S3_EVENT = {
    "Records": [
        {
            "eventSource": "aws:s3",
            "eventName": "ObjectCreated:Post",
            "s3": {"bucket": {"name": "snapscribe-files"}, "object": {"key": UPLOAD_KEY, "size": 5120}},
        }
    ]
}


def _record(payload: dict[str, Any], condition: str = "RetriesExhausted") -> dict[str, Any]:
    """A destination record as Lambda sends it to an SQS on-failure destination."""
    return {
        "version": "1.0",
        "timestamp": "2026-12-04T10:00:00.000Z",
        "requestContext": {
            "requestId": "e4b46cbf-b738-4b6c-8880-a18cdf61200e",
            "functionArn": FUNCTION_ARN,
            "condition": condition,
            "approximateInvokeCount": 3,
        },
        "requestPayload": payload,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {
            "errorMessage": "An error occurred (AccessDenied) when calling the GetObject operation",
            "errorType": "ClientError",
            "stackTrace": ["..."],
        },
    }


def _queue(sqs: Any, logical_id: str) -> DeadLetterQueue:
    return dead_letter_queue(sqs, logical_id, sqs.get_queue_url(QueueName=NAMES[logical_id])["QueueUrl"])


def _lambda() -> Any:
    return botocore.session.get_session().create_client(
        "lambda", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )


def _depth(sqs: Any, queue: DeadLetterQueue) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue.url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_every_dead_letter_queue_of_the_template_is_the_commands() -> None:
    assert set(QUEUES.values()) == {name for name in NAMES if name.endswith("DeadLetterQueue")}


def test_a_failed_upload_event_is_listed_with_its_object_and_error(aws: boto3.session.Session) -> None:
    sqs = aws.client("sqs")
    dead = _queue(sqs, "UploadEventsDeadLetterQueue")
    sqs.send_message(QueueUrl=dead.url, MessageBody=json.dumps(_record(S3_EVENT, "EventAgeExceeded")))
    listed = listing(sqs, dead)
    assert listed["messages"] == 1
    (entry,) = listed["sample"]
    assert entry["function"] == "snapscribe-UploadEventsFunction-x1:$LATEST"
    assert (entry["condition"], entry["attempts"], entry["failedAt"]) == (
        "EventAgeExceeded",
        3,
        "2026-12-04T10:00:00.000Z",
    )
    assert entry["error"] == {
        "errorType": "ClientError",
        "errorMessage": "An error occurred (AccessDenied) when calling the GetObject operation",
    }
    assert entry["objects"] == [f"snapscribe-files/{UPLOAD_KEY}"]
    assert entry["requestPayload"] == S3_EVENT
    assert "stackTrace" not in json.dumps(entry)


def test_an_undelivered_schedule_is_listed_with_eventbridges_error(aws: boto3.session.Session) -> None:
    sqs = aws.client("sqs")
    dead = _queue(sqs, "HousekeepingDeadLetterQueue")
    event = {"version": "0", "source": "aws.events", "detail-type": "Scheduled Event", "time": "2026-12-04T10:05:00Z"}
    attributes = {
        "ERROR_CODE": {"DataType": "String", "StringValue": "NO_PERMISSIONS"},
        "ERROR_MESSAGE": {"DataType": "String", "StringValue": "EventBridge may not invoke the function"},
        "RETRY_ATTEMPTS": {"DataType": "Number", "StringValue": "0"},
    }
    sqs.send_message(QueueUrl=dead.url, MessageBody=json.dumps(event), MessageAttributes=attributes)
    (entry,) = listing(sqs, dead)["sample"]
    assert entry["undelivered"] == "Scheduled Event"
    assert entry["time"] == "2026-12-04T10:05:00Z"
    assert entry["error"] == {
        "errorCode": "NO_PERMISSIONS",
        "errorMessage": "EventBridge may not invoke the function",
        "retryAttempts": "0",
    }


def test_an_upload_record_is_redriven_by_invoking_its_function_again(aws: boto3.session.Session) -> None:
    sqs = aws.client("sqs")
    dead = _queue(sqs, "UploadEventsDeadLetterQueue")
    for _ in range(2):
        sqs.send_message(QueueUrl=dead.url, MessageBody=json.dumps(_record(S3_EVENT)))
    lambda_client = _lambda()
    expected = {"FunctionName": FUNCTION_ARN, "InvocationType": "Event", "Payload": ANY}
    payloads: list[Any] = []
    lambda_client.meta.events.register(
        "before-parameter-build.lambda.Invoke", lambda params, **_: payloads.append(json.loads(params["Payload"]))
    )
    with Stubber(lambda_client) as stub:
        stub.add_response("invoke", {"StatusCode": 202}, expected)
        stub.add_response("invoke", {"StatusCode": 202}, expected)
        result = redrive(sqs, dead, lambda_client=lambda_client)
        stub.assert_no_pending_responses()
    assert result == {"queue": "UploadEventsDeadLetterQueue", "method": "reinvoke", "reinvoked": 2, "kept": 0}
    assert payloads == [S3_EVENT, S3_EVENT]  # the event itself, not the record around it
    assert _depth(sqs, dead) == 0


def test_a_record_lambda_does_not_take_stays(aws: boto3.session.Session) -> None:
    sqs = aws.client("sqs")
    dead = _queue(sqs, "UploadEventsDeadLetterQueue")
    sqs.send_message(QueueUrl=dead.url, MessageBody=json.dumps(_record(S3_EVENT)))
    lambda_client = _lambda()
    with Stubber(lambda_client) as stub:
        stub.add_client_error("invoke", service_error_code="TooManyRequestsException", http_status_code=429)
        answer = redrive(sqs, dead, lambda_client=lambda_client)
    assert answer["reinvoked"] == 0
    assert "TooManyRequestsException" in answer["refused"]  # said, not a traceback: the CLI exits 1 with it
    assert _depth(sqs, dead) == 1  # back after its visibility timeout, to be redriven again


def test_locally_a_record_cannot_be_reinvoked_and_stays(aws: boto3.session.Session) -> None:
    sqs = aws.client("sqs")
    dead = _queue(sqs, "UploadEventsDeadLetterQueue")
    assert redrive(sqs, dead, move_tasks=False)["reinvoked"] == 0  # nothing there: nothing to say
    sqs.send_message(QueueUrl=dead.url, MessageBody=json.dumps(_record(S3_EVENT)))
    with pytest.raises(SystemExit, match="needs Lambda: use --stack"):
        redrive(sqs, dead, move_tasks=False)
    assert _depth(sqs, dead) == 1


def test_the_cli_refuses_to_redrive_housekeeping_and_says_why(
    moto_http: boto3.session.Session,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state = tmp_path / "stack.json"
    state.write_text(json.dumps({"awsEndpoint": os.environ["AWS_ENDPOINT_URL"], "names": NAMES}))
    monkeypatch.setenv("SNAPSCRIBE_STATE_FILE", str(state))
    sqs = moto_http.client("sqs")
    housekeeping = _queue(sqs, "HousekeepingDeadLetterQueue")
    sqs.send_message(QueueUrl=housekeeping.url, MessageBody=json.dumps(_record({"source": "aws.events"})))
    assert cli.main(["dlq", "list"]) == 0
    queues = {entry["queue"]: entry for entry in json.loads(capsys.readouterr().out)["queues"]}
    assert set(queues) == set(QUEUES.values())
    assert queues["HousekeepingDeadLetterQueue"]["messages"] == 1
    assert cli.main(["dlq", "redrive", "--queue", "housekeeping"]) == 1
    captured = capsys.readouterr()
    (entry,) = json.loads(captured.out)["redriven"]
    assert entry["method"] == "none"
    assert "the next scheduled one" in captured.err
    assert _depth(sqs, housekeeping) == 1  # left as it was

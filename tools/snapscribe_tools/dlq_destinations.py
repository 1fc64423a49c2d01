"""The dead-letter queues of the asynchronous functions (UploadEventsFunction's S3 events, HousekeepingFunction's
schedule): what Lambda and EventBridge keep there, and what `snapscribe dlq redrive` does with it.

They hold no message of ours. Lambda's on-failure destination sends a record per event that failed every retry
(or grew too old): the event itself (requestPayload), why (requestContext.condition: RetriesExhausted or
EventAgeExceeded, with the attempts) and the function's error (responsePayload). EventBridge sends the schedule's
event it could not deliver at all, its error in message attributes (ERROR_CODE, ERROR_MESSAGE).

A redrive of an upload's record invokes its function again, asynchronously, with the same event (after the cause
is fixed: the upload is checked again, and deleted if it is bad), and deletes the record once Lambda has taken the
event; one that fails again comes back as a new record. A housekeeping run is not redriven: every run does all
that is due, so the next one (within five minutes) does what a failed run would have.
"""

from __future__ import annotations

import json
from typing import Any

# Redriven by invoking the function the record names again.
REINVOKED = {"UploadEventsDeadLetterQueue"}
# Not redriven, and why.
NOT_REDRIVEN = {
    "HousekeepingDeadLetterQueue": (
        "a housekeeping run is not redriven: each run does all that is due, so the next scheduled one (every "
        "5 minutes) does what a failed run would have. `snapscribe dlq list --queue housekeeping` shows why they "
        "failed; once fixed, the records can be left to expire (14 days) or purged (aws sqs purge-queue)."
    )
}
BATCH = 10  # SQS's most per ReceiveMessage
# A short poll (0 s) may answer nothing from a queue that holds messages; a second's wait asks every server.
ERROR_ATTRIBUTES = {"ERROR_CODE": "errorCode", "ERROR_MESSAGE": "errorMessage", "RETRY_ATTEMPTS": "retryAttempts"}


def is_record(message: Any) -> bool:
    """A Lambda destination record (an invocation's failure), not a message of ours."""
    return isinstance(message, dict) and isinstance(message.get("requestContext"), dict) and "requestPayload" in message


def _objects(payload: Any) -> list[str]:
    """The bucket/key of each S3 record of an event, for the listing."""
    if not isinstance(payload, dict) or not isinstance(payload.get("Records"), list):
        return []
    found = []
    for record in payload["Records"]:
        s3 = record.get("s3", {}) if isinstance(record, dict) else {}
        bucket, key = s3.get("bucket", {}).get("name"), s3.get("object", {}).get("key")
        if bucket and key:
            found.append(f"{bucket}/{key}")
    return found


def describe_record(record: dict[str, Any]) -> dict[str, Any]:
    """A destination record: which function failed on what event, why, and its error."""
    context, response = record["requestContext"], record.get("responsePayload")
    error = response if isinstance(response, dict) else {"errorMessage": response}
    described: dict[str, Any] = {
        "function": str(context.get("functionArn", "")).split(":function:")[-1],
        "condition": context.get("condition"),
        "attempts": context.get("approximateInvokeCount"),
        "failedAt": record.get("timestamp"),
        "error": {name: error[name] for name in ("errorType", "errorMessage") if error.get(name) is not None},
        "requestPayload": record["requestPayload"],
    }
    objects = _objects(record["requestPayload"])
    if objects:
        described["objects"] = objects
    return described


def describe_undelivered(event: dict[str, Any], attributes: dict[str, Any]) -> dict[str, Any]:
    """An event EventBridge could not deliver: the event (its time) and the error it kept in the attributes."""
    error = {
        name: attributes[attribute].get("StringValue")
        for attribute, name in ERROR_ATTRIBUTES.items()
        if attribute in attributes
    }
    return {"undelivered": event.get("detail-type"), "time": event.get("time"), "error": error}


def reinvoke(sqs: Any, lambda_client: Any | None, queue_url: str, queue_name: str) -> dict[str, Any]:
    """Invoke each record's function again with its event (asynchronously: the function's retries and its
    destination apply again) and delete the record once Lambda has taken it (202). A record that is not one, or
    whose invocation is refused, stays."""
    moved = kept = 0
    seen: set[str] = set()
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=BATCH, VisibilityTimeout=60, WaitTimeSeconds=1
        ).get("Messages", [])
        fresh = [message for message in messages if message["MessageId"] not in seen]
        if not fresh:
            return {"queue": queue_name, "method": "reinvoke", "reinvoked": moved, "kept": kept}
        for message in fresh:
            seen.add(message["MessageId"])
            try:
                record = json.loads(message["Body"])
            except ValueError:
                record = None
            if not is_record(record):
                kept += 1
                continue
            if lambda_client is None:
                raise SystemExit(f"{queue_name}: re-invoking a function needs Lambda: use --stack NAME")
            function = str(record["requestContext"]["functionArn"])
            try:
                answer = lambda_client.invoke(
                    FunctionName=function, InvocationType="Event", Payload=json.dumps(record["requestPayload"]).encode()
                )
            except lambda_client.exceptions.ClientError as error:  # throttled, denied, the function gone: stop here
                detail = error.response.get("Error", {})
                return {
                    "queue": queue_name,
                    "method": "reinvoke",
                    "reinvoked": moved,
                    "kept": kept,
                    "refused": f"Lambda refused {function}: {detail.get('Code')}: {detail.get('Message')} (this "
                    "record and the rest stay in the queue; run the redrive again once the cause is fixed)",
                }
            if answer.get("StatusCode") == 202:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                moved += 1
            else:
                kept += 1

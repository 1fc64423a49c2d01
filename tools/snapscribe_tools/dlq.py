"""`snapscribe dlq list|redrive`: the dead-letter queues, how deep each is and a sample of what rests there (which
job, which item), and a redrive back to the queues the messages came from.

A redrive is an SQS message move task (StartMessageMoveTask: SQS moves the messages itself, at its own pace or the
rate given, back to their source queues). Where move tasks are not to be had (the local stack's moto has none; an
SQS-compatible endpoint without them), the messages are received, sent to the source queue and deleted, ten at a
time: each is deleted only once it is sent, so a stopped redrive leaves nothing lost (at worst a message twice,
which the worker and the webhook sender take as SQS's own at-least-once delivery).

The asynchronous functions' dead-letter queues hold Lambda's and EventBridge's records of failed events, not
messages of ours: dlq_destinations.py describes them and says what their redrive is.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from snapscribe_tools import dlq_destinations as destinations

# The dead-letter queues, by their logical ids in template.yaml, and the names the command takes them by.
QUEUES = {
    "work": "WorkDeadLetterQueue",
    "webhook": "WebhookDeadLetterQueue",
    "upload-events": "UploadEventsDeadLetterQueue",
    "housekeeping": "HousekeepingDeadLetterQueue",
}
# What an endpoint without move tasks answers StartMessageMoveTask with.
NO_MOVE_TASKS = {"InvalidAction", "UnsupportedOperation", "UnknownOperationException", "NotImplemented"}
SAMPLE = 10  # SQS's most per ReceiveMessage


@dataclass(frozen=True)
class DeadLetterQueue:
    name: str  # its logical id
    url: str
    arn: str


def dead_letter_queue(sqs: Any, name: str, url: str) -> DeadLetterQueue:
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return DeadLetterQueue(name, url, str(arn))


def describe(body: str, attributes: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a dead-lettered message is about: its job, and its item, expansion or finalisation (a webhook's message
    names its job alone); a Lambda destination record's function, event and error; an undelivered schedule's."""
    try:
        message = json.loads(body)
    except ValueError:
        return {"body": body[:200]}
    if not isinstance(message, dict):
        return {"body": body[:200]}
    if destinations.is_record(message):
        return destinations.describe_record(message)
    if message.get("source") == "aws.events":
        return destinations.describe_undelivered(message, attributes or {})
    described: dict[str, Any] = {"job": message.get("job")}
    if "item" in message:
        described["item"] = message["item"]
    elif "expand" in message:
        described["expand"] = message["expand"]
    elif "finalize" in message:
        described["finalize"] = True
    return described


def listing(sqs: Any, queue: DeadLetterQueue, *, sample: int = SAMPLE) -> dict[str, Any]:
    """The queue's depth and up to `sample` of its messages, received with no visibility timeout (they stay
    there, visible at once; each receive counts on its message)."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue.url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    messages = []
    if sample > 0:
        messages = sqs.receive_message(
            QueueUrl=queue.url,
            MaxNumberOfMessages=min(sample, SAMPLE),
            VisibilityTimeout=0,
            WaitTimeSeconds=0,
            AttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
            MessageAttributeNames=["All"],  # EventBridge's error attributes
        ).get("Messages", [])
    return {
        "queue": queue.name,
        "url": queue.url,
        "messages": int(attributes.get("ApproximateNumberOfMessages", 0)),
        "inFlight": int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
        "sample": [
            {
                **describe(message["Body"], message.get("MessageAttributes")),
                "messageId": message["MessageId"],
                "receiveCount": int(message.get("Attributes", {}).get("ApproximateReceiveCount", 0)),
                "sentAt": _iso(message.get("Attributes", {}).get("SentTimestamp")),
            }
            for message in messages
        ],
    }


def _iso(milliseconds: str | None) -> str | None:
    if not milliseconds:
        return None
    moment = datetime.fromtimestamp(int(milliseconds) / 1000, UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def source_queue(sqs: Any, queue: DeadLetterQueue) -> str:
    """The one queue whose redrive policy sends its dead letters here."""
    sources = sqs.list_dead_letter_source_queues(QueueUrl=queue.url).get("queueUrls", [])
    if len(sources) != 1:
        raise SystemExit(f"{queue.name} is the dead-letter queue of {len(sources)} queues: say which with --to URL")
    return str(sources[0])


def redrive(
    sqs: Any,
    queue: DeadLetterQueue,
    *,
    destination: str | None = None,
    rate: int | None = None,
    move_tasks: bool = True,
    lambda_client: Any | None = None,
) -> dict[str, Any]:
    """Move the queue's messages back: a move task where there are move tasks (to their source queues, or to
    `destination`, a queue URL), else received, sent and deleted here. A destination record's event is given to
    its function again instead (`lambda_client`); a housekeeping run is not redriven (dlq_destinations.py)."""
    if queue.name in destinations.NOT_REDRIVEN:
        return {"queue": queue.name, "method": "none", "refused": destinations.NOT_REDRIVEN[queue.name]}
    if queue.name in destinations.REINVOKED and not destination:
        return destinations.reinvoke(sqs, lambda_client, queue.url, queue.name)
    from botocore.exceptions import ClientError  # here: the CLI adds these commands where only the client runs

    if move_tasks:
        arguments: dict[str, Any] = {"SourceArn": queue.arn}
        if destination:
            arguments["DestinationArn"] = dead_letter_queue(sqs, "destination", destination).arn
        if rate:
            arguments["MaxNumberOfMessagesPerSecond"] = rate
        try:
            handle = sqs.start_message_move_task(**arguments)["TaskHandle"]
        except NotImplementedError:  # moto, in process
            pass
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in NO_MOVE_TASKS:
                raise
        else:
            return {"queue": queue.name, "method": "move-task", "taskHandle": handle}
    target = destination or source_queue(sqs, queue)
    return {"queue": queue.name, "method": "receive-and-send", "to": target, "moved": copy_back(sqs, queue, target)}


def copy_back(sqs: Any, queue: DeadLetterQueue, target: str) -> int:
    """Receive the queue's messages ten at a time, send each to `target` with its attributes, and delete those
    sent; what could not be sent stays, to be received again after its visibility timeout."""
    moved = 0
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue.url,
            MaxNumberOfMessages=SAMPLE,
            VisibilityTimeout=60,
            WaitTimeSeconds=0,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return moved
        entries = []
        for number, message in enumerate(messages):
            entry: dict[str, Any] = {"Id": str(number), "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                entry["MessageAttributes"] = message["MessageAttributes"]
            entries.append(entry)
        failed = {entry["Id"] for entry in sqs.send_message_batch(QueueUrl=target, Entries=entries).get("Failed", [])}
        sent = [(str(number), message) for number, message in enumerate(messages) if str(number) not in failed]
        if sent:
            sqs.delete_message_batch(
                QueueUrl=queue.url,
                Entries=[{"Id": number, "ReceiptHandle": message["ReceiptHandle"]} for number, message in sent],
            )
        moved += len(sent)
        if failed:
            print(f"{len(failed)} message(s) could not be sent to {target}; they stay in {queue.name}", file=sys.stderr)
            return moved


# --- the command -------------------------------------------------------------------------------------
def _targets(args: argparse.Namespace) -> tuple[Any, list[DeadLetterQueue], bool]:
    """The SQS client, the queues asked for, and whether move tasks (and Lambda) are to be had: --stack NAME (a
    deployed stack: each queue its resource's physical id), or --local (the running `make run` stack; the
    default)."""
    import boto3

    names = [QUEUES[args.queue]] if args.queue else list(QUEUES.values())
    if args.stack:
        cloudformation = boto3.client("cloudformation")
        urls = {
            name: cloudformation.describe_stack_resource(StackName=args.stack, LogicalResourceId=name)[
                "StackResourceDetail"
            ]["PhysicalResourceId"]
            for name in names
        }
        sqs = boto3.client("sqs")
        return sqs, [dead_letter_queue(sqs, name, url) for name, url in urls.items()], True
    from snapscribe_tools.stack import base_environment, read_state

    state = read_state()
    if state is None:
        raise SystemExit("No local stack is running (start it with `make run`), and no --stack given.")
    os.environ.update({k: v for k, v in base_environment(state["awsEndpoint"]).items() if k.startswith("AWS_")})
    sqs = boto3.client("sqs", endpoint_url=state["awsEndpoint"])
    queues = [
        dead_letter_queue(sqs, name, sqs.get_queue_url(QueueName=state["names"][name])["QueueUrl"]) for name in names
    ]
    return sqs, queues, False  # the local stack's moto has no move tasks


def command(args: argparse.Namespace) -> int:
    sqs, queues, move_tasks = _targets(args)
    if args.dlq_command == "list":
        print(json.dumps({"queues": [listing(sqs, queue, sample=args.sample) for queue in queues]}, indent=2))
        return 0
    if args.to and len(queues) != 1:
        raise SystemExit("--to needs one queue: name it with --queue")
    import boto3

    lambda_client = boto3.client("lambda") if move_tasks else None  # a deployed stack's; none locally
    redriven = [
        redrive(
            sqs,
            queue,
            destination=args.to,
            rate=args.rate,
            move_tasks=move_tasks and not args.copy,
            lambda_client=lambda_client,
        )
        for queue in queues
    ]
    print(json.dumps({"redriven": redriven}, indent=2))
    refused = [entry for entry in redriven if "refused" in entry]
    for entry in refused:
        print(f"{entry['queue']}: {entry['refused']}", file=sys.stderr)
    failed = [entry for entry in refused if entry["method"] != "none"]  # Lambda said no: not a policy
    return 1 if failed or (refused and args.queue) else 0  # or asked for that queue alone: it was not redriven


def add_commands(commands: Any) -> None:
    """`dlq list` and `dlq redrive`, on the CLI's subcommands."""
    dlq = commands.add_parser("dlq", help="the dead-letter queues: what rests there, and a redrive")
    target = argparse.ArgumentParser(add_help=False)
    where = target.add_mutually_exclusive_group()
    where.add_argument("--local", action="store_true", help="the running local stack (default)")
    where.add_argument("--stack", help="a deployed stack's name")
    target.add_argument("--queue", choices=sorted(QUEUES), help="one queue (default: all)")
    subcommands = dlq.add_subparsers(dest="dlq_command", required=True)
    listed = subcommands.add_parser("list", parents=[target], help="each queue's depth and a sample of its messages")
    listed.add_argument("--sample", type=int, default=SAMPLE, help=f"messages shown a queue (0 to {SAMPLE})")
    moved = subcommands.add_parser("redrive", parents=[target], help="move the messages back to their source queue")
    moved.add_argument("--to", metavar="QUEUE_URL", help="another queue to move them to")
    moved.add_argument("--rate", type=int, help="messages a second (a move task's MaxNumberOfMessagesPerSecond)")
    moved.add_argument("--copy", action="store_true", help="receive and send them here, not with a move task")
    dlq.set_defaults(handler=command)

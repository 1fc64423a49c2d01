"""The local stack: the whole service on one laptop, offline, in one process (docs/architecture.md).

moto server (S3, DynamoDB, SQS) with the template's own tables and bucket -> a gateway on loopback that
sends API Gateway proxy events to the handlers template.yaml names -> a pump that turns S3 notifications
(S3 -> SQS in moto) into the S3 events the upload trigger receives in AWS -> the local OCR engine.
"""

from __future__ import annotations

import ctypes
import functools
import json
import logging
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from snapscribe_tools.gateway import Gateway
from snapscribe_tools.instances import FunctionInstances
from snapscribe_tools.lambdas import apply_environment, function_environment
from snapscribe_tools.local_state import STATE_FILE_VARIABLE, state_file
from snapscribe_tools.local_state import read_state as read_state  # where invoke.py and dlq.py read it
from snapscribe_tools.resources import create_all, local_names
from snapscribe_tools.template import (
    FunctionDef,
    Resolver,
    binary_media_types,
    functions,
    load_template,
    rate_seconds,
)

log = logging.getLogger("snapscribe.stack")

# The deployment's defaults (the local engine on every route, no key), but two workers at once (Lambda's least for
# SQS): more only oversubscribe a laptop's cores.
LOCAL_PARAMETERS = {"WorkerMaximumConcurrency": "2"}
NOTIFICATION_QUEUE = "snapscribe-local-s3-events"
POLL_INTERVAL_SECONDS = 0.2
IDLE_WAIT_SECONDS = 1.0  # an empty queue is received from again after this at the latest
# The process whose end ends the stack (the test run that started it): checked twice a second, so that a run
# that is stopped, even by SIGKILL, leaves no stack behind (its function processes follow the stack itself).
EXIT_WITH_PID = "SNAPSCRIBE_EXIT_WITH_PID"
OWNER_POLL_SECONDS = 0.5
STOP_GRACE_SECONDS = 10  # then the stack kills its processes and exits, however far its own stop has got
_PR_SET_PDEATHSIG = 1


def base_environment(moto_endpoint: str) -> dict[str, str]:
    """Where the AWS SDK goes locally: everything to moto, with throwaway credentials."""
    return {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_SESSION_TOKEN": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_DEV": "false",
    }


def stack_environment(moto_endpoint: str, parameters: Mapping[str, str] | None = None) -> dict[str, str]:
    template = load_template()
    resolver = Resolver(template, {**LOCAL_PARAMETERS, **(parameters or {})}, local_names(template))
    environment = {**function_environment(functions(template), resolver), **base_environment(moto_endpoint)}
    # No SSM locally: a Gemini key comes from the developer's own SNAPSCRIBE_GEMINI_API_KEY, if any.
    environment.pop("SNAPSCRIBE_GEMINI_API_KEY_PARAMETER", None)
    return environment


@dataclass
class S3EventPump:
    """Polls the queue moto notifies and hands each S3 event to the function subscribed to it."""

    sqs: Any
    queue_url: str
    deliver: Any  # Callable[[dict], None]
    stop_event: threading.Event = field(default_factory=threading.Event)
    wait_for_messages: Callable[[float], object] | None = None  # as SqsEventSource's
    delivered: int = 0

    def run(self) -> None:
        # Short polls: a long poll would hold the one-request-at-a-time moto server for its whole wait.
        while not self.stop_event.is_set():
            if self.pump_once(wait_seconds=0):
                continue
            if self.wait_for_messages is None:
                self.stop_event.wait(POLL_INTERVAL_SECONDS)
            else:
                self.wait_for_messages(IDLE_WAIT_SECONDS)

    def pump_once(self, wait_seconds: int = 0) -> int:
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds
        )
        count = 0
        for message in response.get("Messages", []):
            body = json.loads(message["Body"])
            records = body.get("Records", [])
            if records:
                try:
                    self.deliver({"Records": records})
                    count += len(records)
                except Exception:
                    # Left on the queue: S3 -> Lambda retries failed asynchronous invocations too.
                    log.exception("S3 event handler failed; the event will be delivered again")
                    continue
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        self.delivered += count
        return count


def _start_time(pid: int) -> str | None:
    """When the process started (/proc's field 22): a pid the system gives to another process differs there."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int, started: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, as another user's
    return started is None or _start_time(pid) == started


def exit_with(owner: int, stop: Callable[[], None], *, poll_seconds: float = OWNER_POLL_SECONDS) -> threading.Thread:
    """End this process when `owner` ends: `stop()` first (the CLI's own orderly stop), and if this process is
    still there STOP_GRACE_SECONDS later, os._exit. On Linux the kernel also sends SIGTERM at once when the owner
    is the parent (PR_SET_PDEATHSIG; a parent that started the stack from a thread that then ends counts as
    ended, which is why only the parent's main thread, as pytest's, should start one with the setting)."""
    started = _start_time(owner)
    if owner == os.getppid() and sys.platform == "linux":
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):
            log.debug("PR_SET_PDEATHSIG is not available", exc_info=True)

    def watch() -> None:
        while _alive(owner, started):
            time.sleep(poll_seconds)
        log.warning("process %s, which this stack runs for, has ended: stopping", owner)
        threading.Timer(STOP_GRACE_SECONDS, lambda: os._exit(1)).start()
        stop()

    thread = threading.Thread(target=watch, name="exit-with-owner", daemon=True)
    thread.start()
    return thread


def speed_up_moto() -> None:
    """moto's SQS and request routing, linear where they were quadratic: the same answers, each computed once a
    call instead of once a message. In moto 5.2, every message sent and every message received computes the
    queue's attributes, and with them its approximate counts, each a scan of all its messages that asks the
    clock once a message; and every request lists moto's own package folder to route itself. A job of 3000
    items spent most of its ~150 s there (and a ReceiveMessage took 50 ms with a thousand messages queued).
    Applied to the moto this process runs, once; a moto whose internals differ is left as it is."""
    global _moto_sped_up
    if _moto_sped_up:
        return
    _moto_sped_up = True
    try:
        from moto import backends
        from moto.core.utils import unix_time, unix_time_millis
        from moto.sqs import models
    except ImportError:
        return
    queue, backend = models.Queue, models.SQSBackend
    wanted = ("messages", "approximate_number_of_messages_delayed", "approximate_number_of_messages_not_visible")
    if not all(isinstance(getattr(queue, name, None), property) for name in wanted) or not hasattr(
        backend, "is_message_valid_based_on_retention_period"
    ):
        log.warning("moto's SQS is not the one speed_up_moto knows: left as it is")
        return
    modules = tuple(backends.list_of_moto_modules())

    def messages(self: Any) -> list[Any]:
        now = unix_time_millis()  # moto's Message.visible and .delayed, with one reading of the clock
        return [message for message in self._messages if now > message.visible_at and not now < message.delayed_until]

    def delayed(self: Any) -> int:
        now = unix_time_millis()
        return sum(1 for message in self._messages if now < message.delayed_until)

    def not_visible(self: Any) -> int:
        now = unix_time_millis()
        return sum(1 for message in self._messages if not now > message.visible_at)

    def retained(self: Any, queue_name: str, message: Any) -> bool:  # the one attribute it needs, not all
        retention = int(self.get_queue(queue_name).message_retention_period)
        return bool(retention + message.sent_timestamp / 1000 > unix_time())

    backends.list_of_moto_modules = lambda: iter(modules)  # type: ignore[assignment]
    queue.messages = property(messages)  # type: ignore[assignment,method-assign]
    queue.approximate_number_of_messages_delayed = property(delayed)  # type: ignore[assignment,method-assign]
    queue.approximate_number_of_messages_not_visible = property(not_visible)  # type: ignore[assignment,method-assign]
    backend.is_message_valid_based_on_retention_period = retained  # type: ignore[method-assign]


_moto_sped_up = False


def moto_queue_waiter(queue_arn: str) -> Callable[[float], bool]:
    """Wait in this process until the queue of the moto this process runs has a message to receive, or the
    timeout: the local stack's long poll. A ReceiveMessage with WaitTimeSeconds would hold the one-request-at-a-
    time moto server for its whole wait, and every idle poller polling five times a second took a third of its
    requests and a good part of a core. moto's queue notifies its condition on every message it takes in; a
    message whose visibility timeout ends is seen at the next timeout."""
    from moto.sqs.models import sqs_backends

    _, _, _, region, account, name = queue_arn.split(":", 5)

    def wait(timeout: float) -> bool:
        queue = sqs_backends[account][region].queues.get(name)
        if queue is None:  # moto was reset under the stack: poll as without a waiter
            time.sleep(min(timeout, POLL_INTERVAL_SECONDS))
            return True
        with queue._messages_lock:
            return bool(queue._messages_lock.wait_for(lambda: queue.messages, timeout=timeout))

    return wait


def _key_matches(key: str, rules: list[dict[str, Any]]) -> bool:
    for rule in rules:
        name, value = rule["Name"].lower(), rule["Value"]
        if name == "prefix" and not key.startswith(value):
            return False
        if name == "suffix" and not key.endswith(value):
            return False
    return True


class LocalStack:
    def __init__(
        self,
        *,
        port: int = 3000,
        host: str = "127.0.0.1",
        moto_port: int = 0,
        parameters: Mapping[str, str] | None = None,
        extra_environment: Mapping[str, str] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.moto_port = moto_port
        self.parameters = dict(parameters or {})
        self.extra_environment = dict(extra_environment or {})
        self.template = load_template()
        self.names = local_names(self.template)
        self.definitions = {
            definition.logical_id: definition
            for definition in functions(self.template, {**LOCAL_PARAMETERS, **self.parameters})
        }
        self.functions: dict[str, FunctionInstances] = {}
        own = ("AWS_PROFILE", EXIT_WITH_PID, STATE_FILE_VARIABLE)  # the stack's, not its functions'
        self._shell = {name: value for name, value in os.environ.items() if name not in own}
        self._pids: dict[str, list[int]] = {}
        self._state_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._moto: Any = None
        self.gateway: Gateway | None = None
        self.pump: S3EventPump | None = None
        self.event_sources: list[Any] = []

    @property
    def url(self) -> str:
        assert self.gateway is not None
        host, port = self.gateway.server_address[:2]
        return f"http://{host!s}:{port}" if isinstance(host, str) else f"http://{host.decode()}:{port}"

    def start(self) -> None:
        owner = os.environ.get(EXIT_WITH_PID)
        if owner:  # SIGTERM is what the CLI stops in order on; before it listens, SIGTERM ends the process
            exit_with(int(owner), lambda: os.kill(os.getpid(), signal.SIGTERM))
        from snapscribe_tools.moto_server import SerializedMotoServer

        speed_up_moto()
        self._moto = SerializedMotoServer(ip_address=self.host, port=self.moto_port, verbose=False)
        self._moto.start()
        moto_host, moto_port = self._moto.get_host_and_port()
        self.moto_endpoint = f"http://{moto_host}:{moto_port}"
        self.environment = {**stack_environment(self.moto_endpoint, self.parameters), **self.extra_environment}
        apply_environment(self.environment)
        import boto3

        session = boto3.session.Session()
        resolver = Resolver(self.template, {**LOCAL_PARAMETERS, **self.parameters}, self.names)
        create_all(self.template, session, self.names, resolver)
        self.functions = {
            logical_id: FunctionInstances(
                definition,
                self._environment_of(definition, resolver),
                max_instances=self._max_instances(definition, resolver),
                on_change=self._instances_changed,
            )
            for logical_id, definition in self.definitions.items()
        }
        self._wire_s3_events(session)
        self._start_event_sources(session, resolver)

        routes = [route for function in self.functions.values() for route in function.definition.routes]
        self.gateway = Gateway((self.host, self.port), routes, self.invoke, binary_media_types(self.template))
        self._spawn(self.gateway.serve_forever, "gateway")
        self._start_schedules()
        self._write_state()

    def _environment_of(self, definition: FunctionDef, resolver: Resolver) -> dict[str, str]:
        """What the function's processes see: the shell's, then the variables template.yaml gives this function
        (and no other), then the developer's own SNAPSCRIBE_* settings, then the way to moto."""
        environment = {**self._shell, **function_environment([definition], resolver)}
        environment.pop("SNAPSCRIBE_GEMINI_API_KEY_PARAMETER", None)  # no SSM locally
        environment.update({name: value for name, value in self._shell.items() if name.startswith("SNAPSCRIBE_")})
        environment.update(base_environment(self.moto_endpoint))
        environment.update(self.extra_environment)
        return environment

    @staticmethod
    def _max_instances(definition: FunctionDef, resolver: Resolver) -> int:
        """A queue's consumer: as many as its event sources may run at once; an API function a few; the OCR
        image's functions two (each holds the OCR models)."""
        polled = [
            int(resolver.resolve(event.get("ScalingConfig", {})).get("MaximumConcurrency", 2))
            for event in definition.sqs_events
        ]
        if polled:
            return sum(polled)
        return 2 if definition.package_type == "Image" else 4

    def _instances_changed(self, logical_id: str, pids: list[int]) -> None:
        self._pids[logical_id] = pids
        self._write_state()

    def _spawn(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _start_schedules(self) -> None:
        """EventBridge schedules: each function with a `rate(...)` event is invoked at that rate."""
        for function in self.functions.values():
            for expression in function.definition.schedules:
                interval = rate_seconds(expression)

                def tick(function: FunctionInstances = function, interval: int = interval) -> None:
                    while not self._stopping.wait(interval):
                        try:
                            self.invoke(
                                function.definition.logical_id,
                                {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}},
                            )
                        except Exception:
                            log.exception("scheduled invocation failed")

                self._spawn(tick, f"schedule-{function.definition.logical_id}")

    def _wire_s3_events(self, session: Any) -> None:
        subscribers = [function for function in self.functions.values() if function.definition.s3_events]
        if not subscribers:
            return
        sqs = session.client("sqs")
        queue_url = sqs.create_queue(QueueName=NOTIFICATION_QUEUE)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        by_bucket: dict[str, list[dict[str, Any]]] = {}
        for function in subscribers:
            for event in function.definition.s3_events:
                bucket = self.names[event["Bucket"]["Ref"]]
                events = event["Events"] if isinstance(event["Events"], list) else [event["Events"]]
                configuration: dict[str, Any] = {"QueueArn": queue_arn, "Events": events}
                rules = event.get("Filter", {}).get("S3Key", {}).get("Rules")
                if rules:  # SAM's S3Key/Rules is the S3 API's Key/FilterRules
                    configuration["Filter"] = {"Key": {"FilterRules": rules}}
                by_bucket.setdefault(bucket, []).append(configuration)
        s3 = session.client("s3")
        for bucket, configurations in by_bucket.items():
            s3.put_bucket_notification_configuration(
                Bucket=bucket, NotificationConfiguration={"QueueConfigurations": configurations}
            )
        self.pump = S3EventPump(
            sqs=sqs, queue_url=queue_url, deliver=self.deliver_s3_event, wait_for_messages=moto_queue_waiter(queue_arn)
        )
        self._spawn(self.pump.run, "s3-event-pump")

    def _start_event_sources(self, session: Any, resolver: Resolver) -> None:
        """Each SQS event of the template: a poller that delivers batches to its function (event_sources.py)."""
        from snapscribe_tools.event_sources import SqsEventSource

        sqs = session.client("sqs")
        for function in self.functions.values():
            for event in function.definition.sqs_events:
                queue = self.names[event["Queue"]["Fn::GetAtt"][0]]
                url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
                arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
                scaling = resolver.resolve(event.get("ScalingConfig", {}))
                source = SqsEventSource(
                    sqs=sqs,
                    queue_url=url,
                    queue_arn=arn,
                    invoke=functools.partial(self.invoke, function.definition.logical_id),
                    batch_size=int(resolver.resolve(event.get("BatchSize", 10))),
                    concurrency=int(scaling.get("MaximumConcurrency", 2)),
                    report_failures="ReportBatchItemFailures" in event.get("FunctionResponseTypes", []),
                    stop_event=self._stopping,
                    wait_for_messages=moto_queue_waiter(arn),
                )
                self.event_sources.append(source)
                self._threads.extend(source.start())

    def deliver_s3_event(self, event: dict[str, Any]) -> None:
        """Send each record to every function subscribed to its bucket, event and key filter."""
        for record in event["Records"]:
            bucket = record["s3"]["bucket"]["name"]
            key = unquote_plus(record["s3"]["object"]["key"])
            for function in self.functions.values():
                for subscription in function.definition.s3_events:
                    if self.names[subscription["Bucket"]["Ref"]] != bucket:
                        continue
                    rules = subscription.get("Filter", {}).get("S3Key", {}).get("Rules", [])
                    if _key_matches(key, rules):
                        self.invoke(function.definition.logical_id, {"Records": [record]})

    def invoke(self, function_id: str, event: dict[str, Any]) -> Any:
        """One invocation, in one of the function's processes; FunctionTimeout when it outlives its Timeout."""
        return self.functions[function_id].invoke(event, str(uuid.uuid4()))

    def create_dev_key(self, raw_key: str | None, credits: int, rate_limit: int) -> tuple[str, str]:
        """The dev key, and the secret its jobs' webhooks are signed with."""
        from snapscribe.services import from_environment

        accounts = from_environment().accounts
        key, record = accounts.create_key(
            user_id="dev", credits=credits, rate_limit=rate_limit, raw_key=raw_key, label="make run"
        )
        return key, accounts.webhook_secret(record.key_id) or ""

    def _write_state(self) -> None:
        """The running stack, for the CLI and tools: written whole and then renamed, never half-read."""
        path = state_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {
            "url": self.url if self.gateway is not None else None,
            "awsEndpoint": self.moto_endpoint,
            "names": self.names,
            "parameters": {**LOCAL_PARAMETERS, **self.parameters},
            "pid": os.getpid(),
            "functions": self._pids,  # each function's live processes
        }
        with self._state_lock:
            partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
            partial.write_text(json.dumps(state, indent=2))
            os.replace(partial, path)

    def stop(self) -> None:
        self._stopping.set()
        if self.pump is not None:
            self.pump.stop_event.set()
        if self.gateway is not None:
            self.gateway.shutdown()
            self.gateway.server_close()
        for function in self.functions.values():
            function.close()
        for thread in self._threads:  # before moto goes: a poll against a stopped moto would retry for long
            thread.join(timeout=5)
        if self._moto is not None:
            self._moto.stop()
        path = state_file()
        if path.exists():
            try:
                if json.loads(path.read_text()).get("pid") == os.getpid():
                    path.unlink()
            except (OSError, json.JSONDecodeError):
                pass

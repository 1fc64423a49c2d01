"""Least privilege, proven: each function's IAM grants in template.yaml equal the AWS calls its code makes.

Every function is driven through its paths (success, refusal, refund, idempotent replay, a short balance,
bad and unknown uploads) under moto, while a botocore hook records each DynamoDB and S3 call it makes,
with the item's partition key or the object's key. Then, per function:
- every call is granted by a statement (action, resource, key prefix, `dynamodb:LeadingKeys`): in AWS a
  call outside them is AccessDenied;
- every granted action is used by some call: a grant no code path needs fails the test.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest

from snapscribe import services
from snapscribe.services import from_environment
from snapscribe.storage.s3 import S3ObjectStore
from snapscribe.storage.uploads import UploadRecord
from snapscribe_tools.event_sources import SqsEventSource, drain
from snapscribe_tools.resources import local_names
from snapscribe_tools.template import load_template, resources
from tests.conftest import EVENTS_KEY, PROJECT_ROOT, body_of, invoke, load_event

TEMPLATE = load_template()
FUNCTIONS = sorted(resources(TEMPLATE, "AWS::Serverless::Function"))
NAMES = local_names(TEMPLATE)
LOGICAL_ID_OF = {name: logical_id for logical_id, name in NAMES.items()}
GEMINI_PARAMETER = "GeminiApiKeyParameter"
# What SAM gives every function anyway (logs, traces), granted explicitly where a function has its own role.
BASIC_MANAGED_POLICIES = {"AWSLambdaBasicExecutionRole", "AWSXrayWriteOnlyAccess"}
POLL_ACTIONS = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
# Granted though a run under moto may not show it, each for a reason that holds in AWS.
UNRECORDED_GRANTS = {
    # Powertools reads an idempotency record back only when a failed conditional put does not return it.
    ("dynamodb:GetItem", "IdempotencyTable"): "Powertools' fallback read of an idempotency record",
}


# --- what the template grants ---------------------------------------------------------------------
@dataclass(frozen=True)
class Grant:
    sid: str
    action: str
    resource: str  # logical id of a table or the bucket, or the Gemini key's parameter
    objects: str | None = None  # for object ARNs: the key pattern ("ocr/*")
    leading_keys: tuple[str, ...] | None = None  # dynamodb:LeadingKeys patterns
    list_prefixes: tuple[str, ...] | None = None  # s3:prefix patterns of ListBucket


def _resource(value: Any) -> tuple[str, str | None]:
    if "Fn::GetAtt" in value:
        return value["Fn::GetAtt"][0], None
    text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
    if "/index/" in text:  # a table's index: "${AccountsTable.Arn}/index/OpenHolds"
        table, _, index = text.partition(".Arn}/index/")
        return f"{table.removeprefix('${')}/index/{index}", None
    if text.startswith("${FilesBucket.Arn}/"):
        return "FilesBucket", text.removeprefix("${FilesBucket.Arn}/")
    if ":ssm:" in text and text.endswith("parameter${GeminiApiKeyParameterName}"):
        return GEMINI_PARAMETER, None
    raise AssertionError(f"unexpected resource {value!r}")


def _statements(logical_id: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in TEMPLATE["Resources"][logical_id]["Properties"].get("Policies", []):
        # Inline statements only: a managed policy or a SAM policy template grants more than the code calls.
        assert isinstance(policy, dict), f"{logical_id}: {policy!r} is not scoped"
        assert set(policy) == {"Statement"}, f"{logical_id}: {policy!r} is not scoped"
        statements.extend(policy["Statement"])
    properties = TEMPLATE["Resources"][logical_id]["Properties"]
    if "Role" in properties:  # a role of its own: inline policies, and only Lambda's basic managed ones
        role_resource = TEMPLATE["Resources"][properties["Role"]["Fn::GetAtt"][0]]["Properties"]
        managed = {arn["Fn::Sub"].rsplit("/", 1)[-1] for arn in role_resource.get("ManagedPolicyArns", [])}
        assert managed <= BASIC_MANAGED_POLICIES, managed
        for policy in role_resource.get("Policies", []):
            statements.extend(policy["PolicyDocument"]["Statement"])
    role = {"Ref": f"{logical_id}Role"}  # the role SAM makes for the function
    for policy in resources(TEMPLATE, "AWS::IAM::Policy").values():
        if role in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def polled_queues(logical_id: str) -> set[str]:
    """The queues Lambda's event source mappings poll for this function (with the function's role)."""
    events = TEMPLATE["Resources"][logical_id]["Properties"].get("Events", {}).values()
    return {event["Properties"]["Queue"]["Fn::GetAtt"][0] for event in events if event["Type"] == "SQS"}


def grants(logical_id: str) -> list[Grant]:
    found = []
    for statement in _statements(logical_id):
        assert statement["Effect"] == "Allow"
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        targets = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        condition = statement.get("Condition", {})
        leading = condition.get("ForAllValues:StringLike", {}).get("dynamodb:LeadingKeys")
        prefixes = condition.get("StringLike", {}).get("s3:prefix")
        for action in actions:
            assert "*" not in action, statement
            for target in targets:
                resource, objects = _resource(target)
                found.append(
                    Grant(
                        statement["Sid"],
                        action,
                        resource,
                        objects,
                        tuple(leading) if leading else None,
                        tuple(prefixes) if prefixes else None,
                    )
                )
    return found


# --- what the code calls --------------------------------------------------------------------------
@dataclass(frozen=True)
class Use:
    action: str
    resource: str
    detail: str | None  # an item's partition key, an object's key, a listing's prefix (None: no prefix)

    def granted_by(self, grant: Grant) -> bool:
        if (grant.action, grant.resource) != (self.action, self.resource):
            return False
        if self.action == "s3:ListBucket":
            return grant.list_prefixes is None or any(
                fnmatch.fnmatchcase(self.detail or "", pattern) for pattern in grant.list_prefixes
            )
        if grant.objects is not None:
            return fnmatch.fnmatchcase(self.detail or "", grant.objects)
        if grant.leading_keys is not None:
            return any(fnmatch.fnmatchcase(self.detail or "", pattern) for pattern in grant.leading_keys)
        return True


TRANSACTION_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
S3_ACTIONS = {
    "GetObject": "GetObject",
    "HeadObject": "GetObject",
    "PutObject": "PutObject",
    "DeleteObject": "DeleteObject",
}


class Recorder:
    """Attributes every DynamoDB and S3 call to the function being invoked."""

    def __init__(self) -> None:
        self.current: str | None = None
        self.uses: dict[str, set[Use]] = {logical_id: set() for logical_id in FUNCTIONS}
        self.driven: set[str] = set()

    def add(self, action: str, resource: str, detail: str | None) -> None:
        if self.current is not None:
            self.uses[self.current].add(Use(action, resource, detail))

    def _dynamodb(self, operation: str, params: dict[str, Any]) -> None:
        if operation == "TransactWriteItems":  # IAM authorises each item as its own action
            for item in params["TransactItems"]:
                ((kind, body),) = item.items()
                self.add(f"dynamodb:{TRANSACTION_ACTIONS[kind]}", LOGICAL_ID_OF[body["TableName"]], _pk(body))
            return
        table = LOGICAL_ID_OF[params["TableName"]]
        if "IndexName" in params:
            table = f"{table}/index/{params['IndexName']}"
        self.add(f"dynamodb:{operation}", table, _pk(params))

    def _s3(self, operation: str, params: dict[str, Any], presigned: bool) -> None:
        bucket = LOGICAL_ID_OF[params["Bucket"]]
        if operation == "ListObjectsV2":
            self.add("s3:ListBucket", bucket, params.get("Prefix"))
            return
        self.add(f"s3:{S3_ACTIONS[operation]}", bucket, params["Key"])
        if S3_ACTIONS[operation] == "GetObject" and not presigned:
            # A missing key answers 404 only with ListBucket on the bucket (403 without), and the code
            # tells a missing object from an error by that 404.
            self.add("s3:ListBucket", bucket, None)

    def hook(self, params: dict[str, Any], model: Any, context: Any = None, **_kwargs: Any) -> None:
        """botocore's before-parameter-build: API calls, and presigned GETs, which make no call (the client reads
        with the function's signature)."""
        service = model.service_model.service_name
        if service == "sqs" and model.name in ("SendMessage", "SendMessageBatch", "ChangeMessageVisibility"):
            action = "ChangeMessageVisibility" if model.name == "ChangeMessageVisibility" else "SendMessage"
            self.add(f"sqs:{action}", LOGICAL_ID_OF[params["QueueUrl"].rsplit("/", 1)[-1]], None)
        elif service == "dynamodb":
            self._dynamodb(model.name, params)
        elif service == "s3" and model.name != "CreateBucket":  # CreateBucket: the model a presigned POST uses
            self._s3(model.name, params, presigned=bool((context or {}).get("is_presign_request")))

    def run(self, logical_id: str, event: dict[str, Any]) -> dict[str, Any]:
        self.current = logical_id
        self.driven.add(logical_id)
        try:
            return invoke(logical_id, event)
        finally:
            self.current = None


def _pk(params: dict[str, Any]) -> str:
    """The partition key an item call or a query names (for a query, its first string value)."""
    if "KeyConditionExpression" in params:
        return next(str(value["S"]) for value in params["ExpressionAttributeValues"].values() if "S" in value)
    key = params.get("Key") or params.get("Item") or {}
    return str(key["pk"]["S"]) if "pk" in key else str(next(iter(key.values()))["S"])


# --- driving every function through its paths -----------------------------------------------------
UPLOAD_ID = "0f8e2c55-6d1b-4d0a-9a53-3c1f4b2a7e10"
UPLOAD_KEY = f"ocr/events/{UPLOAD_ID}-scan 2026-11 (copy).png"
SAMPLE = (PROJECT_ROOT / "samples" / "invoice.png").read_bytes()


def _with_headers(event: dict[str, Any], **headers: str) -> dict[str, Any]:
    """The event with these headers set (`X_API_Key` replaces whatever key the event carries)."""
    event = copy.deepcopy(event)
    for name, value in headers.items():
        name = name.replace("_", "-")
        replaced = {"x-api-key", "authorization"} if name.lower() == "x-api-key" else {name.lower()}
        for existing in [key for key in event["headers"] if key.lower() in replaced]:
            del event["headers"][existing]
            event["multiValueHeaders"].pop(existing, None)
        event["headers"][name] = value
        event["multiValueHeaders"][name] = [value]
    return event


def _idempotent(event: dict[str, Any], key: str) -> dict[str, Any]:
    return _with_headers(event, Idempotency_Key=key)


@contextmanager
def _short_of_credits() -> Iterator[None]:
    """The events user with an empty balance (a 402 reads the balance to say what is missing)."""
    store = from_environment().accounts.store
    balance = store.get_balance("events")
    store.add_credits("events", -balance)
    yield
    store.add_credits("events", balance)


def _upload(aws: boto3.session.Session, key: str, data: bytes, upload_id: str) -> None:
    from_environment().uploads.create(
        UploadRecord(
            upload_id=upload_id,
            user_id="events",
            key=key,
            filename=key.rsplit("/", 1)[1][37:],
            content_type="image/png",
            max_bytes=50 << 20,
            created_at="2026-11-21T19:00:00Z",
            expires_at=int(time.time()) + 86400,
        )
    )
    aws.client("s3").put_object(Bucket=NAMES["FilesBucket"], Key=key, Body=data)


def _s3_event(key: str) -> dict[str, Any]:
    event = load_event("s3_upload_created")
    event["Records"][0]["s3"]["object"]["key"] = key.replace(" ", "+")
    return event


def _failing_receiver() -> str:
    """A webhook receiver on loopback that answers 500 to the first request of each message, then 200."""
    seen: set[str] = set()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            message = self.headers.get("webhook-id", "")
            self.send_response(200 if message in seen else 500)
            seen.add(message)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/hooks"


def _job_event(name: str, job_id: str) -> dict[str, Any]:
    event = load_event(name)
    event.update(path=f"/api/v1/jobs/{job_id}", pathParameters={"jobId": job_id})
    return event


def _expect(result: dict[str, Any], status: int) -> dict[str, Any]:
    assert result["statusCode"] == status, result.get("body")
    return result


def drive_every_function(aws: boto3.session.Session, record: Recorder) -> None:
    run = record.run
    # The extract-image API: served, free listing, a replay, a refusal after the hold, a short balance.
    _expect(run("ExtractImageFunction", load_event("extract_image_base64")), 200)
    _expect(run("ExtractImageFunction", load_event("list_image_formats")), 200)
    for _ in range(2):
        _expect(run("ExtractImageFunction", _idempotent(load_event("extract_image_base64"), "ei-1")), 200)
    _expect(run("ExtractImageFunction", _idempotent(load_event("extract_image_url_metadata"), "ei-2")), 400)
    with _short_of_credits():
        _expect(run("ExtractImageFunction", load_event("extract_image_base64")), 402)
    # The structured-extraction API.
    _expect(run("StructuredExtractionFunction", load_event("extract_structured")), 200)
    for _ in range(2):
        _expect(run("StructuredExtractionFunction", _idempotent(load_event("extract_structured"), "se-1")), 200)
    _expect(run("StructuredExtractionFunction", _idempotent(load_event("extract_structured_corrupt"), "se-2")), 400)
    with _short_of_credits():
        _expect(run("StructuredExtractionFunction", load_event("extract_structured")), 402)
    # The file-upload API: an upload URL (a presigned POST: PutObject), replayed, refused; a delete.
    for _ in range(2):
        _expect(run("FileUploadFunction", _idempotent(load_event("create_upload_url"), "fu-1")), 200)
    _expect(run("FileUploadFunction", _idempotent(load_event("create_upload_url_unsupported_type"), "fu-2")), 400)
    # The upload trigger: a good upload, a corrupt one (rejected and deleted), one nobody asked for.
    _upload(aws, UPLOAD_KEY, SAMPLE, UPLOAD_ID)
    assert run("UploadEventsFunction", _s3_event(UPLOAD_KEY))["checked"][0]["outcome"] == "ready"
    corrupt_id = "5d6e7f80-1a2b-4c3d-8e9f-0a1b2c3d4e5f"
    corrupt_key = f"ocr/events/{corrupt_id}-broken.png"
    _upload(aws, corrupt_key, SAMPLE[: len(SAMPLE) // 3], corrupt_id)
    assert run("UploadEventsFunction", _s3_event(corrupt_key))["checked"][0]["outcome"] == "rejected"
    aws.client("s3").put_object(Bucket=NAMES["FilesBucket"], Key="ocr/events/stray.png", Body=SAMPLE)
    assert run("UploadEventsFunction", _s3_event("ocr/events/stray.png"))["checked"][0]["outcome"] == "unknown-deleted"
    # The OCR-by-key API: OCR, a replay, a refusal, a short balance, the kept result.
    processed = body_of(_expect(run("OcrByKeyFunction", load_event("ocr_by_key")), 200))
    for _ in range(2):
        _expect(run("OcrByKeyFunction", _idempotent(load_event("ocr_by_key"), "ok-1")), 200)
    _expect(run("OcrByKeyFunction", _idempotent(load_event("ocr_by_key_malformed_key"), "ok-2")), 400)
    with _short_of_credits():
        _expect(run("OcrByKeyFunction", load_event("ocr_by_key")), 402)
    result = load_event("ocr_by_key")
    result.update(httpMethod="GET", resource="/api/ocr/results/{id}", path=f"/api/ocr/results/{processed['id']}")
    result.update(body=None, pathParameters={"id": processed["id"]})
    _expect(run("OcrByKeyFunction", result), 200)
    # The batch-extraction API.
    batch = load_event("extract_batch")
    batch["body"] = json.dumps({"engine": {"name": "local"}, "files": [{"uuid": UPLOAD_ID}]})
    extraction = body_of(_expect(run("BatchExtractionFunction", batch), 201))["data"]
    for _ in range(2):
        _expect(run("BatchExtractionFunction", _idempotent(batch, "be-1")), 201)
    _expect(run("BatchExtractionFunction", _idempotent(load_event("extract_batch_too_many_files"), "be-2")), 400)
    with _short_of_credits():
        _expect(run("BatchExtractionFunction", batch), 402)
    kept = load_event("get_batch_extraction")
    kept.update(path=f"/v1/image-extraction/{extraction['uuid']}", pathParameters={"uuid": extraction["uuid"]})
    _expect(run("BatchExtractionFunction", kept), 200)
    # Jobs: each charging API admits one; every job's items are sent by a worker (SNAPSCRIBE_JOB_DIRECT_ITEMS=0)
    # and every result goes to the bucket (SNAPSCRIBE_JOB_RESULT_INLINE_BYTES=0).
    asynchronous = [
        ("ExtractImageFunction", load_event("extract_image_base64")),
        ("StructuredExtractionFunction", load_event("extract_structured")),
        ("OcrByKeyFunction", load_event("ocr_by_key")),
        ("BatchExtractionFunction", batch),
    ]
    receiver = _failing_receiver()  # the first webhook attempt fails: its message waits for the backoff
    jobs = [
        body_of(_expect(run(function, _with_headers(event, Prefer="respond-async", Callback_Url=receiver)), 202))[
            "jobId"
        ]
        for function, event in asynchronous
    ]
    cancelled = body_of(
        _expect(run("OcrByKeyFunction", _with_headers(load_event("ocr_by_key"), Prefer="respond-async")), 202)
    )
    _expect(run("JobsFunction", _job_event("cancel_job", cancelled["jobId"])), 200)
    overdue = body_of(
        _expect(run("OcrByKeyFunction", _with_headers(load_event("ocr_by_key"), Prefer="respond-async")), 202)
    )
    aws.client("dynamodb").update_item(
        TableName=NAMES["JobsTable"],
        Key={"pk": {"S": f"JOB#{overdue['jobId']}"}, "sk": {"S": "JOB"}},
        UpdateExpression="SET deadline = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    assert run("HousekeepingFunction", load_event("housekeeping_schedule"))["reapedJobs"] == 1
    sqs = aws.client("sqs")
    sources = []
    for queue, function in (
        ("WorkQueue", "WorkerFunction"),
        ("WorkDeadLetterQueue", "WorkerFunction"),
        ("WebhookQueue", "WebhookFunction"),
    ):
        url = sqs.get_queue_url(QueueName=NAMES[queue])["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sources.append(SqsEventSource(sqs, url, arn, lambda event, name=function: run(name, event)))
    drain(sources)
    sqs.send_message(QueueUrl=sources[1].queue_url, MessageBody=json.dumps({"job": jobs[0], "item": 0}))
    drain(sources)  # a dead letter for an item already done: resolved once, nothing changes
    for job_id in jobs:
        view = body_of(_expect(run("JobsFunction", _job_event("get_job", job_id)), 200))
        assert view["status"] == "succeeded", view
        assert view["resultUrl"].startswith("http")  # the result is in the bucket: a presigned GET
    _expect(run("JobsFunction", load_event("list_jobs")), 200)
    _expect(run("AccountFunction", load_event("get_account")), 200)
    _expect(run("ApiDocsFunction", load_event("get_openapi")), 200)  # public, and touches no data
    # The file-upload API deletes the upload the others used.
    _expect(run("FileUploadFunction", load_event("delete_upload")), 200)
    # Housekeeping: a hold whose invocation was stopped is refunded; a stale temporary object is swept.
    accounts = from_environment().accounts
    principal = accounts.authenticate(EVENTS_KEY)
    accounts.reserve(principal, 5, request_id="stopped", route="POST /api/ocr/process", hold_until=int(time.time()) - 1)
    aws.client("s3").put_object(Bucket=NAMES["FilesBucket"], Key="tmp/left-behind", Body=b"x")
    swept = run("HousekeepingFunction", load_event("housekeeping_schedule"))
    assert (swept["refundedHolds"], swept["sweptTemporaryObjects"]) == (1, 1)


@pytest.fixture(scope="module")
def recorder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorder]:
    """One run through every function (module-scoped: it runs the real OCR engine)."""
    monkeypatch = pytest.MonkeyPatch()
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "SNAPSCRIBE_TMP_DIR": str(tmp_path_factory.mktemp("service-tmp")),
        "SNAPSCRIBE_TMP_MAX_AGE_SECONDS": "0",
        "SNAPSCRIBE_JOB_DIRECT_ITEMS": "0",
        "SNAPSCRIBE_JOB_RESULT_INLINE_BYTES": "0",
        "SNAPSCRIBE_ALLOW_LOOPBACK_URLS": "true",  # the webhook receiver is on loopback
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "SNAPSCRIBE_GEMINI_API_KEY", "SNAPSCRIBE_ENGINE"):
        monkeypatch.delenv(name, raising=False)
    record = Recorder()
    original_post = S3ObjectStore.presigned_post

    def presigned_post(self: S3ObjectStore, key: str, **kwargs: Any) -> tuple[str, dict[str, str]]:
        # The client uploads with the function's signature: a presigned POST is the function's PutObject.
        record.add("s3:PutObject", "FilesBucket", key)
        return original_post(self, key, **kwargs)

    from moto import mock_aws

    from tests.conftest import _template_resources

    with mock_aws():
        monkeypatch.setattr(S3ObjectStore, "presigned_post", presigned_post)
        boto3.setup_default_session(region_name="us-east-1")
        # The functions' clients come from services' own botocore session: every call they make passes the hook.
        session = services.botocore_session()
        session.register("before-parameter-build", record.hook)
        aws = _template_resources(monkeypatch)
        accounts = from_environment().accounts
        accounts.create_key(user_id="events", credits=1_000_000, rate_limit=600, raw_key=EVENTS_KEY)
        drive_every_function(aws, record)
        yield record
        session.unregister("before-parameter-build", record.hook)
        boto3.DEFAULT_SESSION = None
    monkeypatch.undo()


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_every_call_is_granted(logical_id: str, recorder: Recorder) -> None:
    assert logical_id in recorder.driven, f"{logical_id} was not driven"
    recorded = recorder.uses
    granted = grants(logical_id)
    denied = sorted(
        (use.action, use.resource, use.detail or "")
        for use in recorded[logical_id]
        if not any(use.granted_by(grant) for grant in granted)
    )
    assert not denied, f"{logical_id} calls what its policy does not grant: {denied}"


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_every_grant_is_used(logical_id: str, recorder: Recorder) -> None:
    recorded = recorder.uses
    unused = sorted(
        {
            (grant.sid, grant.action, grant.resource)
            for grant in grants(logical_id)
            if grant.resource != GEMINI_PARAMETER
            and (grant.action, grant.resource) not in UNRECORDED_GRANTS
            and not (grant.action in POLL_ACTIONS and grant.resource in polled_queues(logical_id))
            and not any(use.granted_by(grant) for use in recorded[logical_id])
        }
    )
    assert not unused, f"{logical_id} is granted what its code never calls: {unused}"


def _environment(logical_id: str) -> dict[str, Any]:
    variables: dict[str, Any] = TEMPLATE["Resources"][logical_id]["Properties"].get("Environment", {})
    return dict(variables.get("Variables", {}))


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_only_functions_that_can_call_gemini_may_read_its_key(logical_id: str) -> None:
    reads_key = any(grant.resource == GEMINI_PARAMETER for grant in grants(logical_id))
    names_key = _environment(logical_id).get("SNAPSCRIBE_GEMINI_API_KEY_PARAMETER") == {
        "Ref": "GeminiApiKeyParameterName"
    }
    assert reads_key == names_key
    for grant in grants(logical_id):
        if grant.resource == GEMINI_PARAMETER:
            assert grant.action == "ssm:GetParameter"


def test_the_bucket_is_named_once() -> None:
    text = (PROJECT_ROOT / "template.yaml").read_text()
    assert "snapscribe-files" not in text
    assert "AWS::StackId" not in text  # no name computed from the stack id


def test_settings_only_the_admin_cli_needs_reach_no_function() -> None:
    cli_only = {"StartingCredits", "DefaultRateLimit"}
    for logical_id in FUNCTIONS:
        assert not cli_only & _refs(_environment(logical_id)), logical_id
    assert not cli_only & _refs(TEMPLATE["Globals"]["Function"].get("Environment", {}))


def _refs(value: Any) -> set[str]:
    if isinstance(value, dict):
        found = {value["Ref"]} if "Ref" in value else set()
        return found.union(*(_refs(item) for item in value.values()))
    if isinstance(value, list):
        return set().union(*(_refs(item) for item in value))
    return set()

"""Least privilege, proven: each function's IAM grants in template.yaml equal the AWS calls its code makes.

Every function is driven through its paths (success, refusal, refund, idempotent replay, a short balance,
bad and unknown uploads) under moto, while a botocore hook records each DynamoDB, S3, SQS, SSM, Bedrock and
Textract call it makes, with the item's partition key, the object's key, the parameter or the model. Then, per
function and per deployment (the template's defaults, and one that offers every engine: its `Fn::If` grants
decided by the template's Conditions):
- every call is granted by a statement (action, resource, key prefix, `dynamodb:LeadingKeys`): in AWS a
  call outside them is AccessDenied;
- every granted action is used by some call: a grant no code path needs fails the test.
The all-engines deployment is driven through what its engines add (each engine-capable function through
Bedrock, Textract, Gemini and an OpenAI-compatible server, on loopback stand-ins); the rest of its calls are the
default run's, whose code paths (the local engine, always offered) it serves alike.
"""

from __future__ import annotations

import base64
import copy
import fnmatch
import json
import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest

from snapscribe import services
from snapscribe.engines.catalog import EngineCatalog
from snapscribe.services import from_environment
from snapscribe.storage.s3 import S3ObjectStore
from snapscribe.storage.uploads import UploadRecord
from snapscribe_tools.event_sources import SqsEventSource, drain
from snapscribe_tools.lambdas import function_environment
from snapscribe_tools.resources import local_names
from snapscribe_tools.stack import LOCAL_PARAMETERS
from snapscribe_tools.standins import bedrock as bedrock_standin
from snapscribe_tools.standins import openai as openai_standin
from snapscribe_tools.standins import textract as textract_standin
from snapscribe_tools.template import (
    NO_VALUE,
    PROJECT_ROOT,
    REGION,
    Resolver,
    functions,
    load_template,
    parameter_defaults,
    resources,
)
from tests.conftest import EVENTS_KEY, body_of, invoke, load_event, pdf_with_pages

TEMPLATE = load_template()
FUNCTIONS = sorted(resources(TEMPLATE, "AWS::Serverless::Function"))
NAMES = local_names(TEMPLATE)
LOGICAL_ID_OF = {name: logical_id for logical_id, name in NAMES.items()}
# The engines' API keys, by the template parameter that names each SSM parameter.
KEY_PARAMETERS = {"GeminiApiKeyParameterName": "gemini", "OpenAiApiKeyParameterName": "openai"}
KEY_PARAMETER_OF = {parameter_defaults(TEMPLATE)[name]: name for name in KEY_PARAMETERS}
# The functions that can be asked for an engine (their own default, or one a request names).
ENGINE_FUNCTIONS = {
    "ExtractImageFunction",
    "StructuredExtractionFunction",
    "OcrByKeyFunction",
    "BatchExtractionFunction",
    "WorkerFunction",
}
# What SAM gives every function anyway (logs, traces), granted explicitly where a function has its own role.
BASIC_MANAGED_POLICIES = {"AWSLambdaBasicExecutionRole", "AWSXrayWriteOnlyAccess"}
POLL_ACTIONS = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
# Actions that take no resource ARN: IAM grants them on "*" only.
RESOURCELESS_ACTIONS = {
    "textract:DetectDocumentText",
    "textract:AnalyzeDocument",
    "textract:StartDocumentTextDetection",
    "textract:GetDocumentTextDetection",
}
# Granted though a run under moto may not show it, each for a reason that holds in AWS.
UNRECORDED_GRANTS = {
    # Powertools reads an idempotency record back only when a failed conditional put does not return it.
    ("dynamodb:GetItem", "IdempotencyTable"): "Powertools' fallback read of an idempotency record",
}

# --- the deployments: the template's defaults, and one that offers every engine ---------------------
BEDROCK_MODEL = "amazon.nova-lite-v1:0"
BEDROCK_ARN = f"arn:aws:bedrock:{REGION}::foundation-model/{BEDROCK_MODEL}"
OPENAI_MODEL = "stand-in"
# Each engine-capable function is driven through each of these in the all-engines deployment.
ENGINE_IDS = (f"bedrock:{BEDROCK_MODEL}", "textract", "gemini", f"openai:{OPENAI_MODEL}")
DEFAULTS, ALL_ENGINES = "defaults", "all-engines"
CONFIGURATIONS: dict[str, dict[str, str]] = {
    DEFAULTS: {},  # no Bedrock ARNs, UseTextract false: no Bedrock or Textract grant
    ALL_ENGINES: {
        "BedrockModelArns": BEDROCK_ARN,
        "UseTextract": "true",
        "Engines": f"bedrock:{BEDROCK_MODEL},gemini,openai:{OPENAI_MODEL}",
        "OpenAiBaseUrl": "https://models.example.com/v1",  # the run points it at the stand-in
    },
}
# What the all-engines deployment adds to each engine-capable function's grants, exactly: pages are read with
# DetectDocumentText everywhere; only a template's queries (structured extraction, now or as a job) analyse; only
# the worker reads a job's multi-page PDF or TIFF whole, with the asynchronous API.
READING_GRANTS = {
    ("BedrockModels", "bedrock:InvokeModel", BEDROCK_ARN),
    ("TextractText", "textract:DetectDocumentText", "*"),
}
QUERYING_GRANT = ("TextractQueries", "textract:AnalyzeDocument", "*")
QUERYING_FUNCTIONS = {"StructuredExtractionFunction", "WorkerFunction"}
DOCUMENT_GRANTS = {
    ("TextractDocuments", "textract:StartDocumentTextDetection", "*"),
    ("TextractDocuments", "textract:GetDocumentTextDetection", "*"),
}
DOCUMENT_FUNCTIONS = {"WorkerFunction"}


def engine_grants_of(logical_id: str, configuration: str) -> set[tuple[str, str, str]]:
    if configuration == DEFAULTS:
        return set()
    querying = {QUERYING_GRANT} if logical_id in QUERYING_FUNCTIONS else set()
    return READING_GRANTS | querying | (DOCUMENT_GRANTS if logical_id in DOCUMENT_FUNCTIONS else set())


CASES = [(configuration, logical_id) for configuration in CONFIGURATIONS for logical_id in FUNCTIONS]


def _resolver(parameters: Mapping[str, str]) -> Resolver:
    return Resolver(TEMPLATE, {**LOCAL_PARAMETERS, **parameters}, NAMES)


# --- what the template grants ---------------------------------------------------------------------
@dataclass(frozen=True)
class Grant:
    sid: str
    action: str
    resource: str  # logical id of a table or the bucket, a key's template parameter, a model's ARN, or "*"
    objects: str | None = None  # for object ARNs: the key pattern ("ocr/*")
    leading_keys: tuple[str, ...] | None = None  # dynamodb:LeadingKeys patterns
    list_prefixes: tuple[str, ...] | None = None  # s3:prefix patterns of ListBucket


# A key's SSM parameter: the names start with "/" (their AllowedPattern), so "parameter${Name}" is its ARN.
SSM_PARAMETER_ARN = re.compile(
    re.escape("arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${") + r"(\w+)\}"
)


def _resource(value: Any) -> tuple[str, str | None]:
    if isinstance(value, str):  # resolved: a parameter's value (BedrockModelArns) or a literal
        if value == "*":
            return "*", None
        if re.fullmatch(r"arn:aws:bedrock:[a-z0-9-]+:(\d{12})?:(foundation-model|inference-profile)/\S+", value):
            return value, None
        raise AssertionError(f"unexpected resource {value!r}")
    if "Fn::GetAtt" in value:
        return value["Fn::GetAtt"][0], None
    text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
    if "/index/" in text:  # a table's index: "${AccountsTable.Arn}/index/OpenHolds"
        table, _, index = text.partition(".Arn}/index/")
        return f"{table.removeprefix('${')}/index/{index}", None
    if text.startswith("${FilesBucket.Arn}/"):
        return "FilesBucket", text.removeprefix("${FilesBucket.Arn}/")
    parameter = SSM_PARAMETER_ARN.fullmatch(text)
    if parameter and parameter[1] in KEY_PARAMETERS:
        return parameter[1], None
    raise AssertionError(f"unexpected resource {value!r}")


def _decided(value: Any, resolver: Resolver) -> Any:
    """`value` with each `Fn::If` decided by the template's Conditions, `AWS::NoValue` left out and a parameter's
    Ref resolved (BedrockModelArns: a list); the other intrinsics are kept for `_resource`."""
    if isinstance(value, dict):
        if set(value) == {"Fn::If"}:
            condition, if_true, if_false = value["Fn::If"]
            return _decided(if_true if resolver.condition(condition) else if_false, resolver)
        if set(value) == {"Ref"}:
            return resolver.resolve(value)
        if set(value) & {"Fn::Sub", "Fn::GetAtt"}:
            return value
        decided = {key: _decided(item, resolver) for key, item in value.items()}
        return {key: item for key, item in decided.items() if item is not NO_VALUE}
    if isinstance(value, list):
        return [item for item in (_decided(item, resolver) for item in value) if item is not NO_VALUE]
    return value


def _statements(logical_id: str, resolver: Resolver) -> list[dict[str, Any]]:
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
    decided: list[dict[str, Any]] = _decided(statements, resolver)
    return decided


def polled_queues(logical_id: str) -> set[str]:
    """The queues Lambda's event source mappings poll for this function (with the function's role)."""
    events = TEMPLATE["Resources"][logical_id]["Properties"].get("Events", {}).values()
    return {event["Properties"]["Queue"]["Fn::GetAtt"][0] for event in events if event["Type"] == "SQS"}


def grants_under(logical_id: str, parameters: Mapping[str, str]) -> list[Grant]:
    """The function's grants in a deployment with these parameters (the others: the template's defaults)."""
    found = []
    for statement in _statements(logical_id, _resolver(parameters)):
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
                # "*" only where IAM knows no resource for the action.
                assert (resource == "*") == (action in RESOURCELESS_ACTIONS), statement
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


@cache
def grants(logical_id: str, configuration: str = DEFAULTS) -> list[Grant]:
    return grants_under(logical_id, CONFIGURATIONS[configuration])


def _resolved_environment(logical_id: str, configuration: str) -> dict[str, Any]:
    resolved: dict[str, Any] = _resolver(CONFIGURATIONS[configuration]).resolve(_environment(logical_id))
    return resolved


def _unoffered_key(grant: Grant, logical_id: str, configuration: str) -> bool:
    """A key granted in a deployment that offers no engine using it: the template grants the keys whatever the
    engines (CloudFormation cannot tell whether Engines lists gemini), so this grant is unused there by design."""
    if grant.resource not in KEY_PARAMETERS:
        return False
    environment = _resolved_environment(logical_id, configuration)
    catalog = EngineCatalog(
        environment.get("SNAPSCRIBE_ENGINES", ""),
        (environment.get("SNAPSCRIBE_ENGINE", ""), environment.get("SNAPSCRIBE_OCR_ENGINE", "")),
        gemini_model=environment.get("SNAPSCRIBE_GEMINI_MODEL", ""),
    )
    offered = {choice.family for choice in catalog.choices.values()}
    if not environment.get("SNAPSCRIBE_OPENAI_BASE_URL"):
        offered.discard("openai")  # not configured: never made, its key never read
    return KEY_PARAMETERS[grant.resource] not in offered


# --- what the code calls --------------------------------------------------------------------------
@dataclass(frozen=True)
class Use:
    action: str
    resource: str
    detail: str | None  # an item's partition key, an object's key, a listing's prefix (None: no prefix)

    def granted_by(self, grant: Grant) -> bool:
        if grant.action != self.action or grant.resource not in ("*", self.resource):
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


# Converse is authorised as InvokeModel, ConverseStream as InvokeModelWithResponseStream.
BEDROCK_ACTIONS = {"Converse": "InvokeModel", "ConverseStream": "InvokeModelWithResponseStream"}


def _model_arn(model_id: str) -> str:
    """The ARN IAM authorises a Bedrock call on: a model id names a foundation model of the client's region."""
    return model_id if model_id.startswith("arn:") else f"arn:aws:bedrock:{REGION}::foundation-model/{model_id}"


class Recorder:
    """Attributes every DynamoDB, S3, SQS, SSM, Bedrock and Textract call to the function being invoked, in the
    deployment being driven."""

    def __init__(self) -> None:
        self.configuration = DEFAULTS
        self.current: str | None = None
        self.uses: dict[tuple[str, str], set[Use]] = defaultdict(set)  # by (configuration, logical id)
        self.driven: set[tuple[str, str]] = set()

    def add(self, action: str, resource: str, detail: str | None) -> None:
        if self.current is not None:
            self.uses[self.configuration, self.current].add(Use(action, resource, detail))

    def of(self, configuration: str, logical_id: str) -> set[Use]:
        """The calls of the function in the deployment: another than the defaults adds its run to the default
        run's (it serves the default run's paths alike; test_every_grant_is_used checks where it may)."""
        uses = self.uses[DEFAULTS, logical_id]
        return uses if configuration == DEFAULTS else uses | self.uses[configuration, logical_id]

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
        elif service == "ssm":  # by the template parameter that names it (any other name: not granted)
            name = str(params.get("Name", ""))
            self.add(f"ssm:{model.name}", KEY_PARAMETER_OF.get(name, name), None)
        elif service == "bedrock-runtime":
            action = BEDROCK_ACTIONS.get(model.name, model.name)
            self.add(f"bedrock:{action}", _model_arn(str(params.get("modelId", ""))), None)
        elif service == "textract":  # its operations name no resource
            self.add(f"textract:{model.name}", "*", None)
            location = params.get("DocumentLocation", {}).get("S3Object")
            if location:  # Textract reads the object with the caller's permissions: the caller's GetObject
                self.add("s3:GetObject", LOGICAL_ID_OF[location["Bucket"]], location["Name"])

    def run(self, logical_id: str, event: dict[str, Any]) -> dict[str, Any]:
        self.current = logical_id
        self.driven.add((self.configuration, logical_id))
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


def _event_sources(aws: boto3.session.Session, run: Callable[[str, dict[str, Any]], Any]) -> list[SqsEventSource]:
    """The work queue and its dead letters (to the worker), the webhook queue (to the webhook function)."""
    sqs = aws.client("sqs")
    sources = []
    for queue, function in (
        ("WorkQueue", "WorkerFunction"),
        ("WorkDeadLetterQueue", "WorkerFunction"),
        ("WebhookQueue", "WebhookFunction"),
    ):
        url = sqs.get_queue_url(QueueName=NAMES[queue])["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sources.append(SqsEventSource(sqs, url, arn, partial(run, function)))
    return sources


def _structured(model: str, prompt: str | None = None) -> dict[str, Any]:
    """The structured-extraction event with this `model` form field (an engine id), and this prompt if given."""
    event = load_event("extract_structured")
    body = base64.b64decode(event["body"])
    body, replaced = re.subn(rb'(name="model"\r\n\r\n)[^\r]*', rb"\g<1>" + model.encode(), body, count=1)
    assert replaced == 1
    if prompt is not None:
        body, replaced = re.subn(rb'(name="prompt"\r\n\r\n)[^\r]*', rb"\g<1>" + prompt.encode(), body, count=1)
        assert replaced == 1
    event["body"] = base64.b64encode(body).decode()
    return event


def _batch(engine: str, upload_id: str) -> dict[str, Any]:
    event = load_event("extract_batch")
    event["body"] = json.dumps({"engine": {"name": engine}, "files": [{"uuid": upload_id}]})
    return event


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
    # An engine the deployment does not offer is refused before any call to it (no Bedrock or Textract grant).
    _expect(run("BatchExtractionFunction", _batch("textract", UPLOAD_ID)), 400)
    _expect(run("StructuredExtractionFunction", _structured(f"bedrock:{BEDROCK_MODEL}")), 400)
    # The batch-extraction API.
    batch = _batch("local", UPLOAD_ID)
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
    sources = _event_sources(aws, run)
    drain(sources)
    aws.client("sqs").send_message(QueueUrl=sources[1].queue_url, MessageBody=json.dumps({"job": jobs[0], "item": 0}))
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


# --- the all-engines deployment: each engine-capable function through each engine ------------------
ENGINES_UPLOAD_ID = "3a9b7c1d-2e4f-4a6b-8c0d-1e2f3a4b5c6d"
ENGINES_UPLOAD_KEY = f"ocr/events/{ENGINES_UPLOAD_ID}-engines.png"
DOCUMENT_UPLOAD_ID = "6c1d2e3f-4a5b-4c6d-9e7f-8a9b0c1d2e3f"
DOCUMENT_UPLOAD_KEY = f"ocr/events/{DOCUMENT_UPLOAD_ID}-report.pdf"  # 3 pages: a job reads it whole on Textract
PLAIN_PROMPT = "Read the text on this page."  # no template: Textract's DetectDocumentText, not AnalyzeDocument


def _gemini_standin() -> tuple[ThreadingHTTPServer, str]:
    """A loopback Gemini generateContent: JSON of the request's response schema (nulls), else a text."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            pass

        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            config = request.get("generationConfig", {})
            if "responseJsonSchema" in config:
                text = json.dumps(bedrock_standin.filled(config["responseJsonSchema"]))
            else:
                text = "{}" if config.get("responseMimeType") == "application/json" else "stand-in answer"
            candidate = {"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0}
            usage = {"promptTokenCount": 300, "candidatesTokenCount": 20, "totalTokenCount": 320}
            payload = json.dumps({"candidates": [candidate], "usageMetadata": usage}).encode()
            self.send_response(200 if ":generateContent" in self.path else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def drive_every_engine(
    aws: boto3.session.Session, record: Recorder, deploy: Callable[[Mapping[str, str]], None]
) -> None:
    """Each engine-capable function through each engine, as the deployment's default (extract-image, OCR by
    key: `deploy` sets the template's environment with Engine and OcrEngine) and as a request's choice
    (structured extraction's model, batch extraction's engine), synchronously and as a job (the worker)."""
    run = record.run
    deploy({})
    _upload(aws, ENGINES_UPLOAD_KEY, SAMPLE, ENGINES_UPLOAD_ID)
    assert run("UploadEventsFunction", _s3_event(ENGINES_UPLOAD_KEY))["checked"][0]["outcome"] == "ready"
    _upload(aws, DOCUMENT_UPLOAD_KEY, pdf_with_pages(3), DOCUMENT_UPLOAD_ID)
    assert run("UploadEventsFunction", _s3_event(DOCUMENT_UPLOAD_KEY))["checked"][0]["outcome"] == "ready"
    ocr = load_event("ocr_by_key")
    ocr["body"] = json.dumps({"key": ENGINES_UPLOAD_KEY})
    document = load_event("ocr_by_key")
    document["body"] = json.dumps({"key": DOCUMENT_UPLOAD_KEY})
    jobs = []
    for engine in ENGINE_IDS:
        deploy({"Engine": engine, "OcrEngine": engine})
        _expect(run("ExtractImageFunction", load_event("extract_image_base64")), 200)
        _expect(run("StructuredExtractionFunction", _structured(engine)), 200)
        _expect(run("OcrByKeyFunction", ocr), 200)
        _expect(run("BatchExtractionFunction", _batch(engine, ENGINES_UPLOAD_ID)), 201)
        asynchronous = [("StructuredExtractionFunction", _structured(engine))]
        if engine == "textract":
            # A plain prompt is DetectDocumentText; a template's fields are asked through AnalyzeDocument.
            _expect(run("ExtractImageFunction", load_event("extract_image_json_mode")), 200)
            _expect(run("StructuredExtractionFunction", _structured(engine, PLAIN_PROMPT)), 200)
            asynchronous.append(("BatchExtractionFunction", _batch(engine, ENGINES_UPLOAD_ID)))
            # A multi-page PDF in a job: one item, read whole from the bucket (Start/GetDocumentTextDetection).
            asynchronous.append(("OcrByKeyFunction", document))
        for function, event in asynchronous:  # the worker: each engine, and both of Textract's operations
            jobs.append(body_of(_expect(run(function, _with_headers(event, Prefer="respond-async")), 202))["jobId"])
    drain(_event_sources(aws, run))
    for job_id in jobs:
        view = body_of(_expect(run("JobsFunction", _job_event("get_job", job_id)), 200))
        assert view["status"] == "succeeded", view


@pytest.fixture(scope="module")
def recorder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorder]:
    """One run through every function in the default deployment, then one through every engine in the
    all-engines deployment (module-scoped: it runs the real OCR engine)."""
    monkeypatch = pytest.MonkeyPatch()
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "SNAPSCRIBE_TMP_DIR": str(tmp_path_factory.mktemp("service-tmp")),
        "SNAPSCRIBE_TMP_MAX_AGE_SECONDS": "0",
        "SNAPSCRIBE_JOB_DIRECT_ITEMS": "0",
        "SNAPSCRIBE_JOB_RESULT_INLINE_BYTES": "0",
        "SNAPSCRIBE_ALLOW_LOOPBACK_URLS": "true",  # the webhook receiver is on loopback
    }.items():
        monkeypatch.setenv(name, value)
    for name in (
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
        "AWS_ENDPOINT_URL_TEXTRACT",
        "AWS_PROFILE",
        "SNAPSCRIBE_GEMINI_API_KEY",
        "SNAPSCRIBE_OPENAI_API_KEY",  # the keys are read from SSM, as in AWS
        "SNAPSCRIBE_ENGINE",
    ):
        monkeypatch.delenv(name, raising=False)
    record = Recorder()
    original_post = S3ObjectStore.presigned_post

    def presigned_post(self: S3ObjectStore, key: str, **kwargs: Any) -> tuple[str, dict[str, str]]:
        # The client uploads with the function's signature: a presigned POST is the function's PutObject.
        record.add("s3:PutObject", "FilesBucket", key)
        return original_post(self, key, **kwargs)

    from moto import mock_aws

    from tests.conftest import _template_resources

    standins = {
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock_standin.serve(),
        "AWS_ENDPOINT_URL_TEXTRACT": textract_standin.serve(document_pages={DOCUMENT_UPLOAD_KEY: 3}),
        "SNAPSCRIBE_GEMINI_BASE_URL": _gemini_standin(),
    }
    openai_server, openai_url = openai_standin.serve()

    def deploy(parameters: Mapping[str, str]) -> None:
        """The functions' environment as the template resolves it in the all-engines deployment with these
        parameters (locally every function shares one process and one environment)."""
        deployed = {**CONFIGURATIONS[ALL_ENGINES], "OpenAiBaseUrl": openai_url, **parameters}
        environment = function_environment(functions(TEMPLATE, deployed), _resolver(deployed))
        for name, value in environment.items():
            monkeypatch.setenv(name, value)

    with mock_aws():
        monkeypatch.setattr(S3ObjectStore, "presigned_post", presigned_post)
        boto3.setup_default_session(region_name=REGION)
        # The functions' clients come from services' own botocore session: every call they make passes the hook.
        session = services.botocore_session()
        session.register("before-parameter-build", record.hook)
        aws = _template_resources(monkeypatch)
        accounts = from_environment().accounts
        accounts.create_key(user_id="events", credits=10_000_000, rate_limit=600, raw_key=EVENTS_KEY)
        drive_every_function(aws, record)
        record.configuration = ALL_ENGINES
        for parameter in KEY_PARAMETERS:  # the operator's keys, in the parameters the template names
            name = parameter_defaults(TEMPLATE)[parameter]
            aws.client("ssm").put_parameter(Name=name, Value=f"key-of-{parameter}", Type="SecureString")
        for variable, (_server, url) in standins.items():
            monkeypatch.setenv(variable, url)
        drive_every_engine(aws, record, deploy)
        yield record
        session.unregister("before-parameter-build", record.hook)
        boto3.DEFAULT_SESSION = None
    for server, _url in [*standins.values(), (openai_server, openai_url)]:
        server.shutdown()
        server.server_close()
    monkeypatch.undo()


def _environment(logical_id: str) -> dict[str, Any]:
    variables: dict[str, Any] = TEMPLATE["Resources"][logical_id]["Properties"].get("Environment", {})
    return dict(variables.get("Variables", {}))


@pytest.mark.parametrize(("configuration", "logical_id"), CASES)
def test_every_call_is_granted(configuration: str, logical_id: str, recorder: Recorder) -> None:
    assert (DEFAULTS, logical_id) in recorder.driven, f"{logical_id} was not driven"
    if logical_id in ENGINE_FUNCTIONS:
        assert (configuration, logical_id) in recorder.driven, f"{logical_id} was not driven in {configuration}"
    granted = grants(logical_id, configuration)
    denied = sorted(
        (use.action, use.resource, use.detail or "")
        for use in recorder.of(configuration, logical_id)
        if not any(use.granted_by(grant) for grant in granted)
    )
    assert not denied, f"{logical_id} calls what its policy does not grant in {configuration}: {denied}"


@pytest.mark.parametrize(("configuration", "logical_id"), CASES)
def test_every_grant_is_used(configuration: str, logical_id: str, recorder: Recorder) -> None:
    if configuration != DEFAULTS and logical_id not in ENGINE_FUNCTIONS:
        # Not driven through the engines: the default run stands for it only as the deployment changes neither
        # its grants nor its environment.
        assert grants(logical_id, configuration) == grants(logical_id), logical_id
        assert _resolved_environment(logical_id, configuration) == _resolved_environment(logical_id, DEFAULTS)
    recorded = recorder.of(configuration, logical_id)
    unused = sorted(
        {
            (grant.sid, grant.action, grant.resource)
            for grant in grants(logical_id, configuration)
            if not _unoffered_key(grant, logical_id, configuration)
            and (grant.action, grant.resource) not in UNRECORDED_GRANTS
            and not (grant.action in POLL_ACTIONS and grant.resource in polled_queues(logical_id))
            and not any(use.granted_by(grant) for use in recorded)
        }
    )
    assert not unused, f"{logical_id} is granted what its code never calls in {configuration}: {unused}"


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_only_functions_that_can_call_an_engine_may_read_its_keys_and_call_bedrock_and_textract(
    logical_id: str,
) -> None:
    environment = _environment(logical_id)
    names_keys = {
        variable: environment.get(variable)
        for variable in ("SNAPSCRIBE_GEMINI_API_KEY_PARAMETER", "SNAPSCRIBE_OPENAI_API_KEY_PARAMETER")
    }
    engine_capable = logical_id in ENGINE_FUNCTIONS
    expected = {"Ref": "GeminiApiKeyParameterName"}, {"Ref": "OpenAiApiKeyParameterName"}
    assert tuple(names_keys.values()) == (expected if engine_capable else (None, None))
    assert ("SNAPSCRIBE_ENGINES" in environment) == engine_capable
    for configuration in CONFIGURATIONS:
        found = grants(logical_id, configuration)
        keys = {grant.resource for grant in found if grant.resource in KEY_PARAMETERS}
        assert keys == (set(KEY_PARAMETERS) if engine_capable else set()), configuration
        for grant in found:
            if grant.resource in KEY_PARAMETERS or grant.action.startswith("ssm:"):
                assert (grant.sid, grant.action) == ("EngineKeys", "ssm:GetParameter"), grant
        engine_grants = {
            (grant.sid, grant.action, grant.resource)
            for grant in found
            if grant.action.startswith(("bedrock:", "textract:"))
        }
        assert engine_grants == (engine_grants_of(logical_id, configuration) if engine_capable else set()), (
            configuration
        )
        # The engine parameters add the engine grants, and change nothing else.
        others = {grant for grant in found if not grant.action.startswith(("bedrock:", "textract:"))}
        assert others == set(grants(logical_id)), configuration


def test_the_bedrock_grant_names_each_listed_model() -> None:
    models = [BEDROCK_ARN, f"arn:aws:bedrock:{REGION}::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"]
    for logical_id in ENGINE_FUNCTIONS:
        found = grants_under(logical_id, {"BedrockModelArns": ",".join(models)})
        bedrock = sorted(grant.resource for grant in found if grant.action == "bedrock:InvokeModel")
        assert bedrock == sorted(models)
        assert not any(grant.action.startswith("textract:") for grant in found)  # UseTextract stays false


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

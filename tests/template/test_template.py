"""template.yaml: security properties and that it builds without Docker (policies: test_policies.py)."""

from __future__ import annotations

import ast
import json
import shutil

import pytest

from snapscribe_tools.template import functions, load_template, resources
from tests.conftest import EVENTS_DIR, PROJECT_ROOT
from tests.template.conftest import SamBuild

TEMPLATE = load_template()
FUNCTIONS = resources(TEMPLATE, "AWS::Serverless::Function")


def test_every_function_runs_arm64_python_with_its_own_log_group() -> None:
    assert TEMPLATE["Globals"]["Function"]["Architectures"] == ["arm64"]
    for logical_id, function in FUNCTIONS.items():
        properties = function["Properties"]
        if properties.get("PackageType") == "Image":
            metadata = function["Metadata"]
            assert (PROJECT_ROOT / metadata["DockerContext"] / metadata["Dockerfile"]).exists(), logical_id
            assert "Runtime" not in properties
            assert "Layers" not in properties
        else:
            assert properties["Runtime"] == "python3.13", logical_id
            assert properties["Layers"] == [{"Ref": "CoreLayer"}], logical_id
    log_groups = resources(TEMPLATE, "AWS::Logs::LogGroup")
    for logical_id in FUNCTIONS:
        matching = [
            group
            for group in log_groups.values()
            if group["Properties"]["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/${{{logical_id}}}"}
        ]
        assert matching
        assert matching[0]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_bucket_is_private_encrypted_tls_only_and_expires_temporary_objects() -> None:
    ((bucket_id, bucket),) = resources(TEMPLATE, "AWS::S3::Bucket").items()
    properties = bucket["Properties"]
    assert all(properties["PublicAccessBlockConfiguration"].values())
    rule = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    lifecycle = {item["Id"]: item for item in properties["LifecycleConfiguration"]["Rules"]}
    assert lifecycle["ExpireTemporaryObjects"]["Prefix"] == "tmp/"
    (policy,) = resources(TEMPLATE, "AWS::S3::BucketPolicy").values()
    statement = policy["Properties"]["PolicyDocument"]["Statement"][0]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert policy["Properties"]["Bucket"] == {"Ref": bucket_id}


def test_tables_are_encrypted_with_ttl() -> None:
    for table in resources(TEMPLATE, "AWS::DynamoDB::Table").values():
        properties = table["Properties"]
        assert properties["SSESpecification"]["SSEEnabled"] is True
        assert properties["TimeToLiveSpecification"]["Enabled"] is True
        assert properties["BillingMode"] == "PAY_PER_REQUEST"


def test_api_accepts_multipart_and_images_as_binary() -> None:
    (api,) = resources(TEMPLATE, "AWS::Serverless::Api").values()
    assert {"multipart~1form-data", "image~1*"} <= set(api["Properties"]["BinaryMediaTypes"])


def test_gemini_key_comes_from_the_ssm_parameter_named_by_a_parameter() -> None:
    assert TEMPLATE["Parameters"]["GeminiApiKeyParameterName"]["Type"] == "String"
    engine_functions = ["ExtractImageFunction", "StructuredExtractionFunction", "OcrByKeyFunction"]
    for logical_id in [*engine_functions, "BatchExtractionFunction"]:
        variables = FUNCTIONS[logical_id]["Properties"]["Environment"]["Variables"]
        assert variables["SNAPSCRIBE_GEMINI_API_KEY_PARAMETER"] == {"Ref": "GeminiApiKeyParameterName"}
        assert variables["SNAPSCRIBE_GEMINI_MODEL"] == {"Ref": "GeminiModel"}
    for name in ("Engine", "OcrEngine", "GeminiModel", "DefaultRateLimit", "StartingCredits"):
        assert name in TEMPLATE["Parameters"]


def test_every_api_event_fixture_names_a_template_route() -> None:
    routes = [route for function in functions(TEMPLATE) for route in function.routes]
    for path in sorted(EVENTS_DIR.glob("*.json")):
        event = json.loads(path.read_text())
        if "httpMethod" not in event:
            continue
        assert any(route.match(event["httpMethod"], event["path"]) is not None for route in routes), path.name


ZIP_FUNCTIONS = sorted(
    logical_id for logical_id, function in FUNCTIONS.items() if function["Properties"].get("PackageType") != "Image"
)


@pytest.mark.skipif(shutil.which("make") is None, reason="sam build's makefile method needs make")
@pytest.mark.parametrize("logical_id", ZIP_FUNCTIONS)
def test_sam_build_succeeds_without_docker(sam_build: SamBuild, logical_id: str) -> None:
    """Each zip function with its layer, from one `sam build` of template.yaml without its container functions
    (they need Docker: see test_container_image), which builds the layer once for all (tests/template/conftest.py)."""
    assert sam_build.returncode == 0, sam_build.stdout[-3000:] + sam_build.stderr[-3000:]
    build = sam_build.build
    layer = build / "CoreLayer" / "python"
    assert (layer / "snapscribe" / "web" / "middleware.py").exists()
    assert (layer / "snapscribe" / "routes" / "extract_image.py").exists()
    assert any(layer.glob("pydantic_core/_pydantic_core.cpython-313-aarch64-linux-gnu.so"))
    assert not (layer / "rapidocr").exists()  # the OCR engine never goes into the zip layer
    assert any(layer.glob("pi_heif.libs/libheif-*.so*"))  # HEIC is decoded by pi-heif: libheif + libde265 (LGPL)
    assert not list(layer.glob("pillow_heif*"))  # pillow-heif (x265, GPL-2.0) is a test fixture encoder, never shipped
    # Bytecode for the runtime's Python (Lambda's /opt is read-only: without it each cold start compiles the layer),
    # whenever the build machine has that Python (the build says so when it has not).
    if "warning: no python3.13 here" not in sam_build.stdout:
        assert (layer / "snapscribe" / "__pycache__" / "services.cpython-313.pyc").exists()
        assert any(layer.glob("pydantic/__pycache__/*.cpython-313.pyc"))
    assert (build / logical_id / "app.py").exists()
    # sam built this function itself: its built template points at the artifact, and at the layer built with it.
    built = load_template(build / "template.yaml")["Resources"]
    assert built[logical_id]["Properties"]["CodeUri"] == logical_id
    assert built[logical_id]["Properties"]["Layers"] == [{"Ref": "CoreLayer"}]
    assert built["CoreLayer"]["Properties"]["ContentUri"] == "CoreLayer"


def test_the_work_queue_redelivers_only_after_a_worker_is_gone_and_dead_letters_after_three_receives() -> None:
    parameters = TEMPLATE["Parameters"]
    visibility = parameters["WorkQueueVisibilityTimeout"]["Default"]
    assert visibility >= 6 * parameters["WorkerTimeout"]["Default"]  # AWS's advice for SQS event sources
    # Every combination of the two parameters' steps: tests/template/test_rules.py (the template's Rules).
    assert min(parameters["WorkQueueVisibilityTimeout"]["AllowedValues"]) >= 6 * min(
        parameters["WorkerTimeout"]["AllowedValues"]
    )
    queue = TEMPLATE["Resources"]["WorkQueue"]["Properties"]
    assert queue["VisibilityTimeout"] == {"Ref": "WorkQueueVisibilityTimeout"}
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["WorkDeadLetterQueue", "Arn"]},
        "maxReceiveCount": 3,
    }
    worker = FUNCTIONS["WorkerFunction"]["Properties"]
    assert worker["Timeout"] == {"Ref": "WorkerTimeout"}
    events = worker["Events"]
    assert events["WorkItems"]["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert events["WorkItems"]["Properties"]["ScalingConfig"] == {
        "MaximumConcurrency": {"Ref": "WorkerMaximumConcurrency"}
    }
    assert events["DeadWorkItems"]["Properties"]["Queue"] == {"Fn::GetAtt": ["WorkDeadLetterQueue", "Arn"]}
    assert min(parameters["WorkerMaximumConcurrency"]["AllowedValues"]) == 2  # Lambda's least for SQS


def test_every_queue_is_encrypted() -> None:
    for logical_id, queue in resources(TEMPLATE, "AWS::SQS::Queue").items():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True, logical_id


# The settings models of the functions that run an engine: the charging APIs' and the worker's.
ENGINE_SETTINGS = {"ChargingApiSettings", "WorkerSettings"}
ENGINE_VARIABLES = {"SNAPSCRIBE_ENGINE", "SNAPSCRIBE_OCR_ENGINE", "SNAPSCRIBE_ENGINES"}


def _settings_model(logical_id: str) -> str:
    """The settings model a function's handler composes (its app.py's import from function_settings)."""
    properties = FUNCTIONS[logical_id]["Properties"]
    if properties.get("PackageType") == "Image":
        module = properties["ImageConfig"]["Command"][0].rsplit(".", 2)[0]
        app = PROJECT_ROOT / "functions" / module / "app.py"
    else:
        app = PROJECT_ROOT / properties["CodeUri"] / "app.py"
    tree = ast.parse(app.read_text())
    (name,) = [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "snapscribe.function_settings"
        for alias in node.names
    ]
    return name


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_a_function_that_can_be_asked_for_an_engine_carries_every_engine(logical_id: str) -> None:
    """Every route serves every engine in AWS: a function that runs an engine is the OCR image (the local engine
    in it, so the default deployment needs no key) and is told which engines the deployment offers; the others
    stay zip functions and carry no engine settings."""
    properties = FUNCTIONS[logical_id]["Properties"]
    variables = set(properties.get("Environment", {}).get("Variables", {}))
    if _settings_model(logical_id) in ENGINE_SETTINGS:
        assert properties.get("PackageType") == "Image", f"{logical_id} runs an engine but is not the OCR image"
        assert FUNCTIONS[logical_id]["Metadata"]["Dockerfile"] == "functions/Dockerfile"
        assert variables >= ENGINE_VARIABLES, (logical_id, ENGINE_VARIABLES - variables)
    else:
        assert properties.get("PackageType") != "Image", f"{logical_id} needs no engine: a zip starts faster"
        assert not ENGINE_VARIABLES & variables, logical_id


def test_the_ocr_image_installs_the_local_engine() -> None:
    dockerfile = (PROJECT_ROOT / "functions" / "Dockerfile").read_text()
    assert '-r "${LAMBDA_TASK_ROOT}/requirements/ocr.txt"' in dockerfile
    assert "rapidocr" in (PROJECT_ROOT / "requirements" / "ocr.txt").read_text()


def test_a_default_deployment_needs_no_third_party_key() -> None:
    parameters = TEMPLATE["Parameters"]
    assert parameters["Engine"]["Default"] == "local"
    assert parameters["OcrEngine"]["Default"] == "local"
    assert parameters["Engines"]["Default"] == ""  # nothing else offered until the operator lists it
    assert parameters["BedrockModelArns"]["Default"] == ""
    assert parameters["UseTextract"]["Default"] == "false"

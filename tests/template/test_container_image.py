"""The functions that can be asked for an engine share one container image, and Docker is not available here.
This test does what the Dockerfile does, step by step, in a folder (COPY, then the RUN's pip install for this machine's
platform), and runs the handler from that folder alone (no site-packages: only the image's files and
the boto3 the Lambda base image provides), against moto over HTTP."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from snapscribe.services import from_environment
from snapscribe.storage.uploads import UploadRecord
from snapscribe_tools import container_image
from snapscribe_tools.template import load_template
from tests.conftest import EVENTS_KEY, PROJECT_ROOT, load_event

DOCKERFILE = container_image.DOCKERFILE
IMAGE_FUNCTIONS = (
    "ExtractImageFunction",
    "StructuredExtractionFunction",
    "OcrByKeyFunction",
    "BatchExtractionFunction",
    "WorkerFunction",
)
UPLOAD_ID = "0f8e2c55-6d1b-4d0a-9a53-3c1f4b2a7e10"
UPLOAD_KEY = f"ocr/events/{UPLOAD_ID}-scan 2026-11 (copy).png"


def _stages() -> dict[str, list[tuple[str, str]]]:
    return container_image.stages()


def _instructions() -> list[tuple[str, str]]:
    return container_image.image_instructions()


def test_the_image_carries_the_tesseract_models_make_installs() -> None:
    """The tessdata stage runs the script make runs, on the same list: so copying make's folder is the step."""
    (run,) = [argument for instruction, argument in _stages()["tessdata"] if instruction == "RUN"]
    assert run == "python3 /build/tools/fetch_files.py /build/requirements/tessdata.txt /opt/tessdata"
    copied = {argument for instruction, argument in _stages()["tessdata"] if instruction == "COPY"}
    assert copied == {
        "requirements/tessdata.txt /build/requirements/tessdata.txt",
        "tools/fetch_files.py /build/tools/fetch_files.py",
    }
    copies = [argument for instruction, argument in _instructions() if instruction == "COPY"]
    assert "--from=tessdata /opt/tessdata ${LAMBDA_TASK_ROOT}/tessdata" in copies
    assert ("ENV", "SNAPSCRIBE_TESSDATA_DIR=${LAMBDA_TASK_ROOT}/tessdata") in _instructions()


def test_dockerfile_matches_the_template() -> None:
    instructions = _instructions()
    assert dict(instructions)["FROM"] == "public.ecr.aws/lambda/python:3.13-arm64"
    copied = {shlex.split(argument)[1] for instruction, argument in instructions if instruction == "COPY"}
    resources = load_template()["Resources"]
    image_functions = sorted(
        logical_id for logical_id, resource in resources.items() if resource["Properties"].get("PackageType") == "Image"
    )
    assert image_functions == sorted(IMAGE_FUNCTIONS)
    for logical_id in image_functions:
        function = resources[logical_id]
        assert function["Metadata"]["Dockerfile"] == str(DOCKERFILE.relative_to(PROJECT_ROOT))
        (command,) = function["Properties"]["ImageConfig"]["Command"]
        module = command.rsplit(".", 1)[0]  # the runtime imports "ocr_by_key.app" from the task root
        assert "${LAMBDA_TASK_ROOT}/" + module.replace(".", "/") + ".py" in copied, (logical_id, command)


@pytest.fixture(scope="module")
def image_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The image's task root, and beside it the boto3 the base image provides, installed at the same time (a pip
    uses one core). The task root's pip compiles nothing: its bytecode would be this interpreter's, never the
    image's Python's (container_image.build_task_root); the Dockerfile's own compileall step runs as ever."""
    root = tmp_path_factory.mktemp("ocr-image")
    task_root, runtime = root / "var-task", root / "base-image-runtime"
    task_root.mkdir()
    import boto3 as host_boto3

    log = root / "base-image-runtime.log"  # a file, not a pipe: nothing waits on its reader
    with log.open("w") as output:
        base_runtime = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--target",
                str(runtime),
                f"boto3=={host_boto3.__version__}",
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            container_image.build_task_root(task_root, bytecode=False)
        finally:
            base_runtime.wait(timeout=600)
    assert base_runtime.returncode == 0, log.read_text()[-2000:]
    return root


def test_image_contents(image_root: Path) -> None:
    task_root = image_root / "var-task"
    assert (task_root / "ocr_by_key" / "app.py").exists()
    assert (task_root / "batch_extraction" / "app.py").exists()
    assert (task_root / "extract_image" / "app.py").exists()
    assert (task_root / "structured_extraction" / "app.py").exists()
    assert (task_root / "snapscribe" / "engines" / "local.py").exists()
    assert any(task_root.glob("rapidocr/models/*.onnx"))  # the models come with the wheel
    assert not (task_root / "requirements").exists()  # the RUN step cleaned up after itself
    models = {path.stem for path in (task_root / "tessdata").glob("*.traineddata")}
    assert {"ara", "fas", "rus", "srp", "hin", "kor", "ell", "tha"} <= models
    assert any((task_root / "tessdata" / "licenses").glob("*.copyright"))  # each package's licence goes along
    assert any(task_root.glob("tesserocr*"))


RUN_HANDLER = r"""
import json, sys, types
task_root, runtime = sys.argv[1], sys.argv[2]
sys.path[:0] = [task_root, runtime]
import importlib, snapscribe, rapidocr
app = importlib.import_module(sys.argv[3])  # as the runtime imports the module ImageConfig.Command names
assert snapscribe.__file__.startswith(task_root), snapscribe.__file__
assert rapidocr.__file__.startswith(task_root), rapidocr.__file__
context = types.SimpleNamespace(function_name="OcrByKeyFunction", memory_limit_in_mb=3008,
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:OcrByKeyFunction",
    aws_request_id="image-test", get_remaining_time_in_millis=lambda: 29000)
result = app.lambda_handler(json.loads(sys.stdin.read()), context)
print("RESULT " + json.dumps(result))
"""


def test_handler_runs_from_the_image_alone(image_root: Path, moto_http: boto3.session.Session) -> None:
    accounts = from_environment().accounts
    accounts.create_key(user_id="events", credits=100_000, rate_limit=100, raw_key=EVENTS_KEY)
    from_environment().uploads.create(
        UploadRecord(
            upload_id=UPLOAD_ID,
            user_id="events",
            key=UPLOAD_KEY,
            filename="scan 2026-11 (copy).png",
            content_type="image/png",
            max_bytes=50 << 20,
            created_at="2026-11-21T19:00:00Z",
            expires_at=int(time.time()) + 86400,
        )
    )
    moto_http.client("s3").put_object(
        Bucket=from_environment().settings.bucket_name,  # type: ignore[attr-defined]
        Key=UPLOAD_KEY,
        Body=(PROJECT_ROOT / "samples" / "invoice.png").read_bytes(),
    )
    from_environment().uploads.mark_ready("events", UPLOAD_ID, image_format="PNG", size=26437, pages=1)
    result = _run_from_image(image_root, "ocr_by_key.app", load_event("ocr_by_key"))
    assert result["statusCode"] == 200, result
    assert "INV-1042" in json.loads(result["body"])["text"]


def test_structured_extraction_runs_from_the_image_with_the_default_engine(
    image_root: Path, moto_http: boto3.session.Session
) -> None:
    """The default deployment's structured-extraction API needs no key: the local engine is in its image."""
    from_environment().accounts.create_key(user_id="events", credits=100_000, rate_limit=100, raw_key=EVENTS_KEY)
    result = _run_from_image(image_root, "structured_extraction.app", load_event("extract_structured"))
    assert result["statusCode"] == 200, result
    answer = json.loads(result["body"])
    assert answer["base_resp"]["status_code"] == 0
    assert "INV-1042" in answer["content"]


def _run_from_image(image_root: Path, module: str, event: dict[str, object]) -> dict[str, object]:
    environment = {**os.environ, "POWERTOOLS_SERVICE_NAME": "snapscribe", "PYTHONNOUSERSITE": "1"}
    environment.pop("SNAPSCRIBE_ENGINES", None)
    environment.update(container_image.environment(image_root / "var-task"))  # the image's ENV
    completed = subprocess.run(
        [
            sys.executable,
            "-S",
            "-c",
            RUN_HANDLER,
            str(image_root / "var-task"),
            str(image_root / "base-image-runtime"),
            module,
        ],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )
    found = re.search(r"^RESULT (.*)$", completed.stdout, re.MULTILINE)
    assert found, completed.stdout[-3000:] + completed.stderr[-3000:]
    result: dict[str, object] = json.loads(found.group(1))
    return result

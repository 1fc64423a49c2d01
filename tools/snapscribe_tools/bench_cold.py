"""`make bench BENCH=cold_start`: each function's cold start in a fresh process, as Lambda starts an instance:
the handler module's import (and what it does at import), then its first request, then a second (warm), against
the local stack's moto over HTTP. Each function gets the environment make run gives it and a request of its own
from events/ (the events' key is created first). The OCR image's functions read no page here: their model load
is `make bench BENCH=image`.

The process sees what the function sees on Lambda, not this virtualenv (which also holds the dev tools, some of
which botocore would load, such as awscrt and pyOpenSSL): Python without site-packages, the function's code, the
core layer (its requirements installed for this machine, and the snapscribe package), and the boto3 the runtime
provides; an image function, the files its Dockerfile puts in the image."""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from snapscribe_tools import container_image
from snapscribe_tools.template import PROJECT_ROOT

RUNS = 5
EVENTS = PROJECT_ROOT / "events"
# A request per function that goes through its whole path (auth, rate window, DynamoDB, S3) without an engine.
FIRST_REQUEST = {
    "ExtractImageFunction": "list_image_formats",
    "StructuredExtractionFunction": "extract_structured_unknown_model",
    "FileUploadFunction": "create_upload_url",
    "UploadEventsFunction": "s3_upload_created",
    "HousekeepingFunction": "housekeeping_schedule",
    "OcrByKeyFunction": "ocr_by_key_malformed_key",
    "BatchExtractionFunction": "get_batch_extraction",
    "JobsFunction": "list_jobs",
    "AccountFunction": "get_account",
    "ApiDocsFunction": "get_openapi",
    "WorkerFunction": "work_item",
    "WebhookFunction": "webhook_delivery",
}

_COLD_START = r"""
import json, sys, time
started = time.perf_counter()
path, name, event_file, logical_id, memory, timeout, paths = sys.argv[1:8]
sys.path[:0] = json.loads(paths)
import importlib.util, types
spec = importlib.util.spec_from_file_location("handler_module", path)
module = importlib.util.module_from_spec(spec)
sys.modules["handler_module"] = module
spec.loader.exec_module(module)
imported = time.perf_counter()
handler = getattr(module, name)
event = json.loads(open(event_file).read())
times = []
for index in range(2):
    context = types.SimpleNamespace(
        function_name=logical_id, memory_limit_in_mb=int(memory), aws_request_id=f"cold-{index}",
        invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{logical_id}",
        get_remaining_time_in_millis=lambda: int(timeout) * 1000,
    )
    begun = time.perf_counter()
    result = handler(json.loads(json.dumps(event)), context)
    times.append(time.perf_counter() - begun)
status = result.get("statusCode") if isinstance(result, dict) else None
print("COLD " + json.dumps({"import": imported - started, "first": times[0], "second": times[1], "status": status}))
"""


def _median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.0f} ms"


def _pip_target(folder: Path, *requirements: str) -> Path:
    completed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(folder), *requirements],
        capture_output=True,
        text=True,
    )
    if completed.returncode != 0:
        raise RuntimeError(completed.stderr[-3000:])
    return folder


def _compiled(folder: Path) -> Path:
    """Bytecode as the layer's build makes it (layers/core/Makefile: compileall, unchecked hashes), here with this
    interpreter standing in for the runtime's."""
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(folder)],
        check=True,
        capture_output=True,
    )
    return folder


def _lambda_paths(folder: Path) -> dict[str, list[str]]:
    """sys.path for each kind of function, as on Lambda: zip (code, layer, runtime) and image (task root, runtime);
    and "Zip without bytecode", the layer as it was built before its build compiled it (every cold start compiled
    what it imported: /opt is read-only). The function's own code folder is put first for each function."""
    import boto3

    runtime = _pip_target(folder / "runtime", f"boto3=={boto3.__version__}")
    layer = _pip_target(folder / "layer", "-r", str(PROJECT_ROOT / "layers" / "core" / "requirements.txt"))
    shutil.copytree(PROJECT_ROOT / "layers" / "core" / "snapscribe", layer / "snapscribe", ignore=_NO_BYTECODE)
    bare = folder / "layer-without-bytecode"
    shutil.copytree(layer, bare, ignore=_NO_BYTECODE)
    _compiled(layer)
    task_root = folder / "image"
    container_image.build_task_root(task_root)
    return {
        "Zip": [str(layer), str(runtime)],
        "Zip without bytecode": [str(bare), str(runtime)],
        "Image": [str(task_root), str(runtime)],
    }


_NO_BYTECODE = shutil.ignore_patterns("__pycache__")


def _cold_start(
    stack: Any, paths: dict[str, list[str]], logical_id: str, event_name: str, layer: str | None = None
) -> tuple[str, str, str]:
    function = stack.functions[logical_id]
    definition = function.definition
    module, _, name = definition.handler.rpartition(".")
    path = definition.code_uri / (module.replace(".", "/") + ".py")
    environment = {**function.environment, **container_image.environment(Path(paths["Image"][0]))}
    environment.pop("PYTHONPATH", None)
    code = [] if definition.package_type == "Image" else [str(definition.code_uri)]
    kind = layer or definition.package_type
    search = json.dumps(code + paths[kind])
    figures: dict[str, list[float]] = {"import": [], "first": [], "second": []}
    statuses = set()
    for _ in range(RUNS):
        arguments = [str(path), name, str(EVENTS / f"{event_name}.json"), logical_id]
        arguments += [str(definition.memory), str(definition.timeout), search]
        output = subprocess.run(
            # -B: nothing written back, as on Lambda, where the code's folders are read-only
            [sys.executable, "-S", "-B", "-c", _COLD_START, *arguments],
            env=environment,
            capture_output=True,
            text=True,
        )
        line = next((row for row in output.stdout.splitlines() if row.startswith("COLD ")), None)
        if line is None:
            raise RuntimeError(output.stderr[-3000:])
        measured: dict[str, Any] = json.loads(line[5:])
        for part in figures:
            figures[part].append(float(measured[part]))
        statuses.add(measured["status"])
    cold = [imported + first for imported, first in zip(figures["import"], figures["first"], strict=True)]
    return (
        f"cold start: {logical_id} ({kind.lower()})",
        _median_ms(cold),
        f"import {_median_ms(figures['import'])} + first request {_median_ms(figures['first'])} "
        f"({event_name}, status {sorted(statuses, key=str)}); warm {_median_ms(figures['second'])}; "
        f"median of {RUNS} fresh processes",
    )


def cold_starts() -> list[tuple[str, str, str]]:
    import tempfile

    from snapscribe_tools.stack import LocalStack

    workspace = tempfile.TemporaryDirectory()
    paths = _lambda_paths(Path(workspace.name))
    stack = LocalStack(port=0)
    stack.start()
    try:
        key = json.loads((EVENTS / "get_account.json").read_text())["headers"]["X-API-Key"]
        from snapscribe.services import from_environment

        from_environment().accounts.create_key(user_id="events", credits=1_000_000, rate_limit=10_000, raw_key=key)
        rows = [_cold_start(stack, paths, logical_id, event_name) for logical_id, event_name in FIRST_REQUEST.items()]
        rows.append(_cold_start(stack, paths, "AccountFunction", "get_account", layer="Zip without bytecode"))
        return rows
    finally:
        stack.stop()
        workspace.cleanup()

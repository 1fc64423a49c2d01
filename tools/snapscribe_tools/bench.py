"""`make bench`: measured figures, printed as a table. Not a test: nothing here passes or fails.

1. cold import and init per handler (fresh process, median of several runs)
2. request overhead without the engine (in-process, moto DynamoDB, a no-op engine)
3. local OCR seconds and peak memory per image on ../shared/eval, and per line of each script
4. image preparation time for a 12 MP JPEG and for HEIC files
5. the OCR container image: its size for arm64, and a cold start from its files
6. jobs on the local stack: 500 pages and 3000 images with 1 and 2 workers (bench_jobs.py)
7. each network engine against its loopback stand-in: overhead per request beside the model's time
8. what 1,000 pages cost per engine in AWS, from seconds per page measured here and list prices (bench_cost.py)

`make bench BENCH="local_ocr jobs"` measures only the sections named.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any
from unittest import mock

from snapscribe_tools.template import PROJECT_ROOT, functions, load_template

EVAL = PROJECT_ROOT.parent / "shared" / "eval"
COLD_RUNS = 5
OVERHEAD_RUNS = 30

Row = tuple[str, str, str]


def _median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.0f} ms"


def cold_imports() -> list[Row]:
    rows: list[Row] = []
    environment = {
        **os.environ,
        "POWERTOOLS_SERVICE_NAME": "snapscribe",
        "POWERTOOLS_METRICS_NAMESPACE": "snapscribe",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    for definition in functions(load_template()):
        module_file = definition.code_uri / (definition.handler.rpartition(".")[0].replace(".", "/") + ".py")
        script = (
            "import time, importlib.util as u; t = time.perf_counter();"
            f"s = u.spec_from_file_location('handler', {str(module_file)!r}); m = u.module_from_spec(s);"
            "s.loader.exec_module(m); print(time.perf_counter() - t)"
        )
        samples = []
        for _ in range(COLD_RUNS):
            output = subprocess.run([sys.executable, "-c", script], env=environment, capture_output=True, text=True)
            if output.returncode != 0:
                raise RuntimeError(output.stderr)
            samples.append(float(output.stdout.strip().splitlines()[-1]))
        rows.append((f"cold import + init: {definition.logical_id}", _median_ms(samples), f"median of {COLD_RUNS}"))
    return rows


def request_overhead() -> list[Row]:
    """Auth, rate window, reserve/settle, parsing and image checks: everything but the engine."""
    import boto3
    from moto import mock_aws

    from snapscribe.engines.base import ExtractionRequest, ExtractionResult
    from snapscribe.engines.registry import Engines
    from snapscribe.services import from_environment
    from snapscribe_tools.invoke import prepare_fresh_aws
    from snapscribe_tools.lambdas import LocalFunction, apply_environment

    class NoopEngine:
        name = "noop"
        max_image_side = 2048

        def extract(self, request: ExtractionRequest) -> ExtractionResult:
            return ExtractionResult(text="ok", prompt_tokens=1, completion_tokens=1)

    rows: list[Row] = []
    os.environ.update(
        {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
    )
    with mock_aws():
        apply_environment(prepare_fresh_aws(boto3.session.Session(region_name="us-east-1")))
        with mock.patch.object(Engines, "__call__", return_value=NoopEngine()):
            definition = next(item for item in functions(load_template()) if item.logical_id == "ExtractImageFunction")
            function = LocalFunction(definition)
            for event_name in ("list_image_formats", "extract_image_base64"):
                event = json.loads((PROJECT_ROOT / "events" / f"{event_name}.json").read_text())
                from_environment().accounts.create_key(
                    user_id=f"bench-{event_name}",
                    credits=10_000,
                    rate_limit=10_000,
                    raw_key=f"bench-{event_name}-key",
                )
                event["headers"]["Authorization"] = f"Bearer bench-{event_name}-key"
                function.invoke(event)  # warm: first call pays imports and client creation
                samples = []
                for _ in range(OVERHEAD_RUNS):
                    started = time.perf_counter()
                    result = function.invoke(event)
                    samples.append(time.perf_counter() - started)
                    assert result["statusCode"] == 200, result
                label = (
                    "GET formats (auth + rate window)"
                    if "formats" in event_name
                    else ("POST extract-image, 26 KB PNG, no-op engine (auth, rate, reserve, settle, ledger)")
                )
                rows.append((f"request overhead: {label}", _median_ms(samples), f"median of {OVERHEAD_RUNS}, moto"))
    return rows


# Reads the images named in sys.argv[FIRST_IMAGE:] with the local engine in this (fresh) process, timing each:
# the first pays for loading the models.
_TIME_PAGES = r"""
from pathlib import Path
from snapscribe.engines.base import ExtractionRequest
from snapscribe.engines.local import LocalEngine
from snapscribe.images.prepare import prepare_image
engine = LocalEngine()
times = []
for path in sys.argv[FIRST_IMAGE:]:
    image = prepare_image(Path(path).read_bytes(), max_side=engine.max_image_side, max_pixels=80_000_000)
    started = time.perf_counter()
    engine.extract(ExtractionRequest(images=[image], prompt="x"))
    times.append(time.perf_counter() - started)
"""

_OCR_SCRIPT = (
    "import json, resource, sys, time\nFIRST_IMAGE = 1\n"
    + _TIME_PAGES
    + 'print(json.dumps({"times": times, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))\n'
)


def local_ocr() -> list[Row]:
    sets = {
        "SROIE receipts": sorted((EVAL / "sroie" / "images").glob("*.jpg"))[:10],
        "FUNSD forms": sorted((EVAL / "funsd" / "images").glob("*.png"))[:6],
        "text lines": sorted(p for p in (EVAL / "textlines").rglob("*") if p.suffix.lower() in (".png", ".jpg"))[:10],
    }
    rows: list[Row] = []
    for label, paths in sets.items():
        if not paths:
            rows.append((f"local OCR: {label}", "n/a", "no images found in ../shared/eval"))
            continue
        output = subprocess.run(
            [sys.executable, "-c", _OCR_SCRIPT, *map(str, paths)], capture_output=True, text=True, check=True
        )
        figures = json.loads(output.stdout.strip().splitlines()[-1])
        times = figures["times"]
        first, rest = times[0], times[1:] or times
        rows.append(
            (
                f"local OCR: {label} ({len(times)} images)",
                f"{statistics.median(rest):.2f} s/image",
                f"max {max(rest):.2f} s; first image {first:.2f} s (model load); "
                f"process peak {figures['peak_mb']:.0f} MB",
            )
        )
    return rows


def scripts() -> list[Row]:
    """Per script of ../shared/eval/textlines, in a fresh process each: the median time per line (after the
    first, which loads the models) and the process's peak memory (RapidOCR and the Tesseract models used)."""
    labels = EVAL / "textlines" / "labels.jsonl"
    if not labels.exists():
        return [("local OCR per script", "n/a", "no ../shared/eval/textlines")]
    groups: dict[str, list[str]] = {}
    for item in map(json.loads, labels.read_text(encoding="utf-8").splitlines()):
        script = "Arab (classical)" if str(item["id"]).startswith("openarabic") else str(item["script"])
        groups.setdefault(script, []).append(str(EVAL / "textlines" / item["image"]))
    rows: list[Row] = []
    for script, paths in sorted(groups.items()):
        chosen = paths[:6]
        output = subprocess.run(
            [sys.executable, "-c", _OCR_SCRIPT, chosen[0], *chosen], capture_output=True, text=True, check=True
        )
        figures = json.loads(output.stdout.strip().splitlines()[-1])
        rest = figures["times"][1:]
        rows.append(
            (
                f"local OCR per line: {script} ({len(rest)} lines)",
                f"{statistics.median(rest):.2f} s/line",
                f"max {max(rest):.2f} s; first {figures['times'][0]:.2f} s (models load); "
                f"process peak {figures['peak_mb']:.0f} MB",
            )
        )
    return rows


def _time(function: Callable[[], Any], runs: int = 5) -> str:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return _median_ms(samples)


def image_preparation() -> list[Row]:
    from PIL import Image, ImageDraw

    from snapscribe.images.formats import register_openers
    from snapscribe.images.prepare import prepare_image

    register_openers()
    photo = Image.effect_noise((4000, 3000), 64).convert("RGB")
    ImageDraw.Draw(photo).text((100, 100), "TOTAL 12.50", fill="black")
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", quality=90)
    jpeg = buffer.getvalue()
    rows: list[Row] = [
        (
            "prepare 12 MP JPEG for an LLM (-> 2048 px)",
            _time(lambda: prepare_image(jpeg, max_side=2048, max_pixels=80_000_000)),
            f"{len(jpeg) / 1e6:.1f} MB, decode + downscale + re-encode",
        ),
        (
            "prepare 12 MP JPEG for local OCR (-> 2560 px)",
            _time(lambda: prepare_image(jpeg, max_side=2560, max_pixels=80_000_000)),
            "decode + downscale + re-encode",
        ),
    ]
    heic_buffer = io.BytesIO()
    try:
        # Encoded by pillow-heif (a dev requirement): the layer's pi-heif decodes only.
        import pillow_heif

        pillow_heif.from_pillow(photo).save(heic_buffer, format="HEIF", quality=80)
        heic = heic_buffer.getvalue()
        rows.append(
            (
                "prepare 12 MP HEIC for an LLM (-> 2048 px)",
                _time(lambda: prepare_image(heic, max_side=2048, max_pixels=80_000_000), runs=3),
                f"{len(heic) / 1e6:.1f} MB, decode + downscale + JPEG",
            )
        )
    except (ImportError, OSError, KeyError, ValueError) as error:
        rows.append(("prepare 12 MP HEIC", "n/a", f"this pillow-heif cannot encode HEIC ({error})"))
    arrow = EVAL / "formats" / "heif" / "arrow.heic"
    if arrow.exists():
        data = arrow.read_bytes()
        rows.append(
            (
                "prepare arrow.heic (1536x2048) as is",
                _time(lambda: prepare_image(data, max_side=2048, max_pixels=80_000_000)),
                "decode + checks, original bytes kept",
            )
        )
    return rows


# The image's platform: Lambda arm64, the base image's Python (3.13, Amazon Linux 2023, glibc 2.34).
IMAGE_PLATFORM = [
    *(f"--platform=manylinux_2_{minor}_aarch64" for minor in (17, 28, 34)),
    "--platform=manylinux2014_aarch64",
    "--python-version=3.13",
    "--implementation=cp",
    "--only-binary=:all:",
]

_IMAGE_COLD_START = (
    r"""
import importlib, json, sys, time
task_root, module = sys.argv[1], sys.argv[2]
sys.path.insert(0, task_root)
begun = time.perf_counter()
importlib.import_module(module)
imported = time.perf_counter() - begun
FIRST_IMAGE = 3
"""
    + _TIME_PAGES
    + 'print(json.dumps({"import": imported, "pages": times}))\n'
)


def image() -> list[Row]:
    """The OCR container image: what the Dockerfile adds to the base image, built for its own platform
    (linux/arm64, CPython 3.13) with pip's platform flags, measured as the files' size; and a cold start from
    the same Dockerfile built for this machine, in a fresh process: the handler's import, then the first page
    (RapidOCR's and Tesseract's models load) against a second page."""
    import tempfile
    from pathlib import Path

    from snapscribe_tools import container_image

    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as folder:
        arm = Path(folder) / "arm64"
        container_image.build_task_root(arm, IMAGE_PLATFORM)
        parts: dict[str, int] = {}
        for child in arm.iterdir():
            parts[child.name] = container_image.folder_size(child)
        total = sum(parts.values())
        largest = sorted(parts.items(), key=lambda item: item[1], reverse=True)[:6]
        rows.append(
            (
                "OCR image: layers over the base image (arm64)",
                f"{total / 1e6:.0f} MB",
                "largest: "
                + ", ".join(f"{name} {size / 1e6:.0f} MB" for name, size in largest)
                + f"; base {container_image.base_image()} not measured here (no Docker); Lambda limit 10 GB",
            )
        )
        local = Path(folder) / "this-machine"
        container_image.build_task_root(local)
        environment = {
            **os.environ,
            **container_image.environment(local),
            "POWERTOOLS_SERVICE_NAME": "snapscribe",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "AWS_DEFAULT_REGION": "us-east-1",
            "PYTHONNOUSERSITE": "1",
        }
        receipt = sorted((EVAL / "sroie" / "images").glob("*.jpg"))[:1]
        sample = [str(path) for path in receipt] or [str(PROJECT_ROOT / "samples" / "invoice.png")]
        for module in ("ocr_by_key.app", "batch_extraction.app", "worker.app"):
            imports, firsts, seconds = [], [], []
            for _ in range(3):
                output = subprocess.run(
                    [sys.executable, "-c", _IMAGE_COLD_START, str(local), module, sample[0], sample[0]],
                    env=environment,
                    capture_output=True,
                    text=True,
                )
                if output.returncode != 0:
                    raise RuntimeError(output.stderr[-3000:])
                figures = json.loads(output.stdout.strip().splitlines()[-1])
                imports.append(figures["import"])
                firsts.append(figures["pages"][0])
                seconds.append(figures["pages"][1])
            rows.append(
                (
                    f"OCR image cold start: import {module}",
                    _median_ms(imports),
                    f"median of 3, fresh process, from the image's files ({os.uname().machine})",
                )
            )
        rows.append(
            (
                "OCR image cold start: first page (models load)",
                _median_ms(firsts),
                f"the second page {_median_ms(seconds)}; {Path(sample[0]).name}",
            )
        )
    return rows


def cold_start() -> list[Row]:
    from snapscribe_tools.bench_cold import cold_starts

    return cold_starts()


def engines() -> list[Row]:
    from snapscribe_tools.bench_engines import engines as measured

    return measured()


def jobs() -> list[Row]:
    from snapscribe_tools.bench_jobs import jobs_on_local_stack

    return jobs_on_local_stack()


def cost() -> list[Row]:
    from snapscribe_tools.bench_cost import cost as measured

    return measured()


SECTIONS: dict[str, Callable[[], list[Row]]] = {
    "cold_imports": cold_imports,
    "cold_start": cold_start,
    "request_overhead": request_overhead,
    "local_ocr": local_ocr,
    "scripts": scripts,
    "image_preparation": image_preparation,
    "image": image,
    "jobs": jobs,
    "engines": engines,
    "cost": cost,
}


def main() -> None:
    rows: list[Row] = []
    names = sys.argv[1:] or list(SECTIONS)
    unknown = [name for name in names if name not in SECTIONS]
    if unknown:
        raise SystemExit(f"unknown bench section(s) {unknown}; choose from {list(SECTIONS)}")
    for section in (SECTIONS[name] for name in names):
        print(f"measuring: {section.__name__} ...", file=sys.stderr, flush=True)
        rows.extend(section())
    widths = [max(len(row[index]) for row in rows) for index in range(3)]
    header = ("measure", "figure", "notes")
    widths = [max(width, len(title)) for width, title in zip(widths, header, strict=True)]
    print(f"\nsnapscribe bench ({os.cpu_count()} cores, Python {sys.version.split()[0]})\n")
    print("| " + " | ".join(title.ljust(width) for title, width in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (width + 2) for width in widths) + "|")
    for row in rows:
        print("| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |")


if __name__ == "__main__":
    main()

"""`make bench`, jobs: the local stack as `make run` starts it, driven over HTTP by the user's client.

A batch job of 500 pages (5 PDFs of 100 text pages) and an extract-image job of 3000 small images, each with
1 and 2 workers (the WorkerMaximumConcurrency parameter): wall time, items per second, the stack's peak
memory (every process of it), and the median latency of admitting a job (the 202)."""

from __future__ import annotations

import base64
import io
import os
import re
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from snapscribe_tools.client import Api
from snapscribe_tools.template import PROJECT_ROOT

Row = tuple[str, str, str]
CLI = str(PROJECT_ROOT / ".venv" / "bin" / "snapscribe")
PDF_FILES, PDF_PAGES, IMAGES = 5, 100, 3000
ADMISSIONS = 15  # small jobs admitted one after another, for the 202's median latency


def _pdf(pages: int, name: str) -> bytes:
    """A4 pages at 150 dpi, each with six printed lines (a short letter's worth)."""
    from PIL import Image, ImageDraw

    images = []
    for number in range(1, pages + 1):
        page = Image.new("RGB", (1240, 1754), "white")
        draw = ImageDraw.Draw(page)
        for line in range(6):
            draw.text(
                (100, 160 + line * 90), f"{name} page {number} line {line + 1}: totals", fill="black", font_size=40
            )
        images.append(page)
    buffer = io.BytesIO()
    images[0].save(buffer, format="PDF", save_all=True, append_images=images[1:], resolution=150)
    return buffer.getvalue()


def tiny_png(number: int) -> str:
    """A 96x32 PNG reading "n <number>", base64: the small images of the 3000-image job."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (96, 32), "white")
    ImageDraw.Draw(image).text((4, 8), f"n {number}", fill="black", font_size=16)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _tree_rss_bytes(root: int) -> int:
    """The resident memory of a process and all its descendants, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parents[int(entry.name)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                continue
    family, grew = {root}, True
    while grew:
        grown = family | {pid for pid, parent in parents.items() if parent in family}
        grew, family = grown != family, grown
    total = 0
    for pid in family:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        total += int(found.group(1)) * 1024 if found else 0
    return total


@dataclass
class Stack:
    process: subprocess.Popen[str]
    api: Api
    peak_rss: int = 0


@contextmanager
def local_stack(workers: int) -> Iterator[Stack]:
    """`snapscribe run` with this many workers, until the banner; its memory sampled twice a second."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [CLI, "run", "--port", str(port), "--dev-key", "bench-key-0123456789", "--rate-limit", "100000"]
    command += ["--parameter", f"WorkerMaximumConcurrency={workers}"]
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    assert process.stdout is not None
    for line in process.stdout:
        if "Press Ctrl-C to stop." in line:
            break
    else:
        raise RuntimeError("the local stack did not start")
    threading.Thread(target=lambda: [None for _ in process.stdout or []], daemon=True).start()  # keep it drained
    stack = Stack(process, Api(f"http://127.0.0.1:{port}", "bench-key-0123456789"))
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.5):
            stack.peak_rss = max(stack.peak_rss, _tree_rss_bytes(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield stack
    finally:
        stop.set()
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _wait(api: Api, job_ids: list[str]) -> None:
    waiting = set(job_ids)
    while waiting:
        waiting = {job_id for job_id in waiting if not api.job(job_id).get("finishedAt")}
        time.sleep(0.5)


def _batch_job(stack: Stack, folder: Path) -> tuple[float, float, int]:
    """Upload the PDFs (not timed), then admit one job of all five and time it to its end."""
    paths = []
    for number in range(PDF_FILES):
        paths.append(folder / f"report-{number}.pdf")
        if not paths[-1].exists():
            paths[-1].write_bytes(_pdf(PDF_PAGES, f"report {number}"))
    uploads = [stack.api.upload(path) for path in paths]
    started = time.monotonic()
    job = stack.api.start_batch("local", uploads)
    admitted = time.monotonic() - started
    _wait(stack.api, [job["jobId"]])
    finished = stack.api.job(job["jobId"])
    assert finished["status"] == "succeeded", finished["status"]
    return time.monotonic() - started, admitted, finished["progress"]["done"]


def _image_job(stack: Stack) -> tuple[float, float, int]:
    images = [tiny_png(number) for number in range(IMAGES)]
    body = {"inputMethod": "base64", "images": images, "prompt": "Read every image."}
    started = time.monotonic()
    accepted = stack.api.call(
        "POST", "/api/v1/extract-image", json=body, headers={"Prefer": "respond-async"}, expect=(202,)
    )
    admitted = time.monotonic() - started
    job_id = accepted.json()["jobId"]
    _wait(stack.api, [job_id])
    finished = stack.api.job(job_id)
    assert finished["status"] == "succeeded", finished["status"]
    return time.monotonic() - started, admitted, finished["progress"]["done"]


def _admission_median(stack: Stack, folder: Path) -> float:
    """The 202's latency for a one-file batch job, median of several (the jobs then run; not waited for)."""
    path = folder / "one-page.pdf"
    path.write_bytes(_pdf(1, "one"))
    upload = stack.api.upload(path)
    stack.api.start_batch("local", [upload])  # the first also waits for the upload's check: not counted
    samples = []
    for _ in range(ADMISSIONS):
        started = time.monotonic()
        stack.api.start_batch("local", [upload])
        samples.append(time.monotonic() - started)
    return statistics.median(samples)


def jobs_on_local_stack() -> list[Row]:
    rows: list[Row] = []
    worker_counts = [int(value) for value in os.environ.get("BENCH_WORKERS", "1,2").split(",")]
    with tempfile.TemporaryDirectory(prefix="snapscribe-bench-") as temporary:
        folder = Path(temporary)
        for workers in worker_counts:
            with local_stack(workers) as stack:
                wall, admitted, pages = _batch_job(stack, folder)
                rows.append(
                    (
                        f"batch job, {PDF_FILES} PDFs x {PDF_PAGES} pages, {workers} worker(s)",
                        f"{wall:.0f} s, {pages / wall:.2f} pages/s",
                        f"{pages} pages; admitted in {admitted * 1000:.0f} ms",
                    )
                )
                wall, admitted, done = _image_job(stack)
                rows.append(
                    (
                        f"extract-image job, {IMAGES} images, {workers} worker(s)",
                        f"{wall:.0f} s, {done / wall:.1f} images/s",
                        f"{done} tiny PNGs in one request; admitted in {admitted:.2f} s",
                    )
                )
                median = _admission_median(stack, folder)
                rows.append(
                    (
                        f"job admission (202), {workers} worker(s)",
                        f"{median * 1000:.0f} ms median",
                        f"{ADMISSIONS} one-page batch jobs, while earlier work runs",
                    )
                )
                rows.append(
                    (
                        f"local stack peak memory, {workers} worker(s)",
                        f"{stack.peak_rss / 2**20:.0f} MB",
                        "RSS of every process of make run (gateway, moto, function pools), sampled 2/s",
                    )
                )
    return rows

"""A client for users of a snapscribe deployment (or `make run`): upload files, run them as batch-extraction jobs,
follow the jobs, read the account. Speaks only the public HTTP APIs, as any other client would."""

from __future__ import annotations

import json
import mimetypes
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

FILES_PER_JOB = 5  # the batch-extraction API's limit on files per request
UPLOAD_CHECK_SECONDS = 120  # how long an upload may wait for the service's check before a job can use it
MAX_RETRIES = 8
POLL_SECONDS = 1.0
IN_PARALLEL = 8  # uploads and job starts at once


class ClientError(Exception):
    """What went wrong, in words a user can act on (the service's own error message where it gave one)."""


def error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    if isinstance(body, dict):
        for found in (body.get("error"), body.get("message"), (body.get("base_resp") or {}).get("status_msg")):
            if isinstance(found, str) and found:
                return f"HTTP {response.status_code}: {found}"
    return f"HTTP {response.status_code}: {json.dumps(body)[:200]}"


def retry_after(response: httpx.Response, attempt: int) -> float:
    """The wait a 429 asks for (Retry-After, seconds), else a growing pause."""
    raw = response.headers.get("Retry-After", "")
    return float(raw) if raw.isdigit() else min(2.0**attempt, 30.0)


@dataclass
class Api:
    """One deployment's HTTP API, with one key. Rate-limited answers (429) are waited out as the API asks."""

    base_url: str
    key: str
    sleep: Callable[[float], None] = time.sleep
    transport: httpx.BaseTransport | None = None  # tests answer through httpx.MockTransport
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(
            transport=self.transport,
            base_url=self.base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {self.key}", "User-Agent": "snapscribe-client"},
            timeout=httpx.Timeout(60.0, connect=10.0),
        )

    def call(self, method: str, path: str, *, expect: tuple[int, ...] = (200,), **kwargs: Any) -> httpx.Response:
        """One request; a 429 is waited out as asked. A request that is safe to send again (a GET or DELETE, or
        a POST with an Idempotency-Key, which the service answers once) is also tried again after a gateway
        error (502, 503, 504: its outcome unknown) or a dropped connection."""
        headers = kwargs.get("headers") or {}
        repeatable = method in ("GET", "DELETE") or "Idempotency-Key" in headers
        for attempt in range(MAX_RETRIES):
            last = attempt == MAX_RETRIES - 1
            try:
                response = self.http.request(method, path, **kwargs)
            except httpx.TransportError as error:
                if not repeatable or last:
                    raise ClientError(f"cannot reach {self.base_url}: {error}") from error
                self.sleep(min(2.0**attempt, 30.0))
                continue
            if response.status_code == 429:
                self.sleep(retry_after(response, attempt))
            elif response.status_code in (502, 503, 504) and repeatable and not last:
                self.sleep(min(2.0**attempt, 30.0))
            else:
                break
        if response.status_code not in expect:
            raise ClientError(f"{method} {path}: {error_message(response)}")
        return response

    def upload(self, path: Path) -> dict[str, Any]:
        """The file through a presigned POST straight into the bucket; the upload's uuid and key."""
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        data = path.read_bytes()
        answer: dict[str, Any] = self.call(
            "POST",
            "/api/files/upload-url",
            json={"filename": path.name, "contentType": content_type, "size": len(data)},
        ).json()
        try:
            posted = httpx.post(
                answer["uploadUrl"], data=answer["fields"], files={"file": (path.name, data, content_type)}, timeout=300
            )
        except httpx.TransportError as error:
            raise ClientError(f"uploading {path.name}: {error}") from error
        if posted.status_code not in (200, 201, 204):
            raise ClientError(f"uploading {path.name}: the bucket answered HTTP {posted.status_code}")
        return answer

    def start_batch(self, engine: str, uploads: list[dict[str, Any]]) -> dict[str, Any]:
        """A batch-extraction job for up to five uploaded files. An upload the service has not checked yet is
        a 409: asked again until it has. One idempotency key for every try, so a retry never starts two jobs."""
        body = {"engine": {"name": engine}, "files": [{"uuid": upload["uuid"]} for upload in uploads]}
        headers = {"Prefer": "respond-async", "Idempotency-Key": str(uuid.uuid4())}
        deadline = time.monotonic() + UPLOAD_CHECK_SECONDS
        while True:
            response = self.call("POST", "/v1/image-extraction", json=body, headers=headers, expect=(202, 409))
            if response.status_code == 202:
                job: dict[str, Any] = response.json()
                return job
            if time.monotonic() > deadline:
                raise ClientError(f"the uploads were not checked in time: {error_message(response)}")
            self.sleep(0.5)

    def job(self, job_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self.call("GET", f"/api/v1/jobs/{job_id}").json()
        return found

    def result(self, job: dict[str, Any]) -> Any:
        """A finished job's result: in its record, or behind its presigned URL when too large for one. A job as
        the list shows it carries neither: it is read whole first."""
        if job.get("result") is None and not job.get("resultUrl"):
            job = self.job(job["jobId"])
        if job.get("resultUrl"):
            fetched = httpx.get(job["resultUrl"], timeout=300)
            if fetched.status_code != 200:
                raise ClientError(f"job {job['jobId']}: its result could not be fetched (HTTP {fetched.status_code})")
            return fetched.json()
        return job.get("result")

    def jobs(self, limit: int) -> Iterator[dict[str, Any]]:
        """The caller's jobs, newest first, following the pages' cursors."""
        cursor = None
        left = limit
        while left > 0:
            params: dict[str, Any] = {"limit": min(left, 100)}
            if cursor:
                params["cursor"] = cursor
            page = self.call("GET", "/api/v1/jobs", params=params).json()
            yield from page["jobs"][:left]
            left -= len(page["jobs"])
            cursor = page.get("nextCursor")
            if not cursor or not page["jobs"]:
                return

    def cancel(self, job_id: str) -> dict[str, Any]:
        cancelled: dict[str, Any] = self.call("DELETE", f"/api/v1/jobs/{job_id}", expect=(200, 202)).json()
        return cancelled

    def account(self) -> dict[str, Any]:
        found: dict[str, Any] = self.call("GET", "/api/v1/account").json()
        return found


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def poll(api: Api, waiting: set[str]) -> list[dict[str, Any]]:
    """The current state of the jobs still waited on: each by its own GET when few, else through the caller's
    job list (newest first, a hundred a request), which holds ours among its first pages."""
    if len(waiting) <= 5:
        return [api.job(job_id) for job_id in waiting]
    found = []
    for job in api.jobs(limit=10_000):
        if job["jobId"] in waiting:
            found.append(job)
            if len(found) == len(waiting):
                break
    return found


def wait(api: Api, job_ids: list[str], *, show_progress: bool) -> dict[str, dict[str, Any]]:
    """Follow the jobs until each has finished, with one progress bar over all their work items."""
    from tqdm import tqdm

    finished: dict[str, dict[str, Any]] = {}
    latest: dict[str, dict[str, Any]] = {}
    pause = max(POLL_SECONDS, len(job_ids) / 100)  # a request a second, or a page of the list
    with tqdm(total=0, unit="item", disable=not show_progress, file=sys.stderr, dynamic_ncols=True) as bar:
        while len(finished) < len(job_ids):
            for job in poll(api, set(job_ids) - set(finished)):
                latest[job["jobId"]] = job
                if job.get("finishedAt"):
                    finished[job["jobId"]] = job
            bar.total = sum(job["progress"]["total"] for job in latest.values())
            bar.n = sum(
                job["progress"]["done"] + job["progress"]["failed"] + job["progress"].get("cancelled", 0)
                for job in latest.values()
            )
            bar.set_postfix_str(f"jobs {len(finished)}/{len(job_ids)}")
            bar.refresh()
            if len(finished) < len(job_ids):
                api.sleep(pause)
    return finished


def unique_name(folder: Path, stem: str, suffix: str, taken: set[str]) -> Path:
    name, number = f"{stem}{suffix}", 1
    while name in taken:
        number += 1
        name = f"{stem}-{number}{suffix}"
    taken.add(name)
    return folder / name


def write_results(out: Path, job: dict[str, Any], result: Any, names: dict[str, Path], taken: set[str]) -> list[Path]:
    """The job's whole answer as <jobId>.json, and per file its text (pages apart by a form feed, as pdftotext
    writes them) and its pages as <file>.json, named after the file that was sent."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / f"{job['jobId']}.json"]
    written[0].write_text(json.dumps({"job": job, "result": result}, indent=2, ensure_ascii=False))
    extraction = result.get("data") if isinstance(result, dict) else None  # the batch API answers under `data`
    for file in extraction.get("files", []) if isinstance(extraction, dict) else []:
        source = names.get(file["uuid"], Path(file["uuid"]))
        pages = sorted(file["pages"], key=lambda page: page["number"])
        text_path = unique_name(out, source.stem, ".txt", taken)
        text_path.write_text("\f".join(page.get("text", "") for page in pages), encoding="utf-8")
        pages_path = text_path.with_suffix(".json")
        taken.add(pages_path.name)
        pages_path.write_text(json.dumps({"file": str(source), **file}, indent=2, ensure_ascii=False))
        written += [text_path, pages_path]
    return written


def submit(
    api: Api, paths: list[Path], *, engine: str, wait_for_jobs: bool, out: Path | None, show_progress: bool
) -> int:
    """Upload, start one job per five files, and (with `wait_for_jobs`) follow them and write what came back.
    Exit status: 0 every page processed, 3 some pages or jobs failed."""
    for path in paths:
        if not path.is_file():
            raise ClientError(f"{path}: no such file")
    from tqdm import tqdm

    with ThreadPoolExecutor(max_workers=IN_PARALLEL) as pool:
        uploads = list(
            tqdm(
                pool.map(api.upload, paths),
                total=len(paths),
                desc="upload",
                unit="file",
                disable=not show_progress,
                file=sys.stderr,
            )
        )
        names: dict[str, Path] = {upload["uuid"]: path for upload, path in zip(uploads, paths, strict=True)}
        batches = list(chunks(uploads, FILES_PER_JOB))
        jobs = list(
            tqdm(
                pool.map(lambda batch: api.start_batch(engine, batch), batches),
                total=len(batches),
                desc="start",
                unit="job",
                disable=not show_progress or len(batches) == 1,
                file=sys.stderr,
            )
        )
    chatty = len(jobs) <= 10  # a line per job for a few; a total for many
    for job in jobs if chatty else []:
        print(f"job {job['jobId']} {job['status']}: {job['statusUrl']}", file=sys.stderr)
    if not wait_for_jobs:
        print(json.dumps([job["jobId"] for job in jobs]))
        return 0
    try:
        finished = wait(api, [job["jobId"] for job in jobs], show_progress=show_progress)
    except KeyboardInterrupt:
        print("\nStopped following; the jobs go on: snapscribe jobs get JOB_ID", file=sys.stderr)
        return 130
    clean = True
    taken: set[str] = set()
    totals = {"done": 0, "failed": 0, "charged": 0}
    for job in jobs:
        done = finished[job["jobId"]]
        result = api.result(done) if done.get("resultStatus") is not None else None
        extraction = result.get("data") if isinstance(result, dict) else None
        failed_pages = extraction.get("failed_pages", 0) if isinstance(extraction, dict) else 0
        clean = clean and done["status"] == "succeeded" and not failed_pages
        totals["done"] += done["progress"]["done"]
        totals["failed"] += done["progress"]["failed"]
        totals["charged"] += done.get("charged") or 0
        if chatty:
            summary = f"job {done['jobId']} {done['status']}: {done['progress']['done']} done, "
            summary += f"{done['progress']['failed']} failed, charged {done.get('charged')} of {done['held']} held"
            print(summary, file=sys.stderr)
        if out is not None:
            for path in write_results(out, done, result, names, taken):
                if chatty:
                    print(f"  wrote {path}", file=sys.stderr)
        elif result is not None:
            print(json.dumps(result, ensure_ascii=False))
    print(
        f"{len(jobs)} job(s): {totals['done']} pages done, {totals['failed']} failed, charged {totals['charged']}"
        + (f"; results in {out}" if out is not None else ""),
        file=sys.stderr,
    )
    return 0 if clean else 3


def api_from(url: str | None, key: str | None) -> Api:
    """--api, else $SNAPSCRIBE_API_URL, else the running `make run` stack; --key, else $SNAPSCRIBE_API_KEY."""
    if not url:
        url = os.environ.get("SNAPSCRIBE_API_URL")
    if not url:
        from snapscribe_tools.local_state import read_state

        state = read_state()
        url = state["url"] if state and state.get("url") else "http://127.0.0.1:3000"
    key = key or os.environ.get("SNAPSCRIBE_API_KEY")
    if not key:
        raise ClientError("no API key: pass --key KEY or set SNAPSCRIBE_API_KEY (make run prints a dev key)")
    return Api(url, key)

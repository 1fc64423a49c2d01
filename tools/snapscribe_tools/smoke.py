"""`snapscribe smoke --api URL --key KEY`: one request to each of a deployment's APIs with the bundled sample image,
as a client makes them (HTTP only, httpx), and a pass/fail table. What it proves after `sam deploy`: the API's
description is served, the key is accepted, each API answers with text read from the image (extract-image,
structured extraction, an upload then OCR by key and batch extraction of it), and a job runs through the queue
and the worker to its end. It costs the key about 900 credits; its upload is deleted at the end.

A check that fails says why (the HTTP status and the API's own message); the checks that depend on it are
skipped, saying on what. The exit status is 0 only when every check passed."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from snapscribe_tools.client import error_message

SAMPLE_IMAGE = Path(__file__).resolve().parents[2] / "samples" / "invoice.png"
PROMPT = "Read all the text in this image."
TEMPLATE_PROMPT = (
    "Please extract the information from the image using the following schema: "
    '{"invoice_no": "Invoice Number", "total": "Total"}'
)
REQUEST_SECONDS = 60.0  # above API Gateway's 29 s: its own 504 is what a slow call answers
RATE_LIMIT_WAITS = 3  # a 429 is waited out (Retry-After) this many times, then it fails the check
POLL_SECONDS = 2.0  # a new key has 60 requests a minute: polling every 2 s leaves room for the rest


class CheckFailed(Exception):
    def __init__(self, detail: str, status: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status


class Unreachable(CheckFailed):
    """No answer at all (DNS, connection, TLS, timeout): the checks after it are skipped."""


@dataclass(frozen=True)
class Outcome:
    check: str
    result: str  # PASS, FAIL or SKIP
    status: int | None  # the HTTP status the check's answer had
    ms: float | None
    detail: str


@dataclass
class Smoke:
    """The requests of one smoke run, and what the checks hand on to those after them (the upload)."""

    http: httpx.Client
    image: bytes
    image_name: str
    engine: str = "local"
    timeout: float = 180.0  # how long an upload's check and the job may take
    sleep: Callable[[float], None] = time.sleep
    upload: dict[str, Any] = field(default_factory=dict)
    balance: int | None = None

    def request(self, method: str, path: str, expect: Sequence[int], **kwargs: Any) -> httpx.Response:
        """One request; a 429 waited out as it asks; any other status than `expect` fails the check."""
        for attempt in range(RATE_LIMIT_WAITS + 1):
            try:
                response = self.http.request(method, path, **kwargs)
            except httpx.TransportError as error:
                reason = str(error) or type(error).__name__
                raise Unreachable(f"no answer from {self.http.base_url}{path}: {reason}") from None
            if response.status_code != 429 or attempt == RATE_LIMIT_WAITS:
                break
            wait = response.headers.get("Retry-After", "")
            self.sleep(min(float(wait), 60.0) if wait.isdigit() else 5.0)
        if response.status_code not in expect:
            raise CheckFailed(error_message(response), response.status_code)
        return response

    def json_of(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise CheckFailed(f"the answer is not JSON: {response.text[:120]!r}", response.status_code) from None

    def until_checked(self, method: str, path: str, expect: Sequence[int], **kwargs: Any) -> httpx.Response:
        """A use of the upload: 409 until the service's S3 trigger has checked it (a second or two)."""
        deadline = time.monotonic() + self.timeout
        while True:
            response = self.request(method, path, (*expect, 409), **kwargs)
            if response.status_code != 409:
                return response
            if time.monotonic() > deadline:
                raise CheckFailed(f"the upload was still not checked after {self.timeout:.0f} s", 409)
            self.sleep(1.0)


def _text_preview(text: str, length: int = 40) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= length else flat[: length - 3] + "...")


def check_openapi(smoke: Smoke) -> tuple[int, str]:
    response = smoke.request("GET", "/openapi.json", (200,))
    document = smoke.json_of(response)
    if not isinstance(document, dict) or "paths" not in document:
        raise CheckFailed("the answer is not an OpenAPI document", response.status_code)
    return response.status_code, f"OpenAPI {document.get('openapi')}, {len(document['paths'])} paths"


def check_account(smoke: Smoke) -> tuple[int, str]:
    response = smoke.request("GET", "/api/v1/account", (200,))
    smoke.balance = int(smoke.json_of(response)["balance"])
    return response.status_code, f"balance {smoke.balance}"


def check_formats(smoke: Smoke) -> tuple[int, str]:
    response = smoke.request("GET", "/api/v1/extract-image", (200,))
    body = smoke.json_of(response)
    return response.status_code, f"engines {', '.join(body.get('engines') or [])}; default {body.get('defaultEngine')}"


def _extract_image_body(smoke: Smoke) -> dict[str, Any]:
    encoded = base64.b64encode(smoke.image).decode()
    return {"inputMethod": "base64", "images": [encoded], "prompt": PROMPT, "jsonMode": False}


def check_extract_image(smoke: Smoke) -> tuple[int, str]:
    response = smoke.request("POST", "/api/v1/extract-image", (200,), json=_extract_image_body(smoke))
    body = smoke.json_of(response)
    text = body.get("results")
    if not isinstance(text, str) or not text.strip():
        raise CheckFailed("no text in results", response.status_code)
    return response.status_code, f"{body.get('creditUsage')} credits: {_text_preview(text)}"


def check_structured_extraction(smoke: Smoke) -> tuple[int, str]:
    response = smoke.request(
        "POST",
        "/v1/ocr/image/extract",
        (200,),
        data={"model": "u1-ocr-extract", "scene": "general", "prompt": TEMPLATE_PROMPT},
        files={"image": (smoke.image_name, smoke.image, "image/png")},
    )
    body = smoke.json_of(response)
    if (body.get("base_resp") or {}).get("status_code") != 0:
        raise CheckFailed(f"base_resp {body.get('base_resp')}", response.status_code)
    try:
        filled = json.loads(body["content"])
    except (KeyError, TypeError, ValueError):
        raise CheckFailed(f"content is not the filled template: {str(body.get('content'))[:80]!r}", 200) from None
    fields = ", ".join(f"{name}={value}" for name, value in filled.items()) if isinstance(filled, dict) else filled
    return response.status_code, f"{(body.get('usage') or {}).get('total_tokens')} tokens: {fields}"


def check_upload(smoke: Smoke) -> tuple[int, str]:
    name = f"smoke-{smoke.image_name}"
    request = {"filename": name, "contentType": "image/png", "size": len(smoke.image)}
    answer = smoke.json_of(smoke.request("POST", "/api/files/upload-url", (200,), json=request))
    try:
        # Straight to the bucket (a presigned POST: the form's fields, then the file), without the API's key.
        posted = httpx.post(
            answer["uploadUrl"],
            data=answer["fields"],
            files={"file": (name, smoke.image, "image/png")},
            timeout=REQUEST_SECONDS,
        )
    except httpx.TransportError as error:
        raise CheckFailed(f"the bucket did not answer the presigned POST: {error}") from None
    if posted.status_code not in (200, 201, 204):
        raise CheckFailed(f"the bucket refused the presigned POST: {posted.text[:160]}", posted.status_code)
    smoke.upload = answer
    return posted.status_code, f"uploaded {answer['key']} to the bucket"


def check_ocr_by_key(smoke: Smoke) -> tuple[int, str]:
    response = smoke.until_checked("POST", "/api/ocr/process", (200,), json={"key": smoke.upload["key"]})
    body = smoke.json_of(response)
    if not str(body.get("text") or "").strip():
        raise CheckFailed("no text", response.status_code)
    return response.status_code, (
        f"{body.get('wordCount')} words, {body.get('tokensUsed')} tokens, {body.get('language')}: "
        f"{_text_preview(body['text'])}"
    )


def check_batch_extraction(smoke: Smoke) -> tuple[int, str]:
    request = {"engine": {"name": smoke.engine}, "files": [{"uuid": smoke.upload["uuid"]}]}
    response = smoke.until_checked("POST", "/v1/image-extraction", (201,), json=request)
    data = smoke.json_of(response).get("data") or {}
    if data.get("status") != "processed":
        raise CheckFailed(f"status {data.get('status')!r}, failed pages {data.get('failed_pages')}", 201)
    pages = [page for file in data.get("files", []) for page in file.get("pages", [])]
    return response.status_code, (
        f"{data.get('engine')}: {len(pages)} page(s) processed, {data.get('initial_cost')} credits: "
        f"{_text_preview(str(pages[0].get('text') if pages else ''))}"
    )


def check_job(smoke: Smoke) -> tuple[int, str]:
    started = time.monotonic()
    response = smoke.request(
        "POST",
        "/api/v1/extract-image",
        (202,),
        json=_extract_image_body(smoke),
        headers={"Prefer": "respond-async"},
    )
    job_id = smoke.json_of(response)["jobId"]
    while True:
        job = smoke.json_of(smoke.request("GET", f"/api/v1/jobs/{job_id}", (200,)))
        if job.get("finishedAt"):
            break
        if time.monotonic() - started > smoke.timeout:
            raise CheckFailed(f"job {job_id} still {job.get('status')} after {smoke.timeout:.0f} s", 202)
        smoke.sleep(POLL_SECONDS)
    seconds = time.monotonic() - started
    if job.get("status") != "succeeded" or job.get("resultStatus") != 200:
        raise CheckFailed(f"job {job_id} ended {job.get('status')} (result {job.get('resultStatus')})", 202)
    return response.status_code, f"job {job_id} succeeded in {seconds:.1f} s, charged {job.get('charged')}"


def check_delete_upload(smoke: Smoke) -> tuple[int, str]:
    response = smoke.request("DELETE", f"/api/files/{smoke.upload['uuid']}", (200,))
    return response.status_code, "the smoke test's upload is deleted"


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[Smoke], tuple[int, str]]
    needs: tuple[str, ...] = ()  # checks that must have passed first


ACCOUNT = "account: GET /api/v1/account"
UPLOAD = "file upload: POST /api/files/upload-url + presigned POST"
CHECKS = (
    Check("API description: GET /openapi.json", check_openapi),
    Check(ACCOUNT, check_account),
    Check("formats: GET /api/v1/extract-image", check_formats, (ACCOUNT,)),
    Check("extract-image: POST /api/v1/extract-image", check_extract_image, (ACCOUNT,)),
    Check("structured extraction: POST /v1/ocr/image/extract", check_structured_extraction, (ACCOUNT,)),
    Check(UPLOAD, check_upload, (ACCOUNT,)),
    Check("OCR by key: POST /api/ocr/process", check_ocr_by_key, (ACCOUNT, UPLOAD)),
    Check("batch extraction: POST /v1/image-extraction", check_batch_extraction, (ACCOUNT, UPLOAD)),
    Check("job: extract-image with Prefer: respond-async", check_job, (ACCOUNT,)),
    Check("upload deleted: DELETE /api/files/{uuid}", check_delete_upload, (ACCOUNT, UPLOAD)),
)


def run_checks(smoke: Smoke, checks: Sequence[Check] = CHECKS) -> list[Outcome]:
    outcomes: list[Outcome] = []
    passed: set[str] = set()
    unreachable: str | None = None
    for check in checks:
        missing = [name.split(":")[0] for name in check.needs if name not in passed]
        if unreachable or missing:
            reason = unreachable or f"needs {' and '.join(missing)}, which did not pass"
            outcomes.append(Outcome(check.name, "SKIP", None, None, reason))
            continue
        started = time.perf_counter()
        try:
            status, detail = check.run(smoke)
        except CheckFailed as failure:
            if isinstance(failure, Unreachable):
                unreachable = "the API did not answer"
            outcome = Outcome(check.name, "FAIL", failure.status, _ms(started), failure.detail)
        except (LookupError, TypeError, ValueError, AttributeError) as error:
            # An answer of another shape than the API's (a wrong URL's server, a proxy's page): a failed check,
            # not a traceback.
            detail = f"the answer is not the API's: {type(error).__name__} {error}"
            outcome = Outcome(check.name, "FAIL", None, _ms(started), detail)
        else:
            passed.add(check.name)
            outcome = Outcome(check.name, "PASS", status, _ms(started), detail)
        outcomes.append(outcome)
    return outcomes


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def render(outcomes: Sequence[Outcome], detail_width: int = 100) -> str:
    """The table: one row a check (its name, PASS/FAIL/SKIP, the HTTP status, milliseconds, what it saw or why it
    failed), then a line counting them."""
    header = ("check", "result", "HTTP", "ms", "detail")
    rows = [
        (
            outcome.check,
            outcome.result,
            "" if outcome.status is None else str(outcome.status),
            "" if outcome.ms is None else f"{outcome.ms:.0f}",
            " ".join(outcome.detail.split())[:detail_width],
        )
        for outcome in outcomes
    ]
    widths = [max([len(title), *(len(row[index]) for row in rows)]) for index, title in enumerate(header)]
    aligned_right = {2, 3}

    def line(cells: Sequence[str]) -> str:
        return (
            "| "
            + " | ".join(
                cell.rjust(width) if index in aligned_right else cell.ljust(width)
                for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
            )
            + " |"
        )

    lines = [line(header), "|" + "|".join("-" * (width + 2) for width in widths) + "|", *map(line, rows)]
    passed = sum(outcome.result == "PASS" for outcome in outcomes)
    failed = [outcome.check.split(":")[0] for outcome in outcomes if outcome.result == "FAIL"]
    skipped = sum(outcome.result == "SKIP" for outcome in outcomes)
    summary = f"{passed} of {len(outcomes)} checks passed"
    summary += f"; FAILED: {', '.join(failed)}" if failed else ""
    summary += f"; {skipped} skipped" if skipped else ""
    return "\n".join([*lines, "", summary + "."])


def smoke_test(api: str, key: str, *, image: Path = SAMPLE_IMAGE, engine: str = "local", timeout: float = 180) -> int:
    """Runs every check against `api` with `key`, prints the table; 0 when all passed, else 1."""
    with httpx.Client(
        base_url=api.rstrip("/"),
        headers={"Authorization": f"Bearer {key}", "User-Agent": "snapscribe-smoke"},
        timeout=httpx.Timeout(REQUEST_SECONDS, connect=10.0),
    ) as http:
        smoke = Smoke(http=http, image=image.read_bytes(), image_name=image.name, engine=engine, timeout=timeout)
        outcomes = run_checks(smoke)
        before = smoke.balance
        print(render(outcomes))
        if before is not None:
            try:
                after = int(http.get("/api/v1/account").json()["balance"])
                print(f"Credits used: {before - after} (balance {before} -> {after}).")
            except (httpx.HTTPError, ValueError, KeyError, TypeError):
                pass
    return 0 if all(outcome.result == "PASS" for outcome in outcomes) else 1

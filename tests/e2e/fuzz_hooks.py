"""Schemathesis hooks for tests/e2e/test_openapi_fuzz.py (loaded through SCHEMATHESIS_HOOKS): the one step of the
upload flow the document cannot describe, the presigned POST to the bucket, so that the links after an upload URL
(OCR by key, as a job, batch extraction, delete) reach an uploaded file."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import httpx
import schemathesis

SAMPLE = (Path(__file__).resolve().parents[2] / "samples" / "invoice.png").read_bytes()


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    if case.operation.label != "POST /api/files/upload-url" or response.status_code != 200:
        return
    answer = response.json()
    content_type = answer["fields"].get("Content-Type", "image/png")
    posted = httpx.post(
        answer["uploadUrl"], data=answer["fields"], files={"file": ("invoice.png", SAMPLE, content_type)}
    )
    if posted.status_code < 300:
        _wait_until_checked(answer["uuid"])


def _wait_until_checked(uuid: str) -> None:
    """Until the upload trigger has checked it (a use answers 409 before), so the next step of a sequence reads it."""
    with httpx.Client(base_url=os.environ["FUZZ_API_URL"], headers={"X-API-Key": os.environ["FUZZ_API_KEY"]}) as api:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            probe = api.post(
                "/v1/image-extraction", json={"engine": {"name": "no-such-engine"}, "files": [{"uuid": uuid}]}
            )
            if probe.status_code != 409:
                return
            time.sleep(0.2)

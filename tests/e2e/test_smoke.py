"""`snapscribe smoke` as an operator runs it after a deploy, here against the e2e modules' shared local stack
(tests/e2e/conftest.py) over HTTP: every check passes with the dev key and the credits it reports are the ones the
balance lost; a wrong key is a table whose account row says 401, the rest skipped, exit 1, no traceback; an address
nobody answers is the same, saying so."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import boto3
import pytest

from snapscribe_tools.smoke import CHECKS
from tests.e2e.stack_process import CLI, StackProcess, dev_balance, free_port

pytestmark = pytest.mark.e2e
CHECK_NAMES = [check.name for check in CHECKS]


def _smoke(stack: StackProcess | None, *arguments: str) -> subprocess.CompletedProcess[str]:
    environment = stack.environment if stack else None
    return subprocess.run(
        [CLI, "smoke", *arguments], env=environment, capture_output=True, text=True, timeout=600, check=False
    )


def _rows(output: str) -> dict[str, dict[str, str]]:
    """The printed table, by check: its result, HTTP status, ms and detail."""
    rows = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0] in CHECK_NAMES:
            rows[cells[0]] = dict(zip(("result", "status", "ms", "detail"), cells[1:], strict=True))
    return rows


def _bucket_keys(stack: StackProcess) -> list[str]:
    state: dict[str, Any] = stack.state()
    s3 = boto3.client(
        "s3",
        endpoint_url=state["awsEndpoint"],
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    listing = s3.list_objects_v2(Bucket=state["names"]["FilesBucket"])
    return [item["Key"] for item in listing.get("Contents", [])]


def test_every_check_passes_with_the_dev_key(stack: StackProcess) -> None:
    before = dev_balance(stack)
    run = _smoke(stack, "--api", stack.url, "--key", stack.api_key)
    assert run.returncode == 0, run.stdout + run.stderr
    rows = _rows(run.stdout)
    assert list(rows) == CHECK_NAMES, run.stdout
    assert {name: row["result"] for name, row in rows.items()} == dict.fromkeys(CHECK_NAMES, "PASS"), run.stdout
    assert f"{len(CHECKS)} of {len(CHECKS)} checks passed." in run.stdout
    # What each check saw is the sample's text, read by the engines behind each API.
    assert rows["extract-image: POST /api/v1/extract-image"]["status"] == "200"
    assert "ACME" in rows["extract-image: POST /api/v1/extract-image"]["detail"], run.stdout
    assert "invoice_no=INV-1042" in rows["structured extraction: POST /v1/ocr/image/extract"]["detail"], run.stdout
    assert "ACME" in rows["OCR by key: POST /api/ocr/process"]["detail"], run.stdout
    assert rows["batch extraction: POST /v1/image-extraction"]["status"] == "201"
    assert "1 page(s) processed" in rows["batch extraction: POST /v1/image-extraction"]["detail"]
    assert rows["job: extract-image with Prefer: respond-async"]["status"] == "202"
    assert "succeeded" in rows["job: extract-image with Prefer: respond-async"]["detail"]
    # The credits it says it used are what the balance lost, and its upload is gone from the bucket.
    used = re.search(r"Credits used: (\d+) \(balance (\d+) -> (\d+)\)", run.stdout)
    assert used, run.stdout
    assert int(used.group(1)) > 0
    assert before - dev_balance(stack) == int(used.group(1))
    assert not [key for key in _bucket_keys(stack) if key.endswith("smoke-invoice.png")]


def test_a_wrong_key_is_a_401_in_the_table_and_a_failing_exit(stack: StackProcess) -> None:
    run = _smoke(stack, "--api", stack.url, "--key", "not-a-key-of-this-deployment")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    rows = _rows(run.stdout)
    assert list(rows) == CHECK_NAMES, run.stdout
    assert rows["API description: GET /openapi.json"]["result"] == "PASS"  # public: the API itself is up
    account = rows["account: GET /api/v1/account"]
    assert (account["result"], account["status"]) == ("FAIL", "401"), run.stdout
    assert "Invalid or missing Authorization header" in account["detail"]
    for name in CHECK_NAMES[2:]:
        assert rows[name]["result"] == "SKIP", run.stdout
        assert "needs account" in rows[name]["detail"]
    assert "1 of 10 checks passed; FAILED: account; 8 skipped." in run.stdout


def test_an_address_nobody_answers_fails_saying_so() -> None:
    run = _smoke(None, "--api", f"http://127.0.0.1:{free_port()}", "--key", "any-key-at-all")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    rows = _rows(run.stdout)
    assert rows["API description: GET /openapi.json"]["result"] == "FAIL"
    assert "no answer from" in rows["API description: GET /openapi.json"]["detail"]
    assert {rows[name]["result"] for name in CHECK_NAMES[1:]} == {"SKIP"}
    assert rows["account: GET /api/v1/account"]["detail"] == "the API did not answer"

"""Schemathesis against the local stack over HTTP, from the document the stack serves at /openapi.json: every
operation with examples, coverage and random (valid and invalid) data, then sequences that follow the document's
links (upload URL -> the upload, through tests/e2e/fuzz_hooks.py -> OCR by key, also as a job -> the job). No server
error, no answer off its schema, no status or header the document does not list, invalid input refused, auth
enforced. Bounded: a fixed seed and example count (about a minute here)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from xml.etree import ElementTree

import httpx
import pytest

from tests.conftest import PROJECT_ROOT
from tests.e2e.stack_process import StackProcess

pytestmark = pytest.mark.e2e
SCHEMATHESIS = str(PROJECT_ROOT / ".venv" / "bin" / "schemathesis")
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "missing_required_header",
    "ignored_auth",
    "use_after_free",
    "ensure_resource_availability",
)
# Left out, and why:
# - positive_data_acceptance: a request can match the schema and still be refused for what only the service can
#   know (an image URL that does not resolve, a key that was never uploaded, a cursor it did not issue): a 400
#   or 404 there is the right answer.
# - unsupported_method: it wants 405 for a method no route serves; API Gateway answers 403 ("Missing
#   Authentication Token") and the local gateway answers as it does.


@pytest.fixture(scope="module")
def fuzz_key(stack: StackProcess) -> str:
    """A key of its own on the shared stack (tests/e2e/conftest.py): what the run leaves (uploads, jobs still
    running) is its user's, not the dev key's other modules measure; a rate limit and credits out of the way of
    the thousand or so requests it sends."""
    created = stack.cli(
        "keys", "create", "--local", "--user", "fuzz", "--credits", "10000000", "--rate-limit", "100000"
    )
    return str(json.loads(created)["apiKey"])


def _config(folder: Path, key: str) -> Path:
    config = folder / "schemathesis.toml"
    config.write_text(
        f'[auth.openapi.bearerAuth]\nbearer = "{key}"\n'
        f'[auth.openapi.apiKeyHeader]\napi_key = "{key}"\n'
        "[phases.stateful]\nmax-steps = 12\n"
        # A job's DELETE cancels it: the job stays, to be read (use_after_free expects a 404 after a DELETE).
        '[[operations]]\ninclude-path-regex = "^/api/v1/jobs"\nchecks.use_after_free.enabled = false\n'
    )
    return config


def test_schemathesis_finds_nothing(stack: StackProcess, fuzz_key: str, tmp_path: Path) -> None:
    command = [
        SCHEMATHESIS,
        "--config-file",
        str(_config(tmp_path, fuzz_key)),
        "run",
        f"{stack.url}/openapi.json",
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        "20",
        "--seed",
        "1",
        "--workers",
        "2",
        "--request-timeout",
        "60",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    environment = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.e2e.fuzz_hooks",
        "PYTHONPATH": str(PROJECT_ROOT),
        "FUZZ_API_URL": stack.url,
        "FUZZ_API_KEY": fuzz_key,
        "NO_COLOR": "1",
    }
    run = subprocess.run(
        command,
        cwd=tmp_path,  # its cache of past failures goes there, not into the clone
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in run.stdout, run.stdout[-3000:]
    # Every operation was tested (all but the document's own URL, which schemathesis leaves out).
    (report,) = tmp_path.glob("junit-*.xml")
    tested = {case.get("name") for case in ElementTree.parse(report).iter("testcase")}  # noqa: S314 (its own report)
    document = httpx.get(f"{stack.url}/openapi.json").json()
    operations = {f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item}
    assert tested == operations - {"GET /openapi.json"} | {"Stateful tests"}

    # Sequences followed the document's links (how far each goes is random: 6 to 13 of 25 links were covered
    # in runs here; tests/e2e/test_openapi_client.py walks the upload -> OCR-by-key job chain deterministically).
    covered = re.search(r"API Links:\s+(\d+) covered", run.stdout)
    assert covered, run.stdout[-3000:]
    assert int(covered.group(1)) >= 4, run.stdout[-3000:]

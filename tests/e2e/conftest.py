"""One local stack for the e2e modules that need no settings of their own (their `stack`): started at the first
test that uses it, stopped (Ctrl-C, in order) when tests/e2e ends: it does not idle (its pollers, its schedule)
through the rest of the run. Starting it once instead of once a module saves each module the start, the stop,
and the cold start of every function it calls. The modules that need other template parameters or settings
(test_limits_flow, test_worker_crash_flow, test_make_run) define their own `stack`; test_stopped_run starts and
kills its own.

What the modules share, and why it does not change what each proves: one dev key (each test measures its own
balance before and after; no module leaves work running on it: the fuzzer has a key of its own), loopback URLs
allowed (test_make_run proves `make run` refuses them), uploads of 1 MB at most (test_ocr_by_key_flow's oversized
upload; every other upload is far smaller), and the worker's reader of marked images (tests/e2e/marked_images.py:
only the images a test marks are read from their mark). It also offers every engine, each served by its loopback
stand-in (tools/snapscribe_tools/standins), as a developer points `make run` at one: test_engines_flow uses them;
the other modules name `local` or use the default, which stays `local`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from snapscribe_tools.standins import bedrock, openai, textract
from tests.e2e.stack_process import CLI, StackProcess, free_port, start

UPLOAD_LIMIT = 1024 * 1024
# The engines the shared stack offers beyond local; bedrock's at 3 credits a token.
OFFERED_ENGINES = "textract,bedrock:amazon.nova-lite-v1:0=3000,openai:standin-vl"
MARKED_READER = Path(__file__).with_name("marked_images.py")


@pytest.fixture(scope="package")
def standins() -> Iterator[dict[str, str]]:
    """The engines' services on loopback, in their wire formats: the variables that point the stack at them."""
    servers = {
        name: module.serve() for name, module in (("bedrock", bedrock), ("textract", textract), ("openai", openai))
    }
    yield {
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": servers["bedrock"][1],
        "AWS_ENDPOINT_URL_TEXTRACT": servers["textract"][1],
        "SNAPSCRIBE_OPENAI_BASE_URL": servers["openai"][1],
        "SNAPSCRIBE_ENGINES": OFFERED_ENGINES,
    }
    for server, _url in servers.values():
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="package")
def stack(standins: dict[str, str]) -> Iterator[StackProcess]:
    # Credits and a rate limit for every module's requests on one key, several of them in one minute's window.
    command = [CLI, "run", "--port", str(free_port()), "--dev-key", "e2e-shared-key-123456"]
    process = start(
        [*command, "--credits", "10000000", "--rate-limit", "100000"],
        {
            "SNAPSCRIBE_ALLOW_LOOPBACK_URLS": "true",
            "SNAPSCRIBE_MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT),
            "SNAPSCRIBE_LOCAL_PRELOAD": f"WorkerFunction={MARKED_READER}",
            **standins,
        },
    )
    yield process
    if process.process.poll() is None:
        assert process.interrupt() == 0
        assert "Stopped." in process.text

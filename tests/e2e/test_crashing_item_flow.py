"""An image that kills its worker at every delivery, on the local stack, in a batch with nine others: it is
dead-lettered alone and its neighbours run. The stack keeps the work queue's batches of ten, with one worker at a
time (so the ten messages come as one batch, the crasher third), a worker timeout of 3 s (a lease of 6) and a
visibility timeout of 7 s, so that each delivery after a death comes 7 s later. The images are marked
(tests/e2e/marked_images.py) and read from their marks; the one marked "exit" ends its worker's process as it is
read (tests/e2e/crashing_reader.py).

Without the isolation, the second and third deliveries ran the batch in its order: the crasher killed them before
the images after it, which were dead-lettered with it, failed though they never ran (done 2, failed 8)."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.marked_images import KEYWORD, marked_png
from tests.e2e.stack_process import CLI, StackProcess, balance, free_port, start, wait_for_job

pytestmark = pytest.mark.e2e
HERE = Path(__file__).parent
IMAGES = 10
CRASHER = 2


def _exit_png() -> str:
    """A marked image whose mark reads "exit" (tests/e2e/crashing_reader.py)."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text(KEYWORD.decode(), "exit")
    buffer = io.BytesIO()
    Image.new("RGB", (96, 32), "white").save(buffer, format="PNG", pnginfo=info)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


@pytest.fixture(scope="module")
def stack() -> Iterator[StackProcess]:
    command = [CLI, "run", "--port", str(free_port()), "--dev-key", "e2e-crashing-key-123456"]
    for parameter in ("WorkerMaximumConcurrency=1", "WorkerTimeout=3", "WorkQueueVisibilityTimeout=7"):
        command += ["--parameter", parameter]
    preload = f"WorkerFunction={HERE / 'marked_images.py'},WorkerFunction={HERE / 'crashing_reader.py'}"
    process = start(command, {"SNAPSCRIBE_LOCAL_PRELOAD": preload})
    yield process
    if process.process.poll() is None:
        assert process.interrupt() == 0


def test_an_image_that_kills_its_worker_every_time_is_dead_lettered_alone(stack: StackProcess) -> None:
    images = [_exit_png() if number == CRASHER else marked_png(number) for number in range(IMAGES)]
    with httpx.Client(base_url=stack.url, headers={"X-API-Key": stack.api_key}, timeout=120) as client:
        before = balance(client)
        accepted = client.post(
            "/api/v1/extract-image",
            json={"inputMethod": "base64", "images": images, "prompt": "Read every image."},
            headers={"Prefer": "respond-async"},
        )
        assert accepted.status_code == 202, accepted.text
        job = wait_for_job(client, accepted.json()["jobId"], timeout=120)
        assert job["progress"] == {"total": IMAGES, "done": IMAGES - 1, "failed": 1, "cancelled": 0}, job
        # The call fails when one image does (and charges nothing): the job answers as the call would.
        assert (job["status"], job["charged"]) == ("failed", 0)
        assert "The item failed three times" in str(job["result"]), job["result"]
        assert balance(client) == before

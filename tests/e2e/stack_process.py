"""Start the local stack as a user does (a process), read what it prints, stop it with Ctrl-C.

A stopped test run leaves no stack behind: each stack runs in its own process group and is told to end with
this process (SNAPSCRIBE_EXIT_WITH_PID: it polls, and on Linux the kernel signals it too), which covers SIGKILL;
on SIGTERM and at exit this process also stops the groups of the stacks it started (tests/e2e/test_stopped_run.py
proves all three ways)."""

from __future__ import annotations

import atexit
import contextlib
import functools
import io
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import PROJECT_ROOT

STARTUP_SECONDS = 120
CLI = str(PROJECT_ROOT / ".venv" / "bin" / "snapscribe")
EXIT_WITH_PID = "SNAPSCRIBE_EXIT_WITH_PID"  # snapscribe_tools.stack's, not imported: this module stays light
STATE_FILE_VARIABLE = "SNAPSCRIBE_STATE_FILE"  # each stack's own, so that stacks alive at once do not mix
_STARTED: list[subprocess.Popen[str]] = []
_STATE_FILES = itertools.count(1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class StackProcess:
    process: subprocess.Popen[str]
    url: str
    api_key: str
    state_file: Path
    output: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.output)

    @property
    def environment(self) -> dict[str, str]:
        """This process's environment, for the CLI and tools to find this stack (`--local`)."""
        return {**os.environ, STATE_FILE_VARIABLE: str(self.state_file)}

    def cli(self, *arguments: str) -> str:
        """`snapscribe ARGUMENTS` against this stack, as an operator runs it; what it printed to stdout."""
        run = subprocess.run([CLI, *arguments], env=self.environment, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr[-2000:]
        return run.stdout

    def state(self) -> dict[str, Any]:
        """What the running stack says of itself (its AWS endpoint, resource names, function processes)."""
        state: dict[str, Any] = json.loads(self.state_file.read_text())
        return state

    @property
    def webhook_secret(self) -> str:
        """The dev key's webhook secret, as the banner prints it."""
        found = re.search(r"its webhook secret: (whsec_\S+)", self.text)
        assert found, self.text
        return found.group(1)

    def printed_curl(self) -> str:
        """The multi-line curl command exactly as the banner prints it."""
        match = re.search(r"^\s*(curl -sS -X POST .*?-d @\S+)$", self.text, re.MULTILINE | re.DOTALL)
        assert match, self.text
        return match.group(1)

    def interrupt(self, timeout: float = 30) -> int:
        os.killpg(self.process.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
        return self.process.wait(timeout=timeout)


def _kill_group(group: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, sig)


def stop_all(grace: float = 10) -> None:
    """Stop every stack this process started that is still running, and whatever is left in their groups:
    SIGTERM (the stack stops in order), then SIGKILL to the group after `grace` seconds at most. Only groups
    whose leader was still running, not yet reaped: a reaped pid may belong to someone else's process."""
    running = [process for process in _STARTED if process.poll() is None]
    _STARTED.clear()
    for process in running:
        _kill_group(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in running:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        _kill_group(process.pid, signal.SIGKILL)  # a group outlives its leader while a member is left


def _on_sigterm(signum: int, frame: object) -> None:
    stop_all()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)  # then end as SIGTERM would have ended this process


@functools.cache
def _stop_all_on_exit() -> None:
    atexit.register(stop_all)
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)


@functools.cache
def _state_folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="snapscribe-e2e-stacks-"))


def start(command: list[str], environment: dict[str, str] | None = None, cwd: Path = PROJECT_ROOT) -> StackProcess:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "SNAPSCRIBE_"))}
    env.update(environment or {})
    env[EXIT_WITH_PID] = str(os.getpid())
    state_file = Path(env.setdefault(STATE_FILE_VARIABLE, str(_state_folder() / f"stack-{next(_STATE_FILES)}.json")))
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    _stop_all_on_exit()
    _STARTED.append(process)
    output: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if "Press Ctrl-C to stop." in line:
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while not ready.wait(0.2):
        if time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            raise AssertionError("the local stack did not start:\n" + "".join(output))
    text = "".join(output)
    url = re.search(r"snapscribe is running on (http://\S+)", text)
    key = re.search(r"dev API key: (\S+)", text)
    if not (url and key):
        os.killpg(process.pid, signal.SIGKILL)
        raise AssertionError("the local stack did not start:\n" + text)
    return StackProcess(process=process, url=url.group(1), api_key=key.group(1), state_file=state_file, output=output)


def dev_balance(stack: StackProcess) -> int:
    """The dev key's balance on the stack, read through the admin CLI as an operator would."""
    listing = stack.cli("keys", "list", "--local")
    dev_line = next(line for line in listing.splitlines() if "\tdev\t" in line)
    return int(dev_line.split("balance=")[1].split("\t")[0])


def upload(client: Any, name: str, content_type: str, data: bytes) -> dict[str, Any]:
    """A file through the upload flow as a client does it (an upload URL, the presigned POST), once the S3
    trigger has checked it; the upload URL's answer (uuid, key, ...)."""
    import httpx

    answer: dict[str, Any] = client.post(
        "/api/files/upload-url", json={"filename": name, "contentType": content_type}
    ).json()
    posted = httpx.post(answer["uploadUrl"], data=answer["fields"], files={"file": (name, data, content_type)})
    assert posted.status_code in (200, 201, 204), posted.text
    deadline = time.monotonic() + 60  # the trigger checks it: until then a use answers 409
    while time.monotonic() < deadline:
        probe = client.post(
            "/v1/image-extraction", json={"engine": {"name": "no-such-engine"}, "files": [{"uuid": answer["uuid"]}]}
        )
        if probe.status_code != 409:
            return answer
        time.sleep(0.3)
    raise AssertionError(f"the upload {name} was never checked")


def wait_for_job(client: Any, job_id: str, timeout: float = 600) -> dict[str, Any]:
    """Poll the job's status until it has finished; every status seen keeps its progress monotonic."""
    deadline = time.monotonic() + timeout
    done = -1
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/api/v1/jobs/{job_id}").json()
        assert job["progress"]["done"] >= done, job  # progress never goes back
        done = job["progress"]["done"]
        if job.get("finishedAt"):
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def balance(client: Any) -> int:
    """The caller's balance, through the account API."""
    return int(client.get("/api/v1/account").json()["balance"])


def pdf_with_small_pages(pages: int, size: tuple[int, int] = (480, 120)) -> bytes:
    """A PDF of `pages` small pages (480x120 at 150 dpi), page N reading "Quarterly report page N": a job's pages,
    read by the real OCR engine in a tenth of an A4 page's time (tests.conftest.pdf_with_pages: ~0.4 s a page
    on 2 cores). `size` makes slower ones (640x240: about twice as long)."""
    from PIL import Image, ImageDraw

    width, height = size
    font_size = min(height // 4, width // 16)  # "Quarterly report page 40" fits
    images = []
    for number in range(1, pages + 1):
        image = Image.new("RGB", size, "white")
        ImageDraw.Draw(image).text(
            (10, (height - font_size) // 2), f"Quarterly report page {number}", fill="black", font_size=font_size
        )
        images.append(image)
    buffer = io.BytesIO()
    images[0].save(buffer, format="PDF", save_all=True, append_images=images[1:], resolution=150)
    return buffer.getvalue()

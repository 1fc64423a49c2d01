"""A test run that is stopped leaves no stack behind: a pytest holding a stack (started by the fixture path every
e2e module uses, with a function instance in the middle of an invocation: fetching an image that comes a byte every
two seconds) is killed with SIGKILL, SIGTERM or SIGINT, or its stack is (SIGKILL), and within seconds no process of
that stack's process group is left: not the stack, not its function instances.

The four runs go at once (their start-up is most of the time). Processes are found by the stack's process group
and pid, never by name: other people's stacks on this machine are not looked at."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.e2e
STOPPED_WITHIN_SECONDS = 15  # SIGKILL: noticed within 0.5 s, then the stack's orderly stop (a few seconds)
INNER = """
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.e2e.stack_process import CLI, free_port, start

asked = threading.Event()


class Trickle(BaseHTTPRequestHandler):
    # An image that comes a byte every two seconds: the invocation fetching it is in flight for long.
    def log_message(self, *_args):
        pass

    def do_GET(self):
        asked.set()
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", "1000")
        self.end_headers()
        for _ in range(100):
            self.wfile.write(b"x")
            self.wfile.flush()
            time.sleep(2)


@pytest.fixture(scope="module")
def stack():
    command = [CLI, "run", "--port", str(free_port()), "--dev-key", "e2e-stopped-key-123456"]
    process = start(command, {"SNAPSCRIBE_ALLOW_LOOPBACK_URLS": "true"})
    yield process
    if process.process.poll() is None:
        assert process.interrupt() == 0


def test_holds_a_stack(stack):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    image = f"http://127.0.0.1:{server.server_address[1]}/slow.png"
    body = {"inputMethod": "url", "images": [image], "prompt": "Read it."}
    headers = {"X-API-Key": stack.api_key}
    request = lambda: httpx.post(stack.url + "/api/v1/extract-image", json=body, headers=headers, timeout=None)
    threading.Thread(target=request, daemon=True).start()
    assert asked.wait(60)  # a function instance of the stack's own is in the middle of an invocation
    Path(os.environ["STACK_PID_FILE"]).write_text(f"{stack.process.pid} {stack.url}")
    time.sleep(600)
"""


def _processes() -> dict[int, tuple[str, int, str]]:
    """Every live process: (its start time, its process group, its command line). Zombies are dead: only their
    exit status is left, for a parent to read."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if fields[0] != "Z":
            found[int(entry.name)] = (fields[19], int(fields[2]), command)
    return found


def _left(group: int, seen: dict[int, tuple[str, int, str]]) -> dict[int, str]:
    """What is left of a stack: its group's processes, and any process seen in it before (the same pid and
    start time), should one have moved to a group of its own."""
    return {
        pid: command
        for pid, (started, pgid, command) in _processes().items()
        if pgid == group or (pid in seen and seen[pid][0] == started)
    }


# What is stopped, and how: the test run three ways (Ctrl-C; SIGTERM, as a CI runner cancels; SIGKILL, where
# nothing of the run's own gets to run), and the stack itself by SIGKILL (its function instances must follow it).
CASES = {
    "pytest SIGINT": signal.SIGINT,
    "pytest SIGTERM": signal.SIGTERM,
    "pytest SIGKILL": signal.SIGKILL,
    "stack SIGKILL": signal.SIGKILL,
}


def _sigint_as_a_terminal_has_it() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_a_stopped_run_leaves_no_stack_behind(tmp_path: Path) -> None:
    (tmp_path / "test_holder.py").write_text(INNER)
    runs: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
    for number, case in enumerate(CASES):
        pid_file = tmp_path / f"stack-{number}.pid"
        environment = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "STACK_PID_FILE": str(pid_file)}
        command = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "test_holder.py"]
        process = subprocess.Popen(
            command,
            cwd=tmp_path,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # As a terminal's Ctrl-C finds it: a suite started as a background job of a non-interactive shell hands
            # SIGINT down ignored, and a run that ignores SIGINT cannot show what it does when stopped.
            preexec_fn=_sigint_as_a_terminal_has_it,
        )
        runs[case] = (process, pid_file)
    try:
        groups: dict[str, tuple[int, dict[int, tuple[str, int, str]]]] = {}
        deadline = time.monotonic() + 180
        for case, (process, pid_file) in runs.items():
            while not pid_file.exists() or not pid_file.read_text():
                assert process.poll() is None, f"{case}: the run ended by itself"
                assert time.monotonic() < deadline, f"{case}: the run never started its stack"
                time.sleep(0.2)
            group = int(pid_file.read_text().split()[0])  # the stack leads its own process group
            members = {pid: found for pid, found in _processes().items() if found[1] == group}
            assert group in members, members
            assert len(members) >= 2, members  # the stack and at least one function instance
            groups[case] = (group, members)
        for case, (process, _) in runs.items():
            os.kill(groups[case][0] if case.startswith("stack") else process.pid, CASES[case])
        for case, (process, _) in runs.items():
            if case.startswith("pytest"):
                process.wait(timeout=60)  # SIGTERM and SIGINT: the run stops its stack on its way out
        deadline = time.monotonic() + STOPPED_WITHIN_SECONDS
        left = {case: _left(group, seen) for case, (group, seen) in groups.items()}
        while any(left.values()) and time.monotonic() < deadline:
            time.sleep(0.2)
            left = {case: _left(group, seen) for case, (group, seen) in groups.items()}
        remaining = [f"{case}: {pid} {command[:100]}" for case, found in left.items() for pid, command in found.items()]
        assert not remaining, "left after " + "\n".join(remaining)
    finally:
        for process, _ in runs.values():
            if process.poll() is None:
                process.kill()
                process.wait()

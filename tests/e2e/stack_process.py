"""Start the local stack as a user does (a process), read what it prints, stop it with Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import PROJECT_ROOT

STARTUP_SECONDS = 120
CLI = str(PROJECT_ROOT / ".venv" / "bin" / "snapscribe")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class StackProcess:
    process: subprocess.Popen[str]
    url: str
    api_key: str
    output: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.output)

    def printed_curl(self) -> str:
        """The multi-line curl command exactly as the banner prints it."""
        match = re.search(r"^\s*(curl -sS -X POST .*?-d @\S+)$", self.text, re.MULTILINE | re.DOTALL)
        assert match, self.text
        return match.group(1)

    def interrupt(self, timeout: float = 30) -> int:
        os.killpg(self.process.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
        return self.process.wait(timeout=timeout)


def start(command: list[str], environment: dict[str, str] | None = None, cwd: Path = PROJECT_ROOT) -> StackProcess:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "SNAPSCRIBE_"))}
    env.update(environment or {})
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
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
    return StackProcess(process=process, url=url.group(1), api_key=key.group(1), output=output)


def dev_balance() -> int:
    """The dev key's balance on the running stack, read through the admin CLI as an operator would."""
    listing = subprocess.run([CLI, "keys", "list", "--local"], capture_output=True, text=True, check=True).stdout
    dev_line = next(line for line in listing.splitlines() if "\tdev\t" in line)
    return int(dev_line.split("balance=")[1].split("\t")[0])

"""The client installs alone: `pip install ".[client]"` (here uv's, offline, from the cache the suite's own install
filled) into a fresh virtualenv, not editable, gives `snapscribe submit`, `jobs` and `account` without boto3, moto,
pydantic, PyYAML or the OCR engine, and they work against the local stack: a real file, its real text back."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT
from tests.e2e.stack_process import StackProcess

pytestmark = pytest.mark.e2e

# What only the developer environment has: none of it may come with the client.
HEAVY = ("boto3", "botocore", "moto", "pydantic", "yaml", "aws_lambda_powertools", "rapidocr", "PIL", "tesserocr")
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "layers/core/snapscribe", "tools/snapscribe_tools")
# The client's virtualenv: Python's own files and httpx, tqdm and their few dependencies (about 4 MB).
MOST_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class ClientVenv:
    root: Path

    @property
    def snapscribe(self) -> str:
        return str(self.root / "bin" / "snapscribe")

    @property
    def python(self) -> str:
        return str(self.root / "bin" / "python")


def _uv() -> list[str] | None:
    for command in ([sys.executable, "-m", "uv"], [shutil.which("uv") or "uv"]):
        try:
            subprocess.run([*command, "--version"], capture_output=True, check=True, timeout=30)
        except (OSError, subprocess.CalledProcessError):
            continue
        return command
    return None


def _clean_environment(**extra: str) -> dict[str, str]:
    """Nothing of the developer environment: no PYTHONPATH, no virtualenv, no AWS or snapscribe settings."""
    keep = {"HOME", "LANG", "LC_ALL", "TMPDIR"}
    return {**{name: value for name, value in os.environ.items() if name in keep}, "PATH": "/usr/bin:/bin", **extra}


@pytest.fixture(scope="module")
def client_venv(tmp_path_factory: pytest.TempPathFactory) -> ClientVenv:
    uv = _uv()
    if uv is None:
        pytest.skip("uv is not installed (make installs it into .venv): the client's offline install needs its cache")
    work = tmp_path_factory.mktemp("client-install")
    source = work / "source"  # a copy: a build writes build/ and *.egg-info beside the sources
    for name in SOURCES:
        if (PROJECT_ROOT / name).is_dir():
            shutil.copytree(PROJECT_ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT_ROOT / name, source / name)
    wheels = work / "wheels"
    # The wheel by the developer environment's own setuptools (as make's editable install is), so that nothing is
    # fetched to build it; then the wheel and its client extra from uv's cache, offline.
    built = subprocess.run(
        [sys.executable, "-c", f"from setuptools import build_meta; print(build_meta.build_wheel({str(wheels)!r}))"],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    wheel = wheels / built.stdout.strip().splitlines()[-1]
    venv = ClientVenv(work / "venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv.root)], check=True, timeout=120)
    installed = subprocess.run(
        [*uv, "pip", "install", "--offline", "--python", venv.python, f"snapscribe[client] @ {wheel.as_uri()}"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "VIRTUAL_ENV": ""},
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    return venv


def _run(venv: ClientVenv, *arguments: str, **environment: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [venv.snapscribe, *arguments],
        env=_clean_environment(**environment),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_client_venv_holds_the_client_alone(client_venv: ClientVenv) -> None:
    probe = (
        "import importlib.util, json, snapscribe_tools.cli as cli; "
        f"print(json.dumps([cli.__file__, [name for name in {HEAVY!r} if importlib.util.find_spec(name)]]))"
    )
    found = subprocess.run([client_venv.python, "-c", probe], env=_clean_environment(), capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    module, heavy = json.loads(found.stdout)
    assert Path(module).is_relative_to(client_venv.root)  # installed, not the checkout's
    assert heavy == []
    size = sum(path.stat().st_size for path in client_venv.root.rglob("*") if path.is_file() and not path.is_symlink())
    print(f"client virtualenv: {size / 1024 / 1024:.1f} MB")
    assert size < MOST_BYTES


def test_submit_and_jobs_work_from_the_client_alone(
    client_venv: ClientVenv, stack: StackProcess, tmp_path: Path
) -> None:
    out = tmp_path / "results"
    submitted = _run(
        client_venv,
        "submit",
        str(PROJECT_ROOT / "samples" / "invoice.png"),
        "--wait",
        "--quiet",
        "--out",
        str(out),
        "--api",
        stack.url,
        SNAPSCRIBE_API_KEY=stack.api_key,
    )
    assert submitted.returncode == 0, submitted.stderr
    assert "1 job(s): 1 pages done, 0 failed" in submitted.stderr
    assert "INV-1042" in (out / "invoice.txt").read_text()
    (job_id,) = {path.stem for path in out.glob("*.json") if path.stem != "invoice"}

    # No --api: the running stack is found through its state file, as on a developer's machine.
    found = {"SNAPSCRIBE_API_KEY": stack.api_key, "SNAPSCRIBE_STATE_FILE": str(stack.state_file)}
    got = _run(client_venv, "jobs", "get", job_id, **found)
    assert got.returncode == 0, got.stderr
    job = json.loads(got.stdout)
    assert (job["jobId"], job["status"], job["progress"]["done"]) == (job_id, "succeeded", 1)
    listed = _run(client_venv, "jobs", "list", "--limit", "50", **found)
    assert listed.returncode == 0, listed.stderr
    assert f"{job_id}\tsucceeded\t" in listed.stdout
    account = _run(client_venv, "account", **found)
    assert account.returncode == 0, account.stderr
    assert isinstance(json.loads(account.stdout)["balance"], int)


def test_an_admin_command_says_it_needs_the_developer_environment(client_venv: ClientVenv) -> None:
    listed = _run(client_venv, "keys", "list", "--table", "accounts")
    assert listed.returncode == 2
    assert "needs the developer environment" in listed.stderr
    assert "Traceback" not in listed.stderr

"""The one `sam build` of test_template.py's test_sam_build_succeeds_without_docker, started in the background as
the first test of tests/template begins, when the session runs that test: the layer's pip install uses one core
(about 20 s), and so does test_container_image.py's install of the image's task root, which runs meanwhile.
The test reads the build's outcome when it has finished, as it read its own `sam build` before."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from snapscribe_tools.template import PROJECT_ROOT, load_template, resources

SAM = PROJECT_ROOT / ".venv" / "bin" / "sam"
SAM_BUILD = "sam_build"  # the fixture's name: a session whose tests use it starts the build early


@dataclass(frozen=True)
class SamBuild:
    """A finished `sam build`: its exit status, what it printed, and its build folder."""

    returncode: int
    stdout: str
    stderr: str
    build: Path


class _Running:
    def __init__(self, folder: Path) -> None:
        """`sam build` of template.yaml, the container functions excluded (they need Docker: see
        test_container_image.py): every zip function and the layer they share, built once for all of them."""
        functions = resources(load_template(), "AWS::Serverless::Function")
        images = sorted(
            name for name, function in functions.items() if function["Properties"].get("PackageType") == "Image"
        )
        environment = {**os.environ, "SAM_CLI_TELEMETRY": "0", "PATH": f"{SAM.parent}:{os.environ['PATH']}"}
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):  # as tests/conftest.py's isolated_environment: no real AWS
            environment.pop(name, None)
        environment.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
        self.build = folder / "build"
        self.stdout, self.stderr = (folder / "stdout.txt").open("w+"), (folder / "stderr.txt").open("w+")
        excluded = [argument for name in images for argument in ("--exclude", name)]
        command = [
            str(SAM),
            "build",
            "--template-file",
            str(PROJECT_ROOT / "template.yaml"),
            "--build-dir",
            str(self.build),
            # samconfig.toml asks for a cached build; the cache is this run's own, not the checkout's .aws-sam/cache,
            # which a second run (or a developer's make build) at the same moment would share and clean under it.
            "--cache-dir",
            str(folder / "cache"),
        ]
        self.process = subprocess.Popen(
            [*command, *excluded], cwd=PROJECT_ROOT, env=environment, stdout=self.stdout, stderr=self.stderr, text=True
        )

    def result(self, timeout: float = 900) -> SamBuild:
        self.process.wait(timeout=timeout)
        self.stdout.seek(0)
        self.stderr.seek(0)
        return SamBuild(self.process.returncode, self.stdout.read(), self.stderr.read(), self.build)

    def close(self) -> None:
        if self.process.poll() is None:  # the run stopped before the test read it (-x, Ctrl-C)
            self.process.kill()
            self.process.wait()
        self.stdout.close()
        self.stderr.close()


_started: dict[str, _Running] = {}


@pytest.fixture(scope="package", autouse=True)
def _sam_build_in_background(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    session = request.session
    if shutil.which("make") and any(SAM_BUILD in getattr(item, "fixturenames", ()) for item in session.items):
        _started[SAM_BUILD] = _Running(tmp_path_factory.mktemp("sam"))
    yield
    running = _started.pop(SAM_BUILD, None)
    if running is not None:
        running.close()


@pytest.fixture(scope="package")
def sam_build(tmp_path_factory: pytest.TempPathFactory) -> SamBuild:
    """The build started above (or now, if it was not: a test asking for it directly)."""
    running = _started.get(SAM_BUILD)
    if running is None:
        running = _started[SAM_BUILD] = _Running(tmp_path_factory.mktemp("sam"))
    return running.result()

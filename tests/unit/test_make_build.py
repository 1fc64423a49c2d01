"""`make build` (snapscribe_tools/build.py): which functions need Docker is read from the template, a machine whose
Docker does not answer builds everything else and says which functions are left, and one whose Docker runs builds
it all. `sam` and `docker` are small scripts on PATH here, recording what they were asked; the real `sam build`
without Docker is tests/template/test_template.py's test_sam_build_succeeds_without_docker."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from snapscribe_tools import build
from snapscribe_tools.template import load_template, resources

TEMPLATE = load_template()


def test_the_image_functions_are_those_the_template_builds_from_a_dockerfile() -> None:
    images = build.image_functions(TEMPLATE)
    functions = resources(TEMPLATE, "AWS::Serverless::Function")
    with_dockerfile = sorted(
        name for name, function in functions.items() if "Dockerfile" in function.get("Metadata", {})
    )
    assert images == with_dockerfile
    assert {"WorkerFunction", "ExtractImageFunction"} <= set(images)
    assert {"FileUploadFunction", "AccountFunction"}.isdisjoint(images)
    zip_functions = {name for name, function in functions.items() if function["Properties"].get("CodeUri")}
    assert zip_functions
    assert zip_functions.isdisjoint(images)


def test_a_function_made_an_image_is_listed_and_one_made_a_zip_is_not() -> None:
    template = {
        "Resources": {
            "Zipped": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "functions/a/"}},
            "Imaged": {"Type": "AWS::Serverless::Function", "Properties": {"PackageType": "Image"}},
            "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {}},
        }
    }
    assert build.image_functions(template) == ["Imaged"]


def test_without_docker_every_image_function_is_excluded_with_docker_none_is() -> None:
    assert build.build_command("sam", ["A", "B"], docker=False) == ["sam", "build", "--exclude", "A", "--exclude", "B"]
    assert build.build_command("sam", ["A", "B"], docker=True) == ["sam", "build"]


def test_only_an_x86_linux_host_without_arm64_emulation_is_warned() -> None:
    assert "tonistiigi/binfmt --install arm64" in str(build.emulation_warning("x86_64", "Linux", registered=False))
    assert build.emulation_warning("x86_64", "Linux", registered=True) is None
    assert build.emulation_warning("aarch64", "Linux", registered=False) is None
    assert build.emulation_warning("x86_64", "Darwin", registered=False) is None  # Docker Desktop emulates


def _script(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH of a `sam` that records its arguments (and exits as $FAKE_SAM_EXIT says); `docker` comes per test."""
    _script(tmp_path, "sam", f'echo "$@" > {tmp_path}/sam-arguments; exit "${{FAKE_SAM_EXIT:-0}}"')
    monkeypatch.setenv("PATH", str(tmp_path))  # the scripts use only /bin/sh and its builtins
    return tmp_path


def test_docker_available_is_docker_info_answering(tools: Path) -> None:
    assert not build.docker_available()  # no docker on PATH at all
    _script(tools, "docker", 'echo "Cannot connect to the Docker daemon" >&2; exit 1')
    assert not build.docker_available()
    _script(tools, "docker", '[ "$1" = info ] && exit 0; exit 3')
    assert build.docker_available()


def test_without_docker_it_builds_the_rest_and_names_what_needs_docker(
    tools: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _script(tools, "docker", "exit 1")
    assert build.main() == 0
    images = build.image_functions(TEMPLATE)
    assert (tools / "sam-arguments").read_text().split() == [
        "build",
        *(argument for name in images for argument in ("--exclude", name)),
    ]
    printed = capsys.readouterr().out
    assert "Docker is not running here" in printed
    for name in images:
        assert f"  - {name}\n" in printed
    assert "FileUploadFunction" not in printed


def test_with_docker_it_builds_everything_and_says_nothing_of_docker(
    tools: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _script(tools, "docker", "exit 0")
    assert build.main(["--debug"]) == 0
    assert (tools / "sam-arguments").read_text().split() == ["build", "--debug"]
    assert "Docker is not running" not in capsys.readouterr().out


def test_a_failed_build_fails_make_with_sams_status_and_no_docker_notice(
    tools: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FAKE_SAM_EXIT", "7")
    assert build.main() == 7
    assert "Docker is not running" not in capsys.readouterr().out

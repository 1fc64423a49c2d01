"""`make build`: `sam build` of template.yaml where Docker runs; where it does not, every zip function and the
layer (sam's makefile builds need no Docker) and a plain list of the container-image functions left unbuilt, read
from the template (PackageType: Image), so that a machine without Docker still gets what it can build and knows
what it cannot deploy yet."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from snapscribe_tools.template import PROJECT_ROOT, load_template, resources

# Where the kernel registers QEMU for arm64 binaries (tonistiigi/binfmt or qemu-user-static install it): without
# it an x86 Docker cannot run the arm64 image's build steps.
ARM64_EMULATION = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")


def image_functions(template: Mapping[str, Any]) -> list[str]:
    """The functions sam builds as container images (they need Docker), by logical id."""
    return sorted(
        logical_id
        for logical_id, function in resources(template, "AWS::Serverless::Function").items()
        if function.get("Properties", {}).get("PackageType") == "Image"
    )


def docker_available(docker: str | None = None) -> bool:
    """Docker's command is there and its daemon answers (`docker info`): what `sam build` needs for an image."""
    command = docker or shutil.which("docker")
    if command is None:
        return False
    try:
        return subprocess.run([command, "info"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def build_command(sam: str, images: Sequence[str], *, docker: bool) -> list[str]:
    """All of it with Docker; without, everything but the image functions."""
    if docker:
        return [sam, "build"]
    return [sam, "build", *(argument for name in images for argument in ("--exclude", name))]


def emulation_warning(machine: str, system: str, registered: bool) -> str | None:
    """The images are arm64 (Lambda's Graviton): an x86 Linux host builds them only under QEMU."""
    if machine.lower() not in ("x86_64", "amd64") or system != "Linux" or registered:
        return None
    return (
        "warning: this x86 machine has no arm64 emulation registered, and the images are built for arm64. "
        "If the build fails on `exec format error`, install it once (it lasts until a reboot):\n"
        "  docker run --privileged --rm tonistiigi/binfmt --install arm64"
    )


def without_docker_message(images: Sequence[str]) -> str:
    names = "\n".join(f"  - {name}" for name in images)
    return (
        "Docker is not running here, so `make build` built the zip functions and the layer only.\n"
        f"These functions are container images and need Docker to build (PackageType: Image in template.yaml):\n"
        f"{names}\n"
        "`sam deploy` needs them: start Docker (or install it) and run `make build` again."
    )


def main(argv: Sequence[str] = ()) -> int:
    sam = shutil.which("sam") or str(PROJECT_ROOT / ".venv" / "bin" / "sam")
    images = image_functions(load_template())
    docker = docker_available()
    if docker:
        warning = emulation_warning(platform.machine(), platform.system(), ARM64_EMULATION.exists())
        if warning:
            print(warning, file=sys.stderr, flush=True)
    command = [*build_command(sam, images, docker=docker), *argv]
    print("+ " + " ".join(command), flush=True)
    returncode = subprocess.run(command, cwd=PROJECT_ROOT, env=os.environ).returncode
    if returncode != 0:
        return returncode
    if not docker:
        print("\n" + without_docker_message(images), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

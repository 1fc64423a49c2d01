"""The OCR container image (functions/Dockerfile) without Docker: its stages read from the Dockerfile, and its
task root built in a folder by doing what each instruction does (COPY, then the RUN's pip install).

The suite builds it for this machine (tests/template/test_container_image.py runs the handler from it); `make bench
BENCH=image` builds it for the image's own platform (linux/arm64, the base image's Python) to measure its size,
and times a cold start from the folder built for this machine.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from snapscribe_tools.template import PROJECT_ROOT

DOCKERFILE = PROJECT_ROOT / "functions" / "Dockerfile"
TESSDATA = PROJECT_ROOT / ".venv" / "share" / "tessdata"

Instruction = tuple[str, str]


def stages() -> dict[str, list[Instruction]]:
    """The Dockerfile's stages by name ("" for the last, the image), each its instructions after its FROM."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    found: dict[str, list[Instruction]] = {}
    current: list[Instruction] = []
    for line in lines:
        instruction, argument = line.split(None, 1)[0].upper(), line.split(None, 1)[1]
        if instruction == "FROM":
            current = []
            words = argument.split()
            found[words[2] if len(words) == 3 and words[1].upper() == "AS" else ""] = current
        current.append((instruction, argument))
    return found


def image_instructions() -> list[Instruction]:
    return stages()[""]


def environment(task_root: Path) -> dict[str, str]:
    """The image's ENV, with the task root it was built in."""
    values = {}
    for instruction, argument in image_instructions():
        if instruction == "ENV":
            name, _, value = argument.partition("=")
            values[name] = value.replace("${LAMBDA_TASK_ROOT}", str(task_root))
    return values


def _run_pip(command: str, platform_args: list[str], bytecode: bool = True) -> None:
    """The RUN's pip install with this interpreter. For another platform, pip takes wheels only: an sdist
    (langdetect is pure Python) is installed in a second step without the platform flags, as the image's
    own pip would build it. Without `bytecode`, pip compiles nothing (see build_task_root)."""
    quiet = "--quiet" if bytecode else "--quiet --no-compile"
    command = command.replace("pip install", f"{shlex.quote(sys.executable)} -m pip install {quiet}")
    command = command.replace("--no-cache-dir", "")  # the suite may use pip's cache; the image does not
    if not platform_args:
        completed = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=1200)
        if completed.returncode != 0:
            raise RuntimeError(completed.stderr[-3000:])
        return
    install, _, cleanup = command.partition("&&")
    words = shlex.split(install)
    target = words[words.index("--target") + 1]
    requirements = [words[index + 1] for index, word in enumerate(words) if word == "-r"]
    wheels: list[str] = []
    sdists: list[str] = []
    for requirement_file in requirements:
        for line in Path(requirement_file).read_text().splitlines():
            requirement = line.split("#", 1)[0].strip()
            if requirement:
                (sdists if requirement.startswith("langdetect") else wheels).append(requirement)
    base = [sys.executable, "-m", "pip", "install", *quiet.split(), "--target", target, "--upgrade"]
    for arguments in ([*base, *platform_args, *wheels], [*base, "--no-deps", *sdists]):
        completed = subprocess.run(arguments, capture_output=True, text=True, timeout=1200)
        if completed.returncode != 0:
            raise RuntimeError(completed.stderr[-3000:])
    if cleanup.strip():
        subprocess.run(["bash", "-c", cleanup], check=True)


def build_task_root(task_root: Path, platform_args: list[str] | None = None, *, bytecode: bool = True) -> None:
    """Each instruction of the image in turn, into task_root (the image's ${LAMBDA_TASK_ROOT}). The tessdata
    stage's result is what tools/fetch_files.py made for make (the same script on the same list).
    platform_args (pip's --platform, --python-version, ...) build for another machine than this one.
    bytecode=False: the RUN's pip install compiles nothing (--no-compile: a quarter of its time here). What pip
    compiles is this interpreter's bytecode, never the image's Python's, so only a folder that is timed as a cold
    start (bench_cold) needs it; the Dockerfile's own compileall step runs either way."""
    task_root.mkdir(parents=True, exist_ok=True)
    for instruction, argument in image_instructions():
        expanded = argument.replace("${LAMBDA_TASK_ROOT}", str(task_root))
        if instruction == "COPY" and expanded.startswith("--from=tessdata "):
            shutil.copytree(TESSDATA, Path(shlex.split(expanded)[2]))
        elif instruction == "COPY":
            source, destination = shlex.split(expanded)
            target = Path(destination) / Path(source).name if destination.endswith("/") else Path(destination)
            target.parent.mkdir(parents=True, exist_ok=True)
            if (PROJECT_ROOT / source).is_dir():
                shutil.copytree(PROJECT_ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(PROJECT_ROOT / source, target)
        elif instruction == "RUN" and "compileall" in expanded:
            if not platform_args:  # bytecode is this interpreter's: for another Python it is the image's to make
                command = expanded.replace("python -m", f"{shlex.quote(sys.executable)} -m", 1)
                subprocess.run(["bash", "-c", command], check=True, capture_output=True, timeout=600)
        elif instruction == "RUN":
            _run_pip(expanded, platform_args or [], bytecode)


def base_image() -> str:
    return dict(image_instructions())["FROM"]


def folder_size(path: Path) -> int:
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file() and not file.is_symlink())

"""A per-request folder for temporary files, removed when the request ends however it ends."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def request_workspace(root: Path | None, request_id: str) -> Iterator[Path]:
    safe_id = "".join(char for char in request_id if char.isalnum() or char in "-_")[:64] or "request"
    folder = Path(tempfile.mkdtemp(prefix=f"snapscribe-{safe_id}-", dir=root))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)

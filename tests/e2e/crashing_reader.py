"""For the local stack's worker: a marked image (tests/e2e/marked_images.py) whose mark reads "exit" ends the
worker's process at once, mid-invocation, as a crash would (out of memory, a fault in native code): nothing of the
invocation is reported, and every message of its batch comes back. Every other image is read as before.

Loaded after marked_images.py (SNAPSCRIBE_LOCAL_PRELOAD=WorkerFunction=<marked_images.py>,WorkerFunction=<this
file>). Self-contained: the worker's processes import it by path, without the tests package."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

EXIT_MARK = "exit"


def _install() -> None:
    from snapscribe.engines import local

    marked_text = sys.modules["snapscribe_preload_marked_images"].marked_text
    read = local.LocalEngine.read_page

    def read_page(self: Any, image: Any, page: int = 0, languages: Sequence[str] = ()) -> list[Any]:
        if marked_text(image.data) == EXIT_MARK:
            os._exit(70)  # the process dies here, its invocation with it
        return read(self, image, page, languages)

    local.LocalEngine.read_page = read_page  # type: ignore[method-assign]


if __name__.startswith("snapscribe_preload_"):  # loaded by the local stack into the worker's processes
    _install()

"""Marked images, and a reader of them for the local stack's worker.

A marked image is a tiny PNG that shows "n <number>" and says so in a text chunk. Loaded into the worker's
processes (SNAPSCRIBE_LOCAL_PRELOAD=WorkerFunction=<this file>, see tools/snapscribe_tools/instances.py), this
module gives the local engine a reader that answers a marked image from its chunk at once and hands every other
image and page to the OCR engine as always. A job of 3000 marked images then runs the whole job path (admission,
the expansion messages, claims, counters, the finish in item order, the settlement) on items that cost the job
path alone: 3000 real OCR reads were most of the ~200-340 s that job took. The OCR engine's reading is proven on
real pages and images by every other job of tests/e2e (and by tests/unit, tests/integration).

Self-contained: the worker's processes import it by path, without the tests package."""

from __future__ import annotations

import base64
import io
import struct
import zlib
from collections.abc import Sequence
from typing import Any

KEYWORD = b"snapscribe-e2e-reads"


def marked_png(number: int) -> str:
    """A 96x32 PNG reading "n <number>", marked so (base64)."""
    from PIL import Image, ImageDraw
    from PIL.PngImagePlugin import PngInfo

    image = Image.new("RGB", (96, 32), "white")
    ImageDraw.Draw(image).text((4, 8), f"n {number}", fill="black", font_size=16)
    info = PngInfo()
    info.add_text(KEYWORD.decode(), f"n {number}")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def marked_text(data: bytes) -> str | None:
    """What a marked PNG says it reads; None for anything else (read from its chunks, nothing decoded)."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    offset = 8
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        body = data[offset + 8 : offset + 8 + length]
        if kind == b"tEXt" and body.startswith(KEYWORD + b"\0"):
            crc = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])[0]
            return body[len(KEYWORD) + 1 :].decode("latin-1") if zlib.crc32(kind + body) == crc else None
        if kind in (b"IDAT", b"IEND"):
            return None
        offset += 12 + length
    return None


def _install() -> None:
    from snapscribe.engines import local
    from snapscribe.engines.layout import OcrLine

    read = local.LocalEngine.read_page

    def read_page(self: Any, image: Any, page: int = 0, languages: Sequence[str] = ()) -> list[Any]:
        text = marked_text(image.data)
        if text is None:
            return read(self, image, page, languages)
        return [OcrLine(text, 0.0, 0.0, float(image.width), float(image.height), 1.0, page)]

    local.LocalEngine.read_page = read_page  # type: ignore[method-assign]


if __name__.startswith("snapscribe_preload_"):  # loaded by the local stack into a function's processes
    _install()

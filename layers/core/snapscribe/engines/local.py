"""The offline engine: RapidOCR with the models its wheel ships. OCR, not a language model."""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from snapscribe.engines.base import ExtractionRequest, ExtractionResult
from snapscribe.engines.compose import compose_lines, page_token_hold
from snapscribe.engines.layout import OcrLine
from snapscribe.engines.multiscript import read_scripts
from snapscribe.engines.scripts import RAPIDOCR_LANGUAGES, TESSERACT_MODELS
from snapscribe.errors import EngineError, EngineUnavailable
from snapscribe.images.prepare import PreparedImage

# Measured on this project's receipts: the longest side capped at 960 for detection is 20-30% faster on receipts
# and loses nothing; images above 2560 px only cost memory.
_RAPIDOCR_PARAMS: dict[str, Any] = {
    "Det.limit_type": "max",
    "Det.limit_side_len": 960,
    "Global.use_cls": False,
    "Global.log_level": "error",
    # Every line, however unsure: an unsure one may be another script, read again by Tesseract
    # (multiscript.py); the rest are dropped below RapidOCR's own 0.5, as before.
    "Global.text_score": 0.0,
}


@cache
def _rapidocr() -> Any:
    try:
        from rapidocr import RapidOCR
    except ImportError as error:  # the zip functions do not carry the OCR engine (too large for a zip)
        raise EngineUnavailable("The local OCR engine is not installed in this function") from error
    return RapidOCR(params=_RAPIDOCR_PARAMS)


# One engine, one page at a time: onnxruntime already spreads each page over every core. Measured on
# 2 cores, 8 receipts: 5.3 s one at a time, 7.3 s two at a time (oversubscribed), 5.3 s with two
# single-threaded sessions, which also cost a second copy of the models.
_ocr_lock = threading.Lock()


@cache
def tessdata_dir(configured: str | None = None) -> Path | None:
    """Where Tesseract's models are: the setting (the OCR image sets it), else the virtualenv's (make installs
    them there). None: the engine reads Latin, Chinese and Japanese only."""
    candidates = [Path(configured)] if configured else []
    candidates.append(Path(sys.prefix) / "share" / "tessdata")
    return next((folder for folder in candidates if (folder / "ara.traineddata").exists()), None)


def recognise(
    image: PreparedImage, page: int = 0, languages: Sequence[str] = (), tessdata: Path | None = None
) -> list[OcrLine]:
    engine = _rapidocr()
    pixels = image.to_rgb()
    with _ocr_lock:
        try:
            output = engine(pixels)
        except Exception as error:  # onnxruntime/opencv raise many kinds; all are engine faults
            raise EngineError(f"local OCR failed: {type(error).__name__}") from error
        lines = []
        found = output.boxes is not None and output.txts is not None  # numpy arrays: no truth value
        boxes, texts, scores = (output.boxes, output.txts, output.scores or ()) if found else ((), (), ())
        for box, text, score in zip(boxes, texts, scores, strict=False):
            xs = [float(point[0]) for point in box]
            ys = [float(point[1]) for point in box]
            lines.append(OcrLine(str(text), min(xs), min(ys), max(xs), max(ys), float(score), page))
        try:
            return read_scripts(pixels, lines, tessdata=tessdata, languages=languages, index=page)
        except RuntimeError as error:  # tesserocr's failures
            raise EngineError(f"local OCR failed: {type(error).__name__}") from error


class LocalEngine:
    """Reads each page apart (so the pages of a job can be read by different workers), then composes the
    answer from all pages' lines: the text in reading order, or the filled template."""

    name = "local"
    max_image_side: int | None = 2560
    reads_pages_apart = True

    def __init__(self, tessdata: str | None = None) -> None:
        self.tessdata = tessdata_dir(tessdata)  # the setting's folder, else the virtualenv's

    def read_page(self, image: PreparedImage, page: int = 0, languages: Sequence[str] = ()) -> list[OcrLine]:
        return recognise(image, page, languages, self.tessdata)

    def languages(self) -> frozenset[str]:
        folder = self.tessdata
        carried = {
            language
            for language, model in TESSERACT_MODELS.items()
            if folder is not None and (folder / f"{model}.traineddata").exists()
        }
        return RAPIDOCR_LANGUAGES | carried

    def compose(self, request: ExtractionRequest, lines: Sequence[OcrLine], pages: int) -> ExtractionResult:
        return compose_lines(request, lines, pages)

    def extract(self, request: ExtractionRequest) -> ExtractionResult:
        lines = [
            line for page, image in enumerate(request.images) for line in self.read_page(image, page, request.languages)
        ]
        return self.compose(request, lines, len(request.images))

    def token_hold(self, pages: int, prompt: str) -> int:
        return page_token_hold(pages, prompt)

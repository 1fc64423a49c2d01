"""Read a page whatever its script. RapidOCR reads first (Latin, Chinese, Japanese: as before, as fast as
before); the lines it cannot read (a low score, or too few letters for the box they fill) are read again by
Tesseract in the page's script, which is found by reading a few of them with each script's model and keeping
the one that reads them most surely in its own letters. A hint (the languages a request names) skips the
search. A receipt in Arabic with Latin brand names and numbers keeps RapidOCR's Latin lines and Tesseract's
Arabic ones."""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps

from snapscribe.engines.layout import OcrLine
from snapscribe.engines.scripts import RAPIDOCR_LANGUAGES, SCRIPT_OF_LANGUAGE, SCRIPTS_BY_NAME, TESSERACT_MODELS
from snapscribe.language import SCRIPTS, Script, detect_language, own_share

logger = logging.getLogger(__name__)

KEPT_SCORE = 0.5  # RapidOCR's own threshold: below it a line is dropped unless Tesseract reads it
SURE_SCORE = 0.9  # at or above it (with enough letters) RapidOCR's line is trusted as it is
MIN_GLYPHS_PER_HEIGHT = 0.6  # letters and digits per box height of width: garbage reads 0 to 0.3, text 0.8 to 3
PROBE_SHARE = 0.25  # unsure lines' share of the page's text area from which the page's script is sought
PROBE_LINES = 3  # the widest unsure lines read with every script's model
MIN_SCRIPT_SCORE = 45.0  # mean confidence (0-100) x the share of the script's own letters in what it read
# A model sure of a word or two proves little: "n 0" in a small image reads as Greek "πο" at 96. Another script
# needs this many of its letters in the sample lines before the page is read in it.
MIN_SCRIPT_LETTERS = 4
DETECTOR_AGREES = 10.0  # confidence points for a model whose reading the language detector finds in its language
BIDI_MARKS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def fits(text: str, script: Script) -> bool:
    """Text read in the script: mostly its letters, or no letters but digits (an amount, a date)."""
    if any(char.isalpha() for char in text):
        return own_share(text, script) >= 0.5
    return any(char.isdigit() for char in text)


def clean(text: str) -> str:
    """NFKC (Arabic presentation forms and other compatibility characters back to letters), no bidi marks
    (the text is in logical order already), single spaces."""
    return " ".join(BIDI_MARKS.sub("", unicodedata.normalize("NFKC", text)).split())


def glyph_density(line: OcrLine) -> float:
    return sum(char.isalnum() for char in line.text) / max(1.0, (line.x1 - line.x0) / line.height)


def is_sure(line: OcrLine) -> bool:
    return line.score >= SURE_SCORE and glyph_density(line) >= MIN_GLYPHS_PER_HEIGHT


def _area(line: OcrLine) -> float:
    return max(1.0, line.x1 - line.x0) * line.height


def crop(page: Image.Image, line: OcrLine) -> Image.Image:
    """The line with a margin, on a white border (Tesseract reads a line best with room around it)."""
    margin_y, margin_x = 0.15 * line.height, 0.3 * line.height
    box = (
        max(0, int(line.x0 - margin_x)),
        max(0, int(line.y0 - margin_y)),
        min(page.width, int(line.x1 + margin_x) + 1),
        min(page.height, int(line.y1 + margin_y) + 1),
    )
    return ImageOps.expand(page.crop(box), 12, fill="white")


@dataclass(frozen=True)
class Reading:
    text: str
    confidence: float  # 0-100


class Tesseract:
    """Tesseract through tesserocr, one API per model, made on first use and kept (loading costs 50-300 ms).
    Calls are serialised by the caller (the engine reads one page at a time)."""

    def __init__(self, tessdata: Path) -> None:
        self.tessdata = tessdata
        self._apis: dict[tuple[str, int], Any] = {}
        self._lock = threading.Lock()

    def available(self, model: str) -> bool:
        return all((self.tessdata / f"{part}.traineddata").exists() for part in model.split("+"))

    def _api(self, model: str, psm: int) -> Any:
        with self._lock:
            if (model, psm) not in self._apis:
                import tesserocr

                self._apis[(model, psm)] = tesserocr.PyTessBaseAPI(path=f"{self.tessdata}/", lang=model, psm=psm)
            return self._apis[(model, psm)]

    def read_line(self, image: Image.Image, model: str) -> Reading:
        """One line: as a single text line, and where that finds nothing (a neighbour's ascenders can confuse
        its line finding) as a raw line."""
        best = Reading("", 0.0)
        for psm in (7, 13):  # PSM.SINGLE_LINE, PSM.RAW_LINE
            api = self._api(model, psm)
            api.SetImage(image)
            text = clean(api.GetUTF8Text())
            reading = Reading(text, float(api.MeanTextConf()) if text else 0.0)
            if reading.confidence > best.confidence:
                best = reading
            if text and reading.confidence >= 60:
                break
        return best

    def read_block(self, image: Image.Image, model: str, page: int) -> list[OcrLine]:
        """A whole image whose lines RapidOCR did not find: Tesseract's own layout, line by line."""
        import tesserocr

        api = self._api(model, 3)  # PSM.AUTO
        api.SetImage(image)
        api.Recognize()
        lines = []
        iterator = api.GetIterator()
        level = tesserocr.RIL.TEXTLINE
        while iterator is not None:
            text = clean(iterator.GetUTF8Text(level) or "")
            box = iterator.BoundingBox(level)
            if text and box:
                x0, y0, x1, y1 = (float(value) for value in box)
                lines.append(OcrLine(text, x0, y0, x1, y1, float(iterator.Confidence(level)) / 100, page))
            if not iterator.Next(level):
                break
        return lines


@cache
def tesseract(tessdata: str) -> Tesseract:
    return Tesseract(Path(tessdata))


class SampleReadings:
    """The sample lines of a page, each read once per model: the script search and the language choice both read
    them with the script's first model."""

    def __init__(self, tess: Tesseract, samples: Sequence[Image.Image]) -> None:
        self.tess = tess
        self.samples = samples
        self._read: dict[tuple[int, str], Reading] = {}

    def with_model(self, model: str) -> list[Reading]:
        for index, sample in enumerate(self.samples):
            if (index, model) not in self._read:
                self._read[(index, model)] = self.tess.read_line(sample, model)
        return [self._read[(index, model)] for index in range(len(self.samples))]


def page_script(tess: Tesseract, samples: SampleReadings) -> Script | None:
    """The script whose model reads the sample lines most surely in its own letters."""
    best: tuple[float, Script | None] = (MIN_SCRIPT_SCORE, None)
    for script in SCRIPTS:  # each read with Tesseract
        model = TESSERACT_MODELS[script.languages[0]]
        if not tess.available(model):
            continue
        scores, letters = [], 0
        for reading in samples.with_model(model):
            scores.append(reading.confidence * own_share(reading.text, script))
            letters += sum(char.isalpha() and own_share(char, script) == 1.0 for char in reading.text)
        score = sum(scores) / len(scores)
        if letters >= MIN_SCRIPT_LETTERS and score > best[0]:
            best = (score, script)
    return best[1]


def page_language(tess: Tesseract, samples: SampleReadings, script: Script) -> str:
    """Which of the script's languages: the samples read with each language's model; the surest reading wins,
    with a bonus when the language detector finds the reading in that model's language (Persian read by the
    Persian model, told from Arabic; Serbian by the Serbian one, which alone writes its letters)."""
    if len(script.languages) == 1:
        return script.languages[0]
    best = (-1.0, script.languages[0])
    for language in script.languages:
        model = TESSERACT_MODELS[language]
        if not tess.available(model):
            continue
        readings = samples.with_model(model)
        confidence = sum(reading.confidence for reading in readings) / len(readings)
        agrees = detect_language(" ".join(reading.text for reading in readings)) == language
        score = confidence + (DETECTOR_AGREES if agrees else 0.0)
        if score > best[0]:
            best = (score, language)
    return best[1]


def models_for(languages: Sequence[str]) -> tuple[Script, str] | None:
    """The script and Tesseract model string (e.g. "fas+eng"-like "fas+ara") for the hinted languages that
    Tesseract reads; None when every hinted language is RapidOCR's."""
    tesseract_languages = [language for language in languages if language in TESSERACT_MODELS]
    if not tesseract_languages:
        return None
    script = SCRIPTS_BY_NAME[SCRIPT_OF_LANGUAGE[tesseract_languages[0]]]
    same_script = [language for language in tesseract_languages if SCRIPT_OF_LANGUAGE[language] == script.name]
    return script, "+".join(TESSERACT_MODELS[language] for language in same_script)


def read_scripts(
    page: Image.Image, lines: Sequence[OcrLine], *, tessdata: Path | None, languages: Sequence[str] = (), index: int = 0
) -> list[OcrLine]:
    """RapidOCR's lines (all of them, whatever their score) made right: unsure lines read again by Tesseract in
    the page's script; without Tesseract or another script, RapidOCR's lines above its threshold, as before."""
    as_before = [line for line in lines if line.score >= KEPT_SCORE]
    if tessdata is None or (languages and all(language in RAPIDOCR_LANGUAGES for language in languages)):
        return as_before
    unsure = [line for line in lines if not is_sure(line)]
    hinted = models_for(languages)
    if hinted is None:
        total = sum(_area(line) for line in lines)
        if lines and sum(_area(line) for line in unsure) < PROBE_SHARE * total:
            return as_before
    tess = tesseract(str(tessdata))
    samples = [crop(page, line) for line in sorted(unsure, key=_area, reverse=True)[:PROBE_LINES]]
    if not lines:
        samples = [ImageOps.expand(page, 12, fill="white")]
    if hinted is not None:
        script, model = hinted
    else:
        readings = SampleReadings(tess, samples)
        found = page_script(tess, readings)
        if found is None:
            return as_before
        script, model = found, TESSERACT_MODELS[page_language(tess, readings, found)]
    if not tess.available(model):
        return as_before
    logger.info("reading %d lines as %s (%s)", len(unsure) or 1, script.name, model)
    if not lines:  # RapidOCR found no text: one line image (wide and low), else Tesseract's own layout
        if page.width >= 3 * page.height:
            reading = tess.read_line(samples[0], model)
            if not reading.text:
                return []
            whole = OcrLine(reading.text, 0.0, 0.0, float(page.width), float(page.height), reading.confidence / 100)
            return [replace(whole, page=index, right_to_left=script.right_to_left)]
        block = tess.read_block(samples[0], model, index)
        return [replace(line, right_to_left=script.right_to_left) for line in block]
    read = []
    for line in lines:
        if is_sure(line):
            read.append(line)
            continue
        reading = tess.read_line(crop(page, line), model)
        if reading.text and fits(reading.text, script):
            read.append(
                replace(line, text=reading.text, score=reading.confidence / 100, right_to_left=script.right_to_left)
            )
        elif line.score >= KEPT_SCORE:
            read.append(line)  # not the page's script after all (a Latin word): RapidOCR's reading
    return read

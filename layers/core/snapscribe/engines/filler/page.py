"""The page the filler reads: OCR lines grouped into rows, and the best of the values found on it."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, replace

from snapscribe.engines.filler.vocabulary import ACCENTED_LANGUAGES
from snapscribe.engines.layout import OcrLine

# Below this share of accented Latin letters, on a page in a language written without accents, an accented letter
# is OCR noise (Restäurants on a Malaysian receipt): a French or German page has far more (2-5 % of its letters),
# and its language keeps even a single one (Müller GmbH).
STRAY_ACCENTS = 0.005


class Page:
    """A page's rows (top to bottom, each left to right) and their texts, joined once."""

    def __init__(self, rows: list[list[OcrLine]]) -> None:
        if _stray_accents(rows):
            rows = [[replace(line, text=_unaccented(line.text)) for line in row] for row in rows]
        self.rows = rows
        self.row_texts = [" ".join(line.text for line in row) for row in rows]


def _is_latin_letter(char: str) -> bool:
    return char.isalpha() and "LATIN" in unicodedata.name(char, "")


def _unaccented(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    kept = "".join(char for char in decomposed if not unicodedata.combining(char))
    return unicodedata.normalize("NFC", kept)


def _stray_accents(rows: list[list[OcrLine]]) -> bool:
    letters = [char for row in rows for line in row for char in line.text if _is_latin_letter(char)]
    accented = sum(not char.isascii() for char in letters)
    if not 0 < accented <= STRAY_ACCENTS * len(letters):
        return False
    try:
        from snapscribe.language import detect_language

        language = detect_language(" ".join(line.text for row in rows for line in row))
    except ImportError:  # no language detector in this function: keep the letters as read
        return False
    return language not in ACCENTED_LANGUAGES


@dataclass(frozen=True)
class Candidate:
    """A value found for a field, how much its label and place speak for it, and the row it was found on."""

    value: str
    score: float
    row: int


def best_candidate(candidates: list[Candidate]) -> Candidate | None:
    """The highest scoring candidate; of equals, the one nearest the top of the page."""
    if not candidates:
        return None
    return max(candidates, key=lambda candidate: (candidate.score, -candidate.row))


def best(candidates: list[Candidate]) -> str | None:
    chosen = best_candidate(candidates)
    return chosen.value if chosen else None

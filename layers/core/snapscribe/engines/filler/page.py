"""The page the filler reads: OCR lines grouped into rows, and the best of the values found on it."""

from __future__ import annotations

from dataclasses import dataclass

from snapscribe.engines.layout import OcrLine


class Page:
    """A page's rows (top to bottom, each left to right) and their texts, joined once."""

    def __init__(self, rows: list[list[OcrLine]]) -> None:
        self.rows = rows
        self.row_texts = [" ".join(line.text for line in row) for row in rows]


@dataclass(frozen=True)
class Candidate:
    """A value found for a field, how much its label and place speak for it, and the row it was found on."""

    value: str
    score: float
    row: int


def best(candidates: list[Candidate]) -> str | None:
    """The highest scoring value; of equals, the one nearest the top of the page."""
    if not candidates:
        return None
    return max(candidates, key=lambda candidate: (candidate.score, -candidate.row)).value

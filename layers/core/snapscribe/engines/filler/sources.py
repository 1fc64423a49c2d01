"""Where a filled value came from, and how sure the filler is of it.

Each field's value is found again on the page: the OCR lines that hold it (one cell, a run of cells, or the rows
of an address). Its box is theirs, and its confidence is how surely the rule that chose it names the field (a
label right before it more than a value the layout implies) times how surely the OCR read those lines.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

from snapscribe.engines.filler.page import Page
from snapscribe.engines.layout import OcrLine

MAX_ROWS = 6  # an address or a long answer spans a few rows
FUZZY = 0.75  # a value the filler repaired (S/B for 5/B) is found where it reads this close
UNLOCATED = 0.5  # a value not found again on the page (it should not happen): half the rule's certainty


@dataclass(frozen=True)
class FieldSource:
    value: Any
    confidence: float | None
    page: int | None
    box: tuple[float, float, float, float] | None  # x0, y0, x1, y1 in the pixels of the page as read

    def to_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "confidence": None if self.confidence is None else round(self.confidence, 3),
            "page": self.page,
            "box": None if self.box is None else [round(coordinate) for coordinate in self.box],
        }


def _compact(text: str) -> str:
    return "".join(char for char in text.lower() if char.isalnum())


def _shares(cell: str, wanted: str) -> bool:
    """The cell holds part of the value: a common run of four characters (or the whole of a shorter cell)."""
    if not cell:
        return False
    if cell in wanted or wanted in cell:
        return True
    match = SequenceMatcher(None, cell, wanted, autojunk=False).find_longest_match(0, len(cell), 0, len(wanted))
    return match.size >= min(4, len(cell))


def source_lines(page: Page, value: str) -> list[OcrLine]:
    """The lines the value was read from: the shortest run of rows that holds it, and in them the cells that
    hold part of it; else the run that reads closest to it."""
    wanted = _compact(value)
    if not wanted:
        return []
    found: tuple[int, list[OcrLine]] | None = None
    closest: tuple[float, list[OcrLine]] = (FUZZY, [])
    for start in range(len(page.rows)):
        window: list[OcrLine] = []
        for row in page.rows[start : start + MAX_ROWS]:
            window = [*window, *row]
            joined = _compact(" ".join(line.text for line in window))
            if wanted in joined:
                if found is None or len(joined) < found[0]:
                    cells = [line for line in window if _shares(_compact(line.text), wanted)]
                    found = (len(joined), cells or window)
                break
            if len(joined) < 2 * len(wanted):
                ratio = SequenceMatcher(None, joined, wanted, autojunk=False).ratio()
                if ratio > closest[0]:
                    closest = (ratio, [line for line in window if _shares(_compact(line.text), wanted)] or window)
    return found[1] if found else closest[1]


def locate(page: Page, value: Any, certainty: float) -> FieldSource:
    """The field's source and confidence; a null value has neither."""
    if value is None:
        return FieldSource(None, None, None, None)
    lines = source_lines(page, str(value))
    if not lines:
        return FieldSource(value, certainty * UNLOCATED, None, None)
    reading = statistics.mean(line.score for line in lines)
    box = (min(line.x0 for line in lines), min(line.y0 for line in lines))
    box_end = (max(line.x1 for line in lines), max(line.y1 for line in lines))
    return FieldSource(value, min(1.0, certainty * reading), lines[0].page, (*box, *box_end))

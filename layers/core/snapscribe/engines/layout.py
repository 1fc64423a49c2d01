"""OCR lines with their boxes, and the reading order they make."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class OcrLine:
    text: str
    x0: float
    y0: float
    x1: float
    y1: float
    score: float
    page: int = 0
    right_to_left: bool = False  # read in a right-to-left script (its text is in logical order)

    @property
    def height(self) -> float:
        return max(1.0, self.y1 - self.y0)

    @property
    def center_y(self) -> float:
        return (self.y0 + self.y1) / 2


def group_rows(lines: Sequence[OcrLine]) -> list[list[OcrLine]]:
    """Lines that share a baseline band form a row; rows top to bottom, each left to right, or right to left
    when most of its lines are in a right-to-left script (an Arabic label, then the Latin number left of it)."""
    rows: list[list[OcrLine]] = []
    for line in sorted(lines, key=lambda item: (item.page, item.center_y, item.x0)):
        row = rows[-1] if rows else None
        if row and row[0].page == line.page:
            reference = row[0]
            if abs(line.center_y - reference.center_y) < 0.5 * min(line.height, reference.height):
                row.append(line)
                continue
        rows.append([line])
    return [
        sorted(row, key=lambda item: -item.x1)
        if 2 * sum(line.right_to_left for line in row) >= len(row) > 0 and any(line.right_to_left for line in row)
        else sorted(row, key=lambda item: item.x0)
        for row in rows
    ]


def reading_order_text(lines: Sequence[OcrLine]) -> str:
    pages: dict[int, list[str]] = {}
    for row in group_rows(lines):
        pages.setdefault(row[0].page, []).append(" ".join(line.text for line in row))
    return "\n\n".join("\n".join(rows) for _, rows in sorted(pages.items()))

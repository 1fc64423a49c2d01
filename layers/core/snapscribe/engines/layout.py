"""OCR lines with their boxes: reading order, and filling a JSON template from labels and layout."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any


@dataclass(frozen=True)
class OcrLine:
    text: str
    x0: float
    y0: float
    x1: float
    y1: float
    score: float
    page: int = 0

    @property
    def height(self) -> float:
        return max(1.0, self.y1 - self.y0)

    @property
    def center_y(self) -> float:
        return (self.y0 + self.y1) / 2


def group_rows(lines: Sequence[OcrLine]) -> list[list[OcrLine]]:
    """Lines that share a baseline band form a row; rows top to bottom, each left to right."""
    rows: list[list[OcrLine]] = []
    for line in sorted(lines, key=lambda item: (item.page, item.center_y, item.x0)):
        row = rows[-1] if rows else None
        if row and row[0].page == line.page:
            reference = row[0]
            if abs(line.center_y - reference.center_y) < 0.5 * min(line.height, reference.height):
                row.append(line)
                continue
        rows.append([line])
    return [sorted(row, key=lambda item: item.x0) for row in rows]


def reading_order_text(lines: Sequence[OcrLine]) -> str:
    pages: dict[int, list[str]] = {}
    for row in group_rows(lines):
        pages.setdefault(row[0].page, []).append(" ".join(line.text for line in row))
    return "\n\n".join("\n".join(rows) for _, rows in sorted(pages.items()))


# --- template filling ----------------------------------------------------------------------------
_SEPARATORS = " :：#-.=\t"


def _normalise(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", " ", text.lower()).strip()


def _label_variants(key: str, description: Any) -> list[str]:
    words = re.sub(r"([a-z])([A-Z])", r"\1 \2", key).replace("_", " ").replace("-", " ")
    variants = [_normalise(words)]
    if isinstance(description, str) and description.strip():
        variants.append(_normalise(description))
    return [variant for variant in dict.fromkeys(variants) if variant]


def _label_match(line_text: str, label: str) -> int | None:
    """Where the value starts in `line_text` if the line begins with the label (fuzzily), else None."""
    lowered = line_text.lower()
    normalised_line = _normalise(line_text)
    if normalised_line.startswith(label):
        # Walk the raw text until as many label characters have been consumed.
        consumed, position = 0, 0
        label_chars = label.replace(" ", "")
        while position < len(lowered) and consumed < len(label_chars):
            if lowered[position].isalnum():
                consumed += 1
            position += 1
        return position
    head = normalised_line[: len(label) + 2]
    if len(label) >= 4 and SequenceMatcher(None, head[: len(label)], label).ratio() >= 0.85:
        return min(len(line_text), len(label))
    return None


def _value_for(label_variants: list[str], rows: list[list[OcrLine]]) -> str | None:
    for row_index, row in enumerate(rows):
        for line_index, line in enumerate(row):
            for label in label_variants:
                start = _label_match(line.text, label)
                if start is None:
                    continue
                rest = line.text[start:].strip(_SEPARATORS)
                if rest:
                    return rest
                if line_index + 1 < len(row):  # value to the right of its label
                    return row[line_index + 1].text.strip()
                if row_index + 1 < len(rows):  # value below its label
                    below = rows[row_index + 1]
                    return " ".join(item.text for item in below).strip()
    return None


def fill_template(template: Any, lines: Sequence[OcrLine]) -> Any:
    """The template's shape with each leaf filled from the page, null where nothing matched."""
    rows = group_rows(lines)

    def fill(node: Any, key: str) -> Any:
        if isinstance(node, dict):
            return {child_key: fill(child, child_key) for child_key, child in node.items()}
        if isinstance(node, list):
            return []  # row extraction for lists comes with the schema-guided engine
        return _value_for(_label_variants(key, node), rows)

    if isinstance(template, list):
        return []
    return {key: fill(value, key) for key, value in template.items()}

"""Finding a field by its label on the page: the value right of the label, in the next cell, or below.

A free-text value may run on over the lines under it; a typed value is the part of the text of its type.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from difflib import SequenceMatcher

from snapscribe.engines.filler.fields import is_word_char, normalise
from snapscribe.engines.filler.page import Candidate, Page
from snapscribe.engines.filler.values import coerce
from snapscribe.engines.layout import OcrLine

# Kinds whose value is free text (any words): their label must stand alone or end in a separator.
FREE_TEXT = frozenset({"text", "company", "address"})
# Where the next "Label:" starts on a line: a free-text value ends there.
NEXT_LABEL = re.compile(r"\s+(?=[A-Z][A-Za-z.'/() -]{1,40}:(?:\s|$))")


def _raw_end(text: str, position: int, label: str) -> int:
    """The index in `text` where a label found at `position` of its normalised form ends."""
    wanted = len(normalise(text)[:position].replace(" ", "")) + len(label.replace(" ", ""))
    consumed = index = 0
    while index < len(text) and consumed < wanted:
        if is_word_char(text[index]):
            consumed += 1
        index += 1
    return index


def _match_label(text: str, label: str) -> tuple[int, float] | None:
    """Where the label ends in `text` and how well it matched: at the start of the line, inside it when
    a separator follows ("Total: 5" yes, "SIN THYE & COMPANY" no), or fuzzily at its start."""
    plain = normalise(text)
    position = plain.find(label)
    if position == 0:
        return _raw_end(text, 0, label), 1.0
    if position > 0 and plain[position - 1] == " " and len(label) >= 4:
        end = _raw_end(text, position, label)
        if re.match(r"\s*[:#=]", text[end:]):
            return end, 0.9
    head = plain[: len(label)]
    if len(label) >= 5 and SequenceMatcher(None, head, label).ratio() >= 0.84:
        return min(len(text), len(label)), 0.8
    return None


def _starts_with_label(text: str, labels: set[str]) -> bool:
    """The cell begins with one of the form's labels (a whole word or words): another field starts there."""
    plain = normalise(text)
    return any(plain == label or plain.startswith(label + " ") for label in labels if len(label) >= 3)


def _cells_from(cells: Sequence[OcrLine], labels: set[str]) -> list[OcrLine]:
    """A value's cells along a row: from the first, while each follows the last closely (a wide gap is the next
    column) and is not another field's label."""
    taken: list[OcrLine] = []
    for cell in cells:
        if taken and (cell.x0 - taken[-1].x1 > 2 * cell.height or _starts_with_label(cell.text, labels)):
            break
        if not taken and _starts_with_label(cell.text, labels):
            break
        taken.append(cell)
    return taken


def _continuation(page: Page, row_index: int, x_start: float, labels: set[str]) -> list[str]:
    """Lines under a free-text value that carry it on: starting where it starts (its column), no label of
    their own, no wider gap than a line's."""
    parts: list[str] = []
    previous = page.rows[row_index]
    for row in page.rows[row_index + 1 : row_index + 12]:
        if row[0].x0 < x_start - row[0].height:
            break
        column = [line for line in row if line.x0 >= x_start - line.height]
        if not column or (column[0].x0 > x_start + 2 * column[0].height):
            break
        gap = column[0].y0 - max(line.y1 for line in previous)
        if gap > 1.2 * column[0].height:
            break
        cells = _cells_from(column, labels)
        text = " ".join(line.text for line in cells)
        if not cells or re.match(r"^[^:]{1,40}:", text) or normalise(text) in labels:
            break
        parts.append(text)
        previous = row
    return parts


def labelled_candidates(
    page: Page, labels: Sequence[str], kind: str, known_labels: set[str] | None = None
) -> list[Candidate]:
    """Every value of `kind` that one of `labels` names on the page; `known_labels` end a free text."""
    found: list[Candidate] = []
    others = (known_labels or set()) - set(labels)
    for row_index, row in enumerate(page.rows):
        for line_index, line in enumerate(row):
            for rank, label in enumerate(labels):
                matched = _match_label(line.text, label)
                if matched is None:
                    continue
                end, quality = matched
                rest = line.text[end:]
                # A free-text label is a whole cell or is followed by a separator: "To:" or "To", never the
                # first word of a sentence ("to have 100% ...") nor of a longer label ("Company No: 123456-X"
                # names a registration number, not the company). A long label at the start of its cell may have
                # its value right after it ("Type of Cigarette 100 mm").
                separated = not rest.strip() or re.match(r"\s*[:#=.\-]", rest)
                long_label = kind == "text" and quality == 1.0 and len(label) >= 8 and " " in label
                if kind in FREE_TEXT and not separated and not long_label:
                    continue
                if normalise(line.text) in others:  # the cell is another field's label: "Plug Wrap Por."
                    continue
                quality -= 0.01 * rank  # earlier variants are the more specific ones
                value_at = end + len(rest) - len(rest.lstrip(" :#=.-|"))  # where the value itself begins
                options: list[tuple[str, float, float, int]] = [
                    (rest, 1.0, line.x0 + (line.x1 - line.x0) * value_at / max(1, len(line.text)), row_index),
                ]
                right = _cells_from(row[line_index + 1 :], others)
                if right:
                    options.append((" ".join(item.text for item in right), 0.95, right[0].x0, row_index))
                if row_index + 1 < len(page.rows):
                    # Under the label: the cells below that overlap it (a column's header and its value).
                    margin = line.height
                    under = [
                        item
                        for item in page.rows[row_index + 1]
                        if item.x1 > line.x0 - margin and item.x0 < line.x1 + 3 * margin
                    ]
                    if not under and kind not in FREE_TEXT:
                        under = page.rows[row_index + 1]  # a typed value may sit anywhere on the row below
                    under = _cells_from(under, others)
                    if under:
                        options.append((" ".join(item.text for item in under), 0.8, under[0].x0, row_index + 1))
                for text, place, x_start, value_row in options:
                    if kind == "text":  # a value ends where the next "Label:" begins
                        text = NEXT_LABEL.split(text, maxsplit=1)[0]
                    value = coerce(kind, text)
                    if not value or not any(char.isalnum() for char in value):
                        continue  # "Tip. Paper Por." leaves "." after the label: the value is elsewhere
                    if kind == "text" and normalise(value) in labels:
                        continue
                    if kind == "text":
                        more = _continuation(page, value_row, x_start, known_labels or set())
                        value = " ".join([value, *more])
                    found.append(Candidate(value, quality * place, row_index))
                    break
                break  # one label per line: the first (most specific) that matched
    return found

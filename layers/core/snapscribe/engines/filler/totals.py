"""The total of a page: the amount finally paid, read from the amounts that follow a total's label."""

from __future__ import annotations

import re

from snapscribe.engines.filler.fields import normalise
from snapscribe.engines.filler.page import Page
from snapscribe.engines.filler.values import AMOUNT, amount_value

# A total is the amount finally paid: these labels name other amounts.
NOT_TOTAL = re.compile(
    r"sub|excl|before|qty|quantity|items?\b|gst|tax|vat|sst|discount|saving|change|"
    r"cash|tender|paid|points|weight|unit|supplies",
    re.IGNORECASE,
)
# Labels of the final amount itself: they outrank a plain "Total" (which may be before rounding or tax).
STRONG_TOTAL = re.compile(
    r"payable|grand|nett|net\b|amount due|total due|balance due|round|incl|inclusive", re.IGNORECASE
)


def total(page: Page) -> str | None:
    """The amount finally paid: the amount right after a total's label, the strongest label winning."""
    totals: list[tuple[int, float, str]] = []
    subtotals: list[tuple[int, float, str]] = []
    for text in page.row_texts:
        position = 0
        for match in AMOUNT.finditer(text):
            label = text[position : match.start()]
            position = match.end()
            plain = normalise(label)
            if not re.search(r"total|payable|amount due|due\b", plain):
                continue
            value = match.group(0).strip().lstrip("-").strip()
            if re.search(r"sub", plain):
                subtotals.append((1, amount_value(value), value))
                continue
            if NOT_TOTAL.search(label) and not STRONG_TOTAL.search(label):
                continue
            totals.append((2 if STRONG_TOTAL.search(label) else 1, amount_value(value), value))
    # Of equally strong labels the largest amount wins; a subtotal only when the page prints no total.
    chosen = max(totals or subtotals, default=None)
    return chosen[2] if chosen else None

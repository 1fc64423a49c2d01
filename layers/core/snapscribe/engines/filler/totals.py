"""The total of a page: the amount finally paid, read from the amounts that follow a total's label, and checked
against what was tendered and given back (cash 50.00, change 20.20: 29.80 was paid)."""

from __future__ import annotations

import re

from snapscribe.engines.filler.fields import normalise
from snapscribe.engines.filler.page import Page
from snapscribe.engines.filler.values import AMOUNT, amount_value

# Labels of an amount that may be the total: "Total", "Amount due", "Net Amt", "Rounded total", "Rounding".
TOTAL_LABEL = re.compile(r"total|payable|amount due|due\b|\bnett? ?(amt|amount)\b|\bround", re.IGNORECASE)
# A total is the amount finally paid: these labels name other amounts.
NOT_TOTAL = re.compile(
    r"sub|excl|before|qty|quantity|items?\b|gst|tax|vat|sst|discount|saving|change|adj|gross|"
    r"cash|tender|paid|points|weight|unit|suppl",  # suppl: "supplies" as OCR cuts it ("supplic.")
    re.IGNORECASE,
)
# Labels of the final amount itself: they outrank a plain "Total" (which may be before rounding or tax).
STRONG_TOTAL = re.compile(
    r"payable|grand|nett|net\b|amount due|total due|balance due|round|incl|inclusive", re.IGNORECASE
)
# What the customer handed over, and what came back.
TENDERED = re.compile(r"\b(cash|tender(ed)?|paid|payment|credit|debit|visa|master|card)\b", re.IGNORECASE)
CHANGE = re.compile(r"\b(change|balance)\b", re.IGNORECASE)
CENT = 0.005


def _labelled_amounts(page: Page) -> list[tuple[str, str]]:
    """Each amount on the page with the text in front of it on its row (its label)."""
    found = []
    for text in page.row_texts:
        position = 0
        for match in AMOUNT.finditer(text):
            found.append((text[position : match.start()], match.group(0).strip().lstrip("-").strip()))
            position = match.end()
    return found


def rounding_adjustments(page: Page) -> list[float]:
    """The amounts of "Rounding Adj: -0.02" rows, both ways (OCR often loses the minus): a total plus one of them
    is the rounded total."""
    found = []
    for label, value in _labelled_amounts(page):
        amount = amount_value(value)
        if re.search(r"round", label, re.IGNORECASE) and 0 < amount < 1.0:
            found += [amount, -amount]
    return found


def paid_amount(page: Page) -> float | None:
    """Tendered minus change, when the page prints both (one of each): the amount actually paid."""
    amounts = _labelled_amounts(page)
    tendered = [amount_value(value) for label, value in amounts if TENDERED.search(label) and not CHANGE.search(label)]
    change = [amount_value(value) for label, value in amounts if CHANGE.search(label)]
    if len(tendered) != 1 or len(change) != 1 or change[0] >= tendered[0]:
        return None
    return round(tendered[0] - change[0], 2)


# How surely each way of finding the total names it: the payment and a total's label agree, a rounding and the
# payment agree, a total and its rounding, the strongest label alone, a subtotal where no total is printed.
AGREES_WITH_PAYMENT, ROUNDED, STRONGEST_LABEL, SUBTOTAL_ONLY = 0.98, 0.95, 0.85, 0.6


def total(page: Page) -> str | None:
    found = total_with_certainty(page)
    return found[0] if found else None


def total_with_certainty(page: Page) -> tuple[str, float] | None:
    """The amount finally paid, and how surely: the amount right after a total's label, the strongest label
    winning; the amount tendered less the change decides between them, and stands for the total a page prints
    without a label."""
    totals: list[tuple[int, float, str]] = []
    subtotals: list[tuple[int, float, str]] = []
    printed: list[str] = []
    for label, value in _labelled_amounts(page):
        printed.append(value)
        plain = normalise(label)
        if not TOTAL_LABEL.search(plain):
            continue
        if re.search(r"sub", plain):
            subtotals.append((1, amount_value(value), value))
            continue
        if NOT_TOTAL.search(label) and not STRONG_TOTAL.search(label):
            continue
        totals.append((2 if STRONG_TOTAL.search(label) else 1, amount_value(value), value))
    # "Rounding 0.02" is the adjustment, "Rounding 45.35" the rounded total: an amount a rounding label alone
    # names is the total only when it is of the total's size.
    largest = max((amount for _, amount, _ in totals + subtotals), default=0.0)
    totals = [candidate for candidate in totals if candidate[1] >= 0.5 * largest or candidate[1] >= 1.0]
    paid = paid_amount(page)
    if paid is not None:
        agreeing = [value for _, amount, value in totals if abs(amount - paid) < CENT]
        if agreeing:
            return agreeing[0], AGREES_WITH_PAYMENT
        if not totals:
            unlabelled = next((value for value in printed if abs(amount_value(value) - paid) < CENT), None)
            if unlabelled is not None:
                return unlabelled, ROUNDED
            return (max(subtotals)[2], SUBTOTAL_ONLY) if subtotals else None
    adjustments = rounding_adjustments(page)
    rounded = [
        candidate
        for candidate in totals
        if any(abs(candidate[1] - (other[1] + adjustment)) < CENT for other in totals for adjustment in adjustments)
    ]
    if rounded:  # a total and the same total after the printed rounding: the rounded one, printed last, was paid
        return rounded[-1][2], ROUNDED
    if paid is not None and any(
        abs(paid - (other[1] + adjustment)) < CENT for other in totals for adjustment in adjustments
    ):
        return f"{paid:.2f}", ROUNDED  # the rounded total is not printed, but it is what was paid
    # Of equally strong labels the largest amount wins; a subtotal only when the page prints no total.
    if totals:
        return max(totals)[2], STRONGEST_LABEL
    return (max(subtotals)[2], SUBTOTAL_ONLY) if subtotals else None

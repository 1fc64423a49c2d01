"""Lists of objects in a template (`items: [{name, qty, total}]`), read from a page's table rows."""

from __future__ import annotations

import re
from typing import Any

from snapscribe.engines.filler.fields import field_kind, field_words, normalise
from snapscribe.engines.filler.page import Page
from snapscribe.engines.filler.values import AMOUNT, find_amounts

# "x2", "2 pcs", "3 units": a quantity written into the item's name.
QUANTITY = re.compile(r"\bx\s?(\d{1,3})\b|\b(\d{1,3})\s?(?:x|pcs?|units?)\b", re.IGNORECASE)


def items(page: Page, item_template: dict[str, Any]) -> list[dict[str, Any]]:
    """Table rows: text cells, then number cells ending in an amount; not the totals under the table."""
    rows: list[dict[str, Any]] = []
    kinds = {key: field_kind(key, description) for key, description in item_template.items()}
    for row, text in zip(page.rows, page.row_texts, strict=True):
        amounts = find_amounts(text)
        if not amounts:
            continue
        words = [line.text for line in row if not re.fullmatch(r"[\d.,:%x*@$€£RM\s-]+", line.text.strip())]
        label_part = " ".join(words) if len(row) > 1 else AMOUNT.split(text)[0]
        label_part = AMOUNT.split(label_part)[0].strip(" :|-")
        plain = normalise(label_part)
        if not plain or re.search(r"total|gst|tax|vat|cash|change|round|discount|balance|tender|paid|due", plain):
            continue
        if sum(char.isalpha() for char in label_part) < 2:
            continue
        integer_cells = [line.text.strip() for line in row if re.fullmatch(r"\d{1,3}", line.text.strip())]
        item: dict[str, Any] = {}
        for key, kind in kinds.items():
            key_words = set(field_words(key, item_template[key]))
            if kind == "amount" and key_words & {"unit", "rate", "each"}:
                item[key] = amounts[-2] if len(amounts) >= 2 else None  # one amount is the line's total
            elif kind == "amount":
                item[key] = amounts[-1]
            elif key_words & {"qty", "quantity", "count"}:
                if integer_cells:
                    item[key] = integer_cells[0]
                else:
                    quantity = QUANTITY.search(label_part)
                    item[key] = next((group for group in quantity.groups() if group), None) if quantity else None
            else:
                item[key] = label_part
        rows.append(item)
    return rows

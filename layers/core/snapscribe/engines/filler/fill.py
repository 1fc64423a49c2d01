"""The filler: walks the template and fills each field from the page, by its label first, then by layout."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from snapscribe.engines.filler.fields import field_kind, field_words, label_variants
from snapscribe.engines.filler.head import address, company
from snapscribe.engines.filler.labels import labelled_candidates
from snapscribe.engines.filler.page import Page, best
from snapscribe.engines.filler.rows import items
from snapscribe.engines.filler.totals import total
from snapscribe.engines.filler.values import coerce, find_date
from snapscribe.engines.layout import OcrLine, group_rows


def fill_template(template: Any, lines: Sequence[OcrLine], scene: str = "general") -> Any:
    """The template's shape, each field filled from the page or null."""
    page = Page(group_rows(lines))
    company_cache: dict[str, str | None] = {}
    # Every field's labels: a free-text value stops at a line that is another field's label.
    known_labels = set()
    for key_name, description in _leaves(template):
        known_labels.update(label_variants(key_name, description, scene))

    def page_company() -> str | None:
        if "value" not in company_cache:
            company_cache["value"] = company(page)
        return company_cache["value"]

    def leaf(key: str, description: Any) -> Any:
        kind = field_kind(key, description)
        labels = label_variants(key, description, scene)
        if (
            kind == "amount"
            and "total" in field_words(key, None)
            and not set(field_words(key, None)) & {"sub", "subtotal", "tax", "gst", "vat"}
        ):
            return total(page) or best(labelled_candidates(page, labels, kind))
        found = best(labelled_candidates(page, labels, kind, known_labels))
        if found is not None:
            return found
        if kind == "company":
            return page_company()
        if kind == "address":
            return address(page)
        if kind == "date":
            return next((value for text in page.row_texts if (value := find_date(text))), None)
        if kind in ("phone", "email", "time"):
            return next((value for text in page.row_texts if (value := coerce(kind, text))), None)
        return None

    def fill(node: Any, key: str) -> Any:
        if isinstance(node, dict):
            return {child_key: fill(child, child_key) for child_key, child in node.items()}
        if isinstance(node, list):
            if node and isinstance(node[0], dict):
                return items(page, node[0])
            return []
        return leaf(key, node)

    if isinstance(template, list):
        return items(page, template[0]) if template and isinstance(template[0], dict) else []
    return {key: fill(value, key) for key, value in template.items()}


def _leaves(node: Any, key: str = "") -> list[tuple[str, Any]]:
    """Every (key, description) of the template; a list's leaves take the key the list has."""
    if isinstance(node, dict):
        return [leaf for child_key, child in node.items() for leaf in _leaves(child, child_key)]
    if isinstance(node, list):
        return [leaf for child in node for leaf in _leaves(child, key)]
    return [(key, node)]

"""The filler: walks the template and fills each field from the page, by its label first, then by layout."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from snapscribe.engines.filler.fields import field_kind, field_words, label_variants
from snapscribe.engines.filler.head import address, company, company_certainty
from snapscribe.engines.filler.labels import labelled_candidates
from snapscribe.engines.filler.page import Page, best_candidate
from snapscribe.engines.filler.rows import items
from snapscribe.engines.filler.sources import FieldSource, locate
from snapscribe.engines.filler.totals import total_with_certainty
from snapscribe.engines.filler.values import coerce, find_date
from snapscribe.engines.layout import OcrLine, group_rows

# How surely a rule names its field when no label does (a label's own score is its match and place, 0.6-1; a
# total's is in totals.py, a business's in head.py): the date or phone first printed, the lines under the
# business's name, a table row's cells.
LAYOUT_CERTAINTY = {"typed": 0.75, "address": 0.7, "item": 0.7}


@dataclass(frozen=True)
class Filled:
    """The filled template, and for each of its fields (by JSON pointer) where its value came from."""

    document: Any
    fields: dict[str, FieldSource]

    def fields_json(self) -> dict[str, dict[str, Any]]:
        return {pointer: source.to_json() for pointer, source in self.fields.items()}


def fill_template(template: Any, lines: Sequence[OcrLine], scene: str = "general") -> Any:
    """The template's shape, each field filled from the page or null."""
    return fill_template_with_sources(template, lines, scene).document


def fill_template_with_sources(template: Any, lines: Sequence[OcrLine], scene: str = "general") -> Filled:
    """The filled template and each field's source: its box on the page and how sure the filler is of it."""
    page = Page(group_rows(lines))
    company_cache: dict[str, str | None] = {}
    sources: dict[str, FieldSource] = {}
    # Every field's labels: a free-text value stops at a line that is another field's label.
    known_labels = set()
    for key_name, description in _leaves(template):
        known_labels.update(label_variants(key_name, description, scene))

    def page_company() -> str | None:
        if "value" not in company_cache:
            company_cache["value"] = company(page)
        return company_cache["value"]

    def labelled(key: str, description: Any, kind: str, ends: set[str] | None) -> tuple[str, float] | None:
        """The value a label names, and its score; `ends`: the labels that end a free-text value."""
        labels = label_variants(key, description, scene)
        chosen = best_candidate(labelled_candidates(page, labels, kind, ends))
        return (chosen.value, chosen.score) if chosen else None

    def leaf(key: str, description: Any) -> tuple[Any, float]:
        kind = field_kind(key, description)
        if (
            kind == "amount"
            and "total" in field_words(key, None)
            and not set(field_words(key, None)) & {"sub", "subtotal", "tax", "gst", "vat"}
        ):
            return total_with_certainty(page) or labelled(key, description, kind, None) or (None, 0.0)
        found = labelled(key, description, kind, known_labels)
        if found is not None:
            return found
        if kind == "company":
            name = page_company()
            return name, company_certainty(page, name)
        if kind == "address":
            return address(page), LAYOUT_CERTAINTY["address"]
        if kind == "date":
            date = next((value for text in page.row_texts if (value := find_date(text))), None)
            return date, LAYOUT_CERTAINTY["typed"]
        if kind in ("phone", "email", "time"):
            typed = next((value for text in page.row_texts if (value := coerce(kind, text))), None)
            return typed, LAYOUT_CERTAINTY["typed"]
        return None, 0.0

    def fill(node: Any, key: str, pointer: str) -> Any:
        if isinstance(node, dict):
            return {
                child_key: fill(child, child_key, f"{pointer}/{_escape(child_key)}")
                for child_key, child in node.items()
            }
        if isinstance(node, list):
            if node and isinstance(node[0], dict):
                rows = items(page, node[0])
                for index, row in enumerate(rows):
                    for item_key, value in row.items():
                        item_pointer = f"{pointer}/{index}/{_escape(item_key)}"
                        sources[item_pointer] = locate(page, value, LAYOUT_CERTAINTY["item"])
                return rows
            return []
        value, certainty = leaf(key, node)
        sources[pointer] = locate(page, value, certainty)
        return value

    if isinstance(template, list):
        document: Any = fill(template, "", "")
    else:
        document = {key: fill(value, key, f"/{_escape(key)}") for key, value in template.items()}
    return Filled(document, sources)


def _escape(key: str) -> str:
    """A key as a JSON pointer's reference token (RFC 6901)."""
    return str(key).replace("~", "~0").replace("/", "~1")


def _leaves(node: Any, key: str = "") -> list[tuple[str, Any]]:
    """Every (key, description) of the template; a list's leaves take the key the list has."""
    if isinstance(node, dict):
        return [leaf for child_key, child in node.items() for leaf in _leaves(child, child_key)]
    if isinstance(node, list):
        return [leaf for child in node for leaf in _leaves(child, key)]
    return [(key, node)]

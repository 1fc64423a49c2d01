"""Fill a JSON template from OCR lines: labels, layout and value types, no language model.

Each leaf of the template is a field: its key and description say what it is (a date, an amount, a
company name, an address, an id, a phone number, or just a label to look for). A field is filled from
the page in this order: a label that names it (exact, fuzzy, or a synonym: "Inv No", "Invoice #",
"Bill No"), with the value to the right of the label or below it and of the field's type; then, for
typed fields, the value the page's layout implies (the company at the head of a receipt, the address
under it, the largest total). Lists of objects (`items: [{name, total}]`) are read from table rows.
Absent fields are null; values are returned as printed, trimmed. Nothing here is keyed to one dataset.

The parts, each on its own: `vocabulary` (word lists), `values` (value types), `fields` (what a field
is), `page` (rows and candidates), `labels` (a value by its label), `head` (company and address),
`totals`, `rows` (table items), `sources` (each value's box and confidence), and `fill` (the walk over the
template).
"""

from snapscribe.engines.filler.fill import Filled, fill_template, fill_template_with_sources

__all__ = ["Filled", "fill_template", "fill_template_with_sources"]

"""Fill a JSON template from OCR lines: labels, layout and value types, no language model.

Each leaf of the template is a field: its key and description say what it is (a date, an amount, a
company name, an address, an id, a phone number, or just a label to look for). A field is filled from
the page in this order: a label that names it (exact, fuzzy, or a synonym: "Inv No", "Invoice #",
"Bill No"), with the value to the right of the label or below it and of the field's type; then, for
typed fields, the value the page's layout implies (the company at the head of a receipt, the address
under it, the largest total). Lists of objects (`items: [{name, total}]`) are read from table rows.
Absent fields are null; values are returned as printed, trimmed. Nothing here is keyed to one dataset.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

from snapscribe.engines.layout import OcrLine, group_rows

# --- value types ----------------------------------------------------------------------------------
_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
DATE_PATTERNS = [
    re.compile(r"\b\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?!\d)"),
    # OCR often glues the time to the year (30-06-201822:16:06): a 4-digit year may touch a time.
    re.compile(r"(?<!\d)\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}(?=\d{1,2}:\d{2})|\d{4}(?!\d)|\d{2}(?!\d))"),
    re.compile(rf"\b\d{{1,2}}(?:st|nd|rd|th)?[\s-]*{_MONTHS}[\s,-]*\d{{2,4}}\b", re.IGNORECASE),
    re.compile(rf"\b{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{2,4}}\b", re.IGNORECASE),
]
AMOUNT = re.compile(
    r"(?<![\w.])-?(?:[$€£¥₹]|RM|USD|EUR|MYR|SGD)\d+[.,:]\d{2}(?!\d)"  # currency glued on: 5:00 is money too
    r"|(?<![\w.])-?\d{1,3}(?:,\d{3})+(?:\.\d{2})(?!\d)"
    r"|(?<![\w.:])-?\d+[.,]\d{2}(?![\d:])"
)
TIME = re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?\s*(?:[AaPp][Mm])?\b")
PHONE = re.compile(r"(?:\+?\d[\d\s().-]{6,}\d)")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9/#._-]*\d[A-Za-z0-9/#._-]*")

COMPANY_WORDS = frozenset(
    [
        "sdn",
        "bhd",
        "berhad",
        "ltd",
        "limited",
        "llc",
        "inc",
        "corp",
        "corporation",
        "co",
        "company",
        "enterprise",
        "enterprises",
        "trading",
        "restaurant",
        "restoran",
        "cafe",
        "café",
        "bakery",
        "hardware",
        "store",
        "stores",
        "mart",
        "market",
        "supermarket",
        "shop",
        "pharmacy",
        "clinic",
        "hospital",
        "medical",
        "centre",
        "center",
        "plt",
        "gmbh",
        "ag",
        "sa",
        "sarl",
        "bv",
        "pty",
        "holdings",
        "group",
        "industries",
        "services",
        "station",
        "s/b",
        "kedai",
        "perniagaan",
        "syarikat",
    ]
)
HEADER_NOISE = frozenset(
    [
        "tax",
        "invoice",
        "receipt",
        "simplified",
        "official",
        "cash",
        "bill",
        "copy",
        "customer",
        "welcome",
        "thank",
        "you",
        "tel",
        "fax",
        "gst",
        "reg",
        "no",
        "invoice",
        "page",
        "statement",
        "quotation",
        "delivery",
        "order",
        "sale",
        "sales",
        "credit",
        "debit",
        "original",
    ]
)
COMPANY_SUFFIX = re.compile(
    r"\b(sdn\.?\s*bhd|s/b|bhd|berhad|ltd|limited|llc|inc|plt|corp|co\.|gmbh|pty|enterprises?|trading|company)\b",
    re.IGNORECASE,
)
# Company registration numbers printed beside names and addresses: (524463-X), 002043319--W, (139386 X).
REGISTRATION_TOKEN = re.compile(r"\(?\b\d{5,}\s*-*\s*[A-Z]\b\)?|\(\s*\d{5,}\s*\)|\(?\b[A-Z]{2,4}\d{5,}-[A-Z]{1,4}\b\)?")
# "Co. No.", "Reg No", "Company No": a registration label left in front of an address line.
REGISTRATION_LABEL = re.compile(
    r"^\s*(co\.?\s*(reg|keg)?\.?\s*no\.?|reg\.?\s*no\.?|company\s*no\.?)\s*:?\s*", re.IGNORECASE
)
OWNER_PREFIX = re.compile(r"^\s*(owned|own|operated|managed|a member of)\b[^:]*:?\s*", re.IGNORECASE)
STREET = re.compile(
    r"\d+\s*[/-]\s*\d+|\d+\s*,|,|\b(no|lot|jalan|jln|road|rd|street|st|avenue|ave|lane|blvd|floor|fl|suite|unit|block|blk|"
    r"taman|tmn|batu|km|level|building|plaza|centre|center|mall)\b\.?",
    re.IGNORECASE,
)
ADDRESS_STOP = re.compile(
    r"\b(tel|telephone|phone|fax|h/p|hp|mobile|gst|sst|reg|co\.? ?reg|company no|email|e-mail|www|http|"
    r"tax ?invoice|invoice|receipt|cashier|date|table|bill|doc|gst id)",
    re.IGNORECASE,
)
REGISTRATION = re.compile(r"^\(?[A-Z]{0,3}\d{4,}[-\s]?[A-Z]?\)?$|^\(?\d{5,}-[A-Z]\)?$")

# Words in a key or description that say what kind of value a field holds.
KIND_WORDS: dict[str, frozenset[str]] = {
    "date": frozenset({"date", "dated", "day", "issued", "dob", "birth"}),
    "time": frozenset({"time"}),
    "amount": frozenset(
        {
            "total",
            "amount",
            "sum",
            "price",
            "subtotal",
            "tax",
            "gst",
            "vat",
            "sst",
            "balance",
            "due",
            "paid",
            "cash",
            "change",
            "fee",
            "fees",
            "cost",
            "charge",
            "charges",
            "payable",
            "discount",
            "rounding",
            "net",
        }
    ),
    "company": frozenset(
        {
            "company",
            "vendor",
            "seller",
            "merchant",
            "store",
            "shop",
            "supplier",
            "business",
            "issuer",
            "restaurant",
            "hospital",
            "clinic",
            "pharmacy",
            "payee",
            "organization",
            "organisation",
            "brand",
        }
    ),
    "address": frozenset({"address", "addr", "location"}),
    "phone": frozenset({"phone", "tel", "telephone", "mobile", "fax", "contact"}),
    "email": frozenset({"email", "mail"}),
    "identifier": frozenset({"no", "number", "num", "id", "code", "ref", "reference", "invoice_no", "#"}),
}

# Labels a page may print for common fields, by the words of the field's key (scene adds its own).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "invoice": (
        "invoice no",
        "invoice number",
        "invoice #",
        "inv no",
        "inv #",
        "bill no",
        "bill number",
        "receipt no",
        "receipt #",
        "receipt number",
        "doc no",
        "document no",
        "ref no",
        "tax invoice no",
    ),
    "receipt": ("receipt no", "receipt #", "receipt number", "bill no", "doc no", "transaction no", "trans no"),
    "total": (
        "grand total",
        "total amount",
        "amount due",
        "total due",
        "nett total",
        "net total",
        "total payable",
        "amount payable",
        "total incl",
        "total inclusive",
        "total sales inclusive",
        "rounded total",
        "total rm",
        "total",
        "balance due",
        "amount",
    ),
    "subtotal": ("sub total", "subtotal", "sub-total", "total excl", "total excluding", "total sales excluding"),
    "tax": ("gst", "vat", "sst", "tax", "total gst", "total tax", "service tax"),
    "date": ("date", "invoice date", "bill date", "receipt date", "dated", "issued"),
    "phone": ("tel", "phone", "telephone", "mobile", "h/p", "contact"),
    "cashier": ("cashier", "served by", "operator"),
    "table": ("table", "table no"),
    "customer": ("customer", "bill to", "sold to", "name"),
    "patient": ("patient", "patient name", "name"),
    "doctor": ("doctor", "physician", "dr", "attending"),
    "department": ("department", "dept", "ward", "clinic"),
    "diagnosis": ("diagnosis", "dx", "impression"),
}
# Each scene's own vocabulary, on top of SYNONYMS: the labels its documents print.
SCENE_SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "general": {
        "vendor": ("vendor", "seller", "supplier", "from"),
        "customer": ("bill to", "sold to", "customer", "client"),
        "due": ("due date", "payment due"),
    },
    "medical": {
        "name": ("patient name", "patient", "name"),
        "patient": ("patient name", "patient", "name"),
        "id": ("patient id", "mrn", "medical record no", "hospital no", "case no", "id no"),
        "doctor": ("doctor", "physician", "attending physician", "prescriber", "dr"),
        "date": ("visit date", "date of service", "admission date", "report date", "collection date", "date"),
        "diagnosis": ("diagnosis", "dx", "impression", "assessment"),
        "total": ("total charges", "total amount", "amount due", "patient payable", "grand total", "total"),
        "medication": ("medication", "drug", "rx", "medicine"),
        "dosage": ("dosage", "dose", "sig", "directions"),
        "department": ("department", "dept", "ward", "clinic"),
    },
}

# A total is the amount finally paid: these labels name other amounts.
NOT_TOTAL = re.compile(
    r"sub|excl|before|qty|quantity|items?\b|gst|tax|vat|sst|discount|saving|change|"
    r"cash|tender|paid|points|weight|unit|supplies",
    re.IGNORECASE,
)


def normalise(text: str) -> str:
    return re.sub(r"[^0-9a-z#]+", " ", text.lower()).strip()


def field_words(key: str, description: Any) -> list[str]:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", key).replace("_", " ").replace("-", " ")
    words = normalise(spaced).split()
    if isinstance(description, str):
        words += normalise(description).split()
    return words


KIND_ORDER = ("date", "time", "address", "company", "phone", "email", "amount", "identifier")
WEAK_IDENTIFIER_WORDS = frozenset({"no", "number", "num", "id", "code"})


def _kind_of_word(word: str) -> str | None:
    return next((kind for kind in KIND_ORDER if word in KIND_WORDS[kind]), None)


def field_kind(key: str, description: Any) -> str:
    """What a field holds, from its key's head noun first ("vendor_email" is an email, "shop_name" a company)."""
    key_words = field_words(key, None)
    if key_words:
        head = _kind_of_word(key_words[-1])
        if head and head != "identifier":
            return head
        for word in reversed(key_words[:-1]):
            kind = _kind_of_word(word)
            if kind in ("phone", "date", "email"):  # "phone number", "date id"
                return kind
        if head == "identifier":
            return head
        for word in reversed(key_words):
            kind = _kind_of_word(word)
            if kind:
                return kind
    for word in field_words("", description):  # the description breaks the tie
        kind = _kind_of_word(word)
        if kind:
            return kind
    return "text"


def label_variants(key: str, description: Any, scene: str = "general") -> list[str]:
    """Labels that may name this field on a page: the key, its description, and known synonyms."""
    variants = [" ".join(field_words(key, None))]
    if isinstance(description, str) and normalise(description):
        variants.append(normalise(description))
    key_words = set(field_words(key, None))
    scene_words = SCENE_SYNONYMS.get(scene, {})
    for word in key_words:
        variants.extend(scene_words.get(word, ()))
        variants.extend(SYNONYMS.get(word, ()))
    if {"invoice", "no"} <= key_words or {"invoice", "number"} <= key_words:
        variants.extend(SYNONYMS["invoice"])
    return [variant for variant in dict.fromkeys(normalise(v) for v in variants) if variant]


# --- finding values ------------------------------------------------------------------------------
class Page:
    """A page's rows (top to bottom, each left to right) and their texts, joined once."""

    def __init__(self, rows: list[list[OcrLine]]) -> None:
        self.rows = rows
        self.row_texts = [" ".join(line.text for line in row) for row in rows]


def _first(pattern: re.Pattern[str], text: str) -> str | None:
    found = pattern.search(text)
    return found.group(0).strip() if found else None


def _date(text: str) -> str | None:
    for pattern in DATE_PATTERNS:
        value = _first(pattern, text)
        if value:
            return value
    return None


def _amounts(text: str) -> list[str]:
    return [match.group(0).strip() for match in AMOUNT.finditer(text)]


def _amount_value(text: str) -> float:
    digits = re.sub(r"[^\d.,-]", "", text)
    if digits.count(",") and digits.count(".") == 0 and re.search(r",\d{2}$", digits):
        digits = digits.replace(",", ".")
    return float(digits.replace(",", "") or 0)


def coerce(kind: str, text: str) -> str | None:
    """The part of `text` that is a value of `kind` (as printed), or None."""
    text = text.strip().strip(":;#|").strip()
    if not text:
        return None
    if kind == "date":
        return _date(text)
    if kind == "time":
        return _first(TIME, text)
    if kind == "amount":
        amounts = _amounts(text)
        return amounts[-1] if amounts else None
    if kind == "phone":
        for match in PHONE.finditer(text):
            value = match.group(0).strip()
            if sum(char.isdigit() for char in value) >= 7 and not _date(value):
                return value
        return None
    if kind == "email":
        return _first(EMAIL, text)
    if kind == "identifier":
        return _first(IDENTIFIER, text)
    return text


def _raw_end(text: str, position: int, label: str) -> int:
    """The index in `text` where a label found at `position` of its normalised form ends."""
    wanted = len(normalise(text)[:position].replace(" ", "")) + len(label.replace(" ", ""))
    consumed = index = 0
    while index < len(text) and consumed < wanted:
        if text[index].isalnum() or text[index] == "#":
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


@dataclass(frozen=True)
class Candidate:
    value: str
    score: float
    row: int


NEXT_LABEL = re.compile(r"\s+(?=[A-Z][A-Za-z.'/() -]{1,40}:(?:\s|$))")


def _continuation(page: Page, row_index: int, x_start: float, labels: set[str]) -> list[str]:
    """Lines under a free-text value that carry it on: aligned with its start, no new label of their own."""
    parts: list[str] = []
    previous = page.rows[row_index]
    for row in page.rows[row_index + 1 : row_index + 12]:
        aligned = [line for line in row if abs(line.x0 - x_start) < line.height or line.x0 > x_start]
        if not aligned or row[0].x0 < x_start - row[0].height:
            break
        gap = aligned[0].y0 - max(line.y1 for line in previous)
        if gap > 1.2 * aligned[0].height:
            break
        text = " ".join(line.text for line in aligned)
        if re.match(r"^[^:]{1,40}:", text) or normalise(text) in labels:
            break
        parts.append(text)
        previous = row
    return parts


def labelled_candidates(
    page: Page, labels: Sequence[str], kind: str, known_labels: set[str] | None = None
) -> list[Candidate]:
    found: list[Candidate] = []
    for row_index, row in enumerate(page.rows):
        for line_index, line in enumerate(row):
            for rank, label in enumerate(labels):
                matched = _match_label(line.text, label)
                if matched is None:
                    continue
                end, quality = matched
                rest = line.text[end:]
                if kind == "text" and rest.strip() and not re.match(r"\s*[:#=.\-]", rest):
                    # A free-text label is a whole cell or is followed by a separator: "To:" or "To",
                    # never the first word of a sentence ("to have 100% ...").
                    continue
                quality -= 0.01 * rank  # earlier variants are the more specific ones
                value_at = end + len(rest) - len(rest.lstrip(" :#=.-|"))  # where the value itself begins
                options: list[tuple[str, float, float, int]] = [
                    (rest, 1.0, line.x0 + (line.x1 - line.x0) * value_at / max(1, len(line.text)), row_index),
                ]
                if line_index + 1 < len(row):
                    right = row[line_index + 1 :]
                    options.append((" ".join(item.text for item in right), 0.95, right[0].x0, row_index))
                if row_index + 1 < len(page.rows):
                    below = page.rows[row_index + 1]
                    near = [item for item in below if item.x0 < line.x1 + 3 * line.height] or below
                    options.append((" ".join(item.text for item in near), 0.8, near[0].x0, row_index + 1))
                for text, place, x_start, value_row in options:
                    if kind == "text":  # a value ends where the next "Label:" begins
                        text = NEXT_LABEL.split(text, maxsplit=1)[0]
                    value = coerce(kind, text)
                    if value and not (kind == "text" and normalise(value) in labels):
                        if kind == "text":
                            more = _continuation(page, value_row, x_start, known_labels or set())
                            value = " ".join([value, *more])
                        found.append(Candidate(value, quality * place, row_index))
                        break
                break  # one label per line: the first (most specific) that matched
    return found


def _clean_name(text: str) -> str:
    return " ".join(OWNER_PREFIX.sub("", REGISTRATION_TOKEN.sub(" ", text)).split()).strip(" -:|")


def _company_row(page: Page) -> int | None:
    """The row that names the business: near the top, mostly letters, ideally with a company suffix."""
    best: tuple[float, int] | None = None
    for index, raw in enumerate(page.row_texts[:12]):
        text = _clean_name(raw)
        words = normalise(text).split()
        letters = sum(char.isalpha() for char in text)
        if not words or letters < 4 or letters / max(1, len(text.replace(" ", ""))) < 0.6:
            continue
        if set(words) <= HEADER_NOISE or REGISTRATION.match(raw.strip()):
            continue
        if AMOUNT.search(raw):  # a line with a price is an item, not a name
            continue
        score = 1.0 - 0.1 * index  # the name heads the page: a legal form further down is the customer's
        if COMPANY_SUFFIX.search(text):  # a legal form names the company itself
            score += 0.6
        elif any(word in COMPANY_WORDS for word in words):  # "bistro", "cafe": often a tagline under the name
            score += 0.05
        if text.upper() == text:
            score += 0.1
        if ADDRESS_STOP.search(raw) or _date(raw) or STREET.search(text):
            score -= 0.8
        if best is None or score > best[0]:
            best = (score, index)
    # Below this, the best line is a label or a number: the page names no business.
    return best[1] if best and best[0] >= 0.5 else None


def _company(page: Page) -> str | None:
    index = _company_row(page)
    if index is None:
        return None
    raw = page.row_texts[index]
    name = _clean_name(raw)
    suffix = COMPANY_SUFFIX.search(name)
    # A name printed over two lines leaves a short second line ("STATIONERY SDN BHD"): join the line above
    # when it is in capitals and free of anything else.
    if index > 0 and suffix and len(name[: suffix.start()].split()) <= 1 and not OWNER_PREFIX.match(raw):
        above = page.row_texts[index - 1].strip()
        words = normalise(above).split()
        if (
            above.upper() == above
            and sum(char.isalpha() for char in above) >= 4
            and not set(words) <= HEADER_NOISE
            and not re.search(r"\d", above)
            and not ADDRESS_STOP.search(above)
        ):
            name = f"{above} {name}"
    return name


def _address(page: Page) -> str | None:
    """The lines under the business name, from the first that looks like a street to a phone/tax line."""
    texts = page.row_texts
    company_row = _company_row(page)
    start = company_row + 1 if company_row is not None else 0
    parts: list[str] = []
    for raw in texts[start : start + 10]:
        text = REGISTRATION_LABEL.sub("", " ".join(REGISTRATION_TOKEN.sub(" ", raw).split()))
        if not parts:
            # Before the address: registration and tax numbers, a branch name, a slogan.
            if not text or ADDRESS_STOP.search(text) or REGISTRATION.match(text.replace(" ", "")):
                continue
            if not STREET.search(text):
                continue
        elif _date(text) or PHONE.fullmatch(text) or not text:
            break
        stop = ADDRESS_STOP.search(text)
        if stop:  # the address may run into a phone number or "TAX INVOICE" on the same line
            if (stop.start() > 0 and parts) or stop.start() > 0:
                parts.append(text[: stop.start()].strip(" ,;|"))
            break
        parts.append(text)
    return " ".join(parts) if parts else None


STRONG_TOTAL = re.compile(
    r"payable|grand|nett|net\b|amount due|total due|balance due|round|incl|inclusive", re.IGNORECASE
)


def _total(page: Page) -> str | None:
    """The amount finally paid: the amount right after a total's label, the strongest label winning."""
    totals: list[tuple[int, float, str]] = []
    subtotals: list[tuple[int, float, str]] = []
    for row in page.rows:
        text = " ".join(line.text for line in row)
        position = 0
        for match in AMOUNT.finditer(text):
            label = text[position : match.start()]
            position = match.end()
            plain = normalise(label)
            if not re.search(r"total|payable|amount due|due\b", plain):
                continue
            value = match.group(0).strip().lstrip("-").strip()
            if re.search(r"sub", plain):
                subtotals.append((1, _amount_value(value), value))
                continue
            if NOT_TOTAL.search(label) and not STRONG_TOTAL.search(label):
                continue
            totals.append((2 if STRONG_TOTAL.search(label) else 1, _amount_value(value), value))
    chosen = max(totals or subtotals, default=None)
    return chosen[2] if chosen else None


QUANTITY = re.compile(r"\bx\s?(\d{1,3})\b|\b(\d{1,3})\s?(?:x|pcs?|units?)\b", re.IGNORECASE)
LONE_INTEGER = re.compile(r"(?<![\w.,])(\d{1,3})(?![\w.,])")


def _items(page: Page, item_template: dict[str, Any]) -> list[dict[str, Any]]:
    """Table rows: text cells, then number cells ending in an amount; not the totals under the table."""
    rows: list[dict[str, Any]] = []
    kinds = {key: field_kind(key, description) for key, description in item_template.items()}
    for row in page.rows:
        text = " ".join(line.text for line in row)
        amounts = _amounts(text)
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


# --- the template -----------------------------------------------------------------------------------


def fill_template(template: Any, lines: Sequence[OcrLine], scene: str = "general") -> Any:
    """The template's shape, each field filled from the page or null."""
    page = Page(group_rows(lines))
    company_cache: dict[str, str | None] = {}
    known_labels = set()
    for key_name, description in _leaves(template):
        known_labels.update(label_variants(key_name, description, scene))

    def company() -> str | None:
        if "value" not in company_cache:
            company_cache["value"] = _company(page)
        return company_cache["value"]

    def leaf(key: str, description: Any) -> Any:
        kind = field_kind(key, description)
        labels = label_variants(key, description, scene)
        if (
            kind == "amount"
            and "total" in field_words(key, None)
            and not set(field_words(key, None)) & {"sub", "subtotal", "tax", "gst", "vat"}
        ):
            return _total(page) or _best(labelled_candidates(page, labels, kind))
        found = _best(labelled_candidates(page, labels, kind, known_labels))
        if found is not None:
            return found
        if kind == "company":
            return company()
        if kind == "address":
            return _address(page)
        if kind == "date":
            return next((value for text in page.row_texts if (value := _date(text))), None)
        if kind in ("phone", "email", "time"):
            return next((value for text in page.row_texts if (value := coerce(kind, text))), None)
        return None

    def fill(node: Any, key: str) -> Any:
        if isinstance(node, dict):
            return {child_key: fill(child, child_key) for child_key, child in node.items()}
        if isinstance(node, list):
            if node and isinstance(node[0], dict):
                return _items(page, node[0])
            return []
        return leaf(key, node)

    if isinstance(template, list):
        return _items(page, template[0]) if template and isinstance(template[0], dict) else []
    return {key: fill(value, key) for key, value in template.items()}


def _leaves(node: Any, key: str = "") -> list[tuple[str, Any]]:
    if isinstance(node, dict):
        return [leaf for child_key, child in node.items() for leaf in _leaves(child, child_key)]
    if isinstance(node, list):
        return [leaf for child in node for leaf in _leaves(child, key)]
    return [(key, node)]


def _best(candidates: list[Candidate]) -> str | None:
    if not candidates:
        return None
    return max(candidates, key=lambda candidate: (candidate.score, -candidate.row)).value

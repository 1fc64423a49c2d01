"""Word lists the filler reads pages and templates with: data only, no logic.

Words are lower case, as `fields.normalise` leaves them.
"""

from __future__ import annotations

# Words in a business's name that say it is one ("Sdn Bhd", "Cafe", "Kedai").
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
        "kedai",
        "perniagaan",
        "syarikat",
    ]
)
# Words of the headings at the top of a page: a line made of these alone names no business.
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
    "identifier": frozenset({"no", "number", "num", "id", "code", "ref", "reference", "#"}),
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


def _with_world_labels() -> None:
    """The same fields' labels in the other scripts the local engine reads (vocabulary_world.py)."""
    from snapscribe.engines.filler.vocabulary_world import WORLD_SYNONYMS

    for word, labels in WORLD_SYNONYMS.items():
        SYNONYMS[word] = SYNONYMS[word] + tuple(label for label in labels if label not in SYNONYMS[word])


_with_world_labels()

# Languages (ISO 639-1) written in Latin letters with accents: on their pages an accented letter is the word's own.
ACCENTED_LANGUAGES = frozenset(
    [
        "de",
        "fr",
        "es",
        "pt",
        "it",
        "nl",
        "ca",
        "pl",
        "cs",
        "sk",
        "hu",
        "ro",
        "tr",
        "vi",
        "sv",
        "da",
        "no",
        "fi",
        "et",
        "lv",
        "lt",
        "hr",
        "sl",
        "sq",
        "is",
        "ga",
        "cy",
        "eu",
        "gl",
        "af",
        "sw",
    ]
)

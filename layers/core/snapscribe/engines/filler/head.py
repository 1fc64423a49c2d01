"""The head of a page: the business that issued it, and its address under the name.

Used when no label names the field: a receipt prints its issuer at the top without a "Company:" label.
"""

from __future__ import annotations

import re

from snapscribe.engines.filler.fields import normalise
from snapscribe.engines.filler.page import Page
from snapscribe.engines.filler.values import AMOUNT, PHONE, find_date
from snapscribe.engines.filler.vocabulary import COMPANY_WORDS, HEADER_NOISE

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
# A whole line that is a registration number.
REGISTRATION = re.compile(r"^\(?[A-Z]{0,3}\d{4,}[-\s]?[A-Z]?\)?$|^\(?\d{5,}-[A-Z]\)?$")
# "Owned by: ...", "A member of ...": the operator in front of a name.
OWNER_PREFIX = re.compile(r"^\s*(owned|own|operated|managed|a member of)\b[^:]*:?\s*", re.IGNORECASE)
# What an address line has: numbers with separators, commas, street words.
STREET = re.compile(
    r"\d+\s*[/-]\s*\d+|\d+\s*,|,|\b(no|lot|jalan|jln|road|rd|street|st|avenue|ave|lane|blvd|floor|fl|suite|unit|block|blk|"
    r"taman|tmn|batu|km|level|building|plaza|centre|center|mall)\b\.?",
    re.IGNORECASE,
)
# What follows an address: contact and tax lines, the document's own heading.
ADDRESS_STOP = re.compile(
    r"\b(tel|telephone|phone|fax|h/p|hp|mobile|gst|sst|reg|co\.? ?reg|company no|email|e-mail|www|http|"
    r"tax ?invoice|invoice|receipt|cashier|date|table|bill|doc|gst id)",
    re.IGNORECASE,
)


def _clean_name(text: str) -> str:
    return " ".join(OWNER_PREFIX.sub("", REGISTRATION_TOKEN.sub(" ", text)).split()).strip(" -:|")


def company_row(page: Page) -> int | None:
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
        if ADDRESS_STOP.search(raw) or find_date(raw) or STREET.search(text):
            score -= 0.8
        if best is None or score > best[0]:
            best = (score, index)
    # Below this, the best line is a label or a number: the page names no business.
    return best[1] if best and best[0] >= 0.5 else None


def company(page: Page) -> str | None:
    """The business's name as printed, without its registration number."""
    index = company_row(page)
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


def address(page: Page) -> str | None:
    """The lines under the business name, from the first that looks like a street to a phone/tax line."""
    texts = page.row_texts
    name_row = company_row(page)
    start = name_row + 1 if name_row is not None else 0
    parts: list[str] = []
    for raw in texts[start : start + 10]:
        text = REGISTRATION_LABEL.sub("", " ".join(REGISTRATION_TOKEN.sub(" ", raw).split()))
        if not parts:
            # Before the address: registration and tax numbers, a branch name, a slogan.
            if not text or ADDRESS_STOP.search(text) or REGISTRATION.match(text.replace(" ", "")):
                continue
            if not STREET.search(text):
                continue
        elif find_date(text) or PHONE.fullmatch(text) or not text:
            break
        stop = ADDRESS_STOP.search(text)
        if stop:  # the address may run into a phone number or "TAX INVOICE" on the same line
            if stop.start() > 0:
                parts.append(text[: stop.start()].strip(" ,;|"))
            break
        parts.append(text)
    return " ".join(parts) if parts else None

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
    r"\b(sdn\.?\s*bhd|[s5]\s*/\s*[b8]|bhd|berhad|ltd|limited|llc|inc|plt|corp|co\.|gmbh|pty|enterprises?|trading|company)\b",
    re.IGNORECASE,
)
# "Sendirian Berhad" abbreviated S/B, which OCR reads as 5/B or 5/8.
SB_CONFUSED = re.compile(r"(?<=\s)5\s*/\s*[B8](?=\s|$|\))")
# Closing lines that sometimes head a receipt (its top torn off or printed first): never the business's name.
GREETING = re.compile(r"\b(thank|thanks|tq|visit|again|welcome|shopping with|please|goods sold)\b", re.IGNORECASE)
# A registration opened and cut off at the end of a name: "Dion Realties Sdn Bhd (Co. No".
CUT_REGISTRATION = re.compile(r"\s*\((?:co|reg|gst|no)\b[^)]*$", re.IGNORECASE)
# A digit inside a word of letters is a letter OCR misread: D.1.Y. is D.I.Y.
DIGIT_AS_LETTER = {"0": "O", "1": "I", "5": "S", "8": "B"}
# Company registration numbers printed beside names and addresses: (524463-X), 002043319--W, (139386 X).
# A postcode glued to its town (47800P.Jaya) is none: the letter needs a dash or brackets.
REGISTRATION_TOKEN = re.compile(
    r"\(?\b\d{5,}\s*-+\s*[A-Z]\b\)?|\(\s*\d{5,}\s*-*\s*[A-Z]?\s*\)|\(?\b[A-Z]{2,4}\d{5,}-[A-Z]{1,4}\b\)?"
)
# "Co. No.", "Reg No", "Company No": a registration label left in front of an address line.
REGISTRATION_LABEL = re.compile(
    r"^\s*\(?\s*(co\.?\s*(reg|keg)?\.?\s*no\.?|reg\.?\s*no\.?|company\s*no\.?)\s*:?\s*\(?\s*", re.IGNORECASE
)
# A whole line that is a registration number.
# A line wholly in brackets under the name that is no registration number: the branch, "(JALAN KLANG LAMA)".
BRANCH = re.compile(r"^\((?!.*\d{4})[^()]*[A-Za-z]{3,}[^()]*\)$")
REGISTRATION = re.compile(r"^\(?[A-Z]{0,3}\d{4,}[-\s]?[A-Z]?\)?$|^\(?\d{5,}-[A-Z]\)?$")
# "Owned by: ...", "A member of ...": the operator in front of a name.
OWNER_PREFIX = re.compile(r"^\s*(owned|own|operated|managed|a member of)\b[^:]*:?\s*", re.IGNORECASE)
# What an address line has: numbers with separators, commas, street words.
STREET = re.compile(
    r"\d+\s*[/-]\s*\d+|\d+\s*,|,|\b(no|lot|jalan|jln|road|rd|street|st|avenue|ave|lane|blvd|floor|fl|suite|unit|block|blk|"
    r"taman|tmn|batu|km|level|building|plaza|centre|center|mall|lrg|lorong|kg|kampung|lebuh|persiaran|"
    r"seksyen|section|kawasan)\b\.?",
    re.IGNORECASE,
)
# What follows an address: contact and tax lines, the document's own heading.
ADDRESS_STOP = re.compile(
    r"\b(tel|[t1]e[l1i]|telephone|phone|fax|h/p|hp|mobile|gst|sst|reg|co\.? ?reg|company\b|email|e-mail|www|http|"
    r"tax ?invoice|invoice|inv\b|receipt|cashier|date|table|bill|doc|gst id|site\b|outlet\b|hotline)"
    r"|careline|\S+@\S+",  # "myNEWScareline": a brand glued to it
    re.IGNORECASE,
)
# A line of a phone number or two: digits, spaces, dashes, slashes, brackets.
PHONE_LINE = re.compile(r"[+\d\s()/-]{7,}")


def _clean_name(text: str) -> str:
    text = CUT_REGISTRATION.sub("", OWNER_PREFIX.sub("", REGISTRATION_TOKEN.sub(" ", text)))
    return " ".join(text.split()).strip(" -:|")


def _repair(name: str) -> str:
    """OCR's usual confusions inside a name: 5/B for S/B, a digit between letters (D.1.Y.), a capital I inside a
    lower-case word (WorId)."""
    name = SB_CONFUSED.sub("S/B", name)
    words = []
    for word in name.split(" "):
        letters, digits = sum(char.isalpha() for char in word), sum(char.isdigit() for char in word)
        if digits and letters > digits:
            word = "".join(
                DIGIT_AS_LETTER.get(char, char)
                if 0 < index < len(word) - 1 and not word[index - 1].isdigit() and not word[index + 1].isdigit()
                else char
                for index, char in enumerate(word)
            )
        words.append(re.sub(r"(?<=[a-z])I(?=[a-z])", "l", word))
    return " ".join(words)


def _as_letters(text: str) -> str:
    """The text with digits inside words of letters read as the letters they resemble (G5T is GST, Te1 is Tel),
    same length: where a label word is found in it is where it is in the text."""
    return re.sub(
        r"\b[A-Za-z]+[0158][A-Za-z0158]*\b",
        lambda word: "".join(DIGIT_AS_LETTER.get(char, char) for char in word.group(0)),
        text,
    )


# Street abbreviations with OCR's l/I/1 confusion: BIk is Blk, J1n is Jln.
ABBREVIATION_CONFUSED = re.compile(r"\b(J[I1]n|B[I1]k|F[I1]r)\b")


def _carries_phone(text: str) -> bool:
    """A phone number of eight digits or more: a contact line ("careline : 1800 88 1231"), not the address."""
    return any(sum(char.isdigit() for char in match.group(0)) >= 8 for match in PHONE.finditer(text))


# A letter O closing a run of digits is a zero: postcode 4115O is 41150.
LETTER_O_IN_NUMBER = re.compile(r"(?<=\d\d)[Oo](?=\d|\b)")


def _row_below(page: Page, index: int) -> str:
    """The text of the row under row `index`, stripped ("" under the last)."""
    return page.row_texts[index + 1].strip() if index + 1 < len(page.row_texts) else ""


def _is_registration(raw: str) -> bool:
    """A row that is a company registration number, bare or labelled: (1365663-P), Co. No. 113825-W."""
    text = raw.strip()
    return bool(REGISTRATION.match(text.replace(" ", ""))) or bool(
        REGISTRATION_LABEL.match(text) and REGISTRATION_TOKEN.search(text)
    )


def company_row(page: Page) -> int | None:
    """The row that names the business: near the top, mostly letters, ideally with a company suffix."""
    best: tuple[float, int] | None = None
    for index, raw in enumerate(page.row_texts[:12]):
        text = _clean_name(raw)
        words = normalise(text).split()
        letters = sum(char.isalpha() for char in text)
        if not words or letters < 4 or letters / max(1, len(text.replace(" ", ""))) < 0.6:
            continue
        if not re.search(r"[^\W\d_]{3}", text):  # a name has a word of three letters: "2-UU U:UU" is a misread time
            continue
        if set(words) <= HEADER_NOISE or REGISTRATION.match(raw.strip()) or GREETING.search(raw):
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
        if _is_registration(_row_below(page, index)):
            score += 0.4  # a business prints its registration number right under its name
        if ADDRESS_STOP.search(raw) or find_date(raw) or STREET.search(text):
            score -= 0.8
        if best is None or score > best[0]:
            best = (score, index)
    # Below this, the best line is a label or a number: the page names no business.
    return best[1] if best and best[0] >= 0.5 else None


# How surely the head names the business: a legal form in the name or its registration number under it, or
# neither (the top line that reads most like a name).
NAMED_FOR_SURE, NAMED_BY_PLACE = 0.85, 0.6


def company_certainty(page: Page, name: str | None) -> float:
    index = company_row(page)
    if name is None or index is None:
        return 0.0
    named_for_sure = COMPANY_SUFFIX.search(name) or _is_registration(_row_below(page, index))
    return NAMED_FOR_SURE if named_for_sure else NAMED_BY_PLACE


def company(page: Page) -> str | None:
    """The business's name as printed, without its registration number."""
    index = company_row(page)
    if index is None:
        return None
    raw = page.row_texts[index]
    name = _clean_name(raw)
    suffix = COMPANY_SUFFIX.search(name)
    # A name printed over two lines leaves a short second line ("STATIONERY SDN BHD", "CO. (M) SDN BHD"), or
    # a second line right above the registration number ("JIAWEI HOUSE"): join the line above when it is in
    # capitals and free of anything else.
    before_suffix = (
        [word for word in name[: suffix.start()].split() if not re.fullmatch(r"co\.?|\(\w\)", word, re.I)]
        if suffix
        else []
    )
    above_registration = _is_registration(_row_below(page, index))
    if index > 0 and (len(before_suffix) <= 1 if suffix else above_registration) and not OWNER_PREFIX.match(raw):
        above = page.row_texts[index - 1].strip()
        words = normalise(above).split()
        if (
            above.upper() == above
            and sum(char.isalpha() for char in above) >= 4
            and not set(words) <= HEADER_NOISE
            and not re.search(r"\d", above)
            and not ADDRESS_STOP.search(above)
            and not GREETING.search(above)
            and (suffix or len(words) <= 4)
        ):
            name = f"{above} {name}"
    below = _row_below(page, index)
    if BRANCH.match(below) and not _is_registration(below) and not ADDRESS_STOP.search(below):
        name = f"{name} {below}"
    return _repair(name)


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
            if not text or ADDRESS_STOP.search(_as_letters(text)) or REGISTRATION.match(text.replace(" ", "")):
                continue
            if BRANCH.match(text):  # the branch's name, part of the business's name
                continue
            if not STREET.search(text):
                continue
        elif find_date(text) or PHONE_LINE.fullmatch(text) or not text:
            break
        stop = ADDRESS_STOP.search(_as_letters(text))
        if stop:  # the address may run into a phone number or "TAX INVOICE" on the same line
            cut = stop.start()
            while cut > 0 and text[cut - 1].isalnum():  # "myNEWScareline": the whole word goes
                cut -= 1
            if cut > 0:
                parts.append(text[:cut].strip(" ,;|("))
            break
        if parts and _carries_phone(text):  # a contact line whose label OCR garbled
            break
        parts.append(text)
    if not parts:
        return None
    text = ABBREVIATION_CONFUSED.sub(lambda word: word.group(0)[0] + "l" + word.group(0)[2], " ".join(parts))
    return LETTER_O_IN_NUMBER.sub("0", text).rstrip(" (")

"""Value types as printed: dates, amounts, times, phone numbers, e-mails and identifiers.

`coerce` keeps the part of a text that is a value of the wanted kind, exactly as the page prints it.
"""

from __future__ import annotations

import re
import unicodedata

_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
DATE_PATTERNS = [
    re.compile(r"\b\d{4}([-/.])\d{1,2}\1\d{1,2}(?!\d)"),
    # OCR often glues the time to the year (30-06-201822:16:06): a 4-digit year may touch a time. One separator
    # throughout: 19-18/03 is no date.
    re.compile(r"(?<!\d)\d{1,2}([-/.])\d{1,2}\1(?:\d{4}(?=\d{1,2}:\d{2})|\d{4}(?!\d)|\d{2}(?!\d))"),
    re.compile(rf"\b\d{{1,2}}(?:st|nd|rd|th)?[\s/.-]*{_MONTHS}[\s,/.-]*\d{{2,4}}\b", re.IGNORECASE),
    re.compile(rf"\b{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{2,4}}\b", re.IGNORECASE),
]
# `\d` is any script's digit (Persian, Arabic-Indic, Devanagari, ...); U+066B and U+066C are the Arabic decimal
# and thousands marks.
AMOUNT = re.compile(
    r"(?<![\w.])-?(?:[$€£¥₹₩₽₪฿]|RM|USD|EUR|MYR|SGD)\d+[.,:٫]\d{2}(?!\d)"  # currency glued on: 5:00 is money too
    r"|(?<![\w.])-?\d{1,3}(?:[,٬]\d{3})+(?:[.٫]\d{2})(?!\d)"
    r"|(?<![\w.:])-?\d+[.,٫]\d{2}(?![\d:])"
)
TIME = re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?\s*(?:[AaPp][Mm])?\b")
PHONE = re.compile(r"(?:\+?\d[\d\s().-]{6,}\d)")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
IDENTIFIER = re.compile(r"[A-Za-z\d][A-Za-z\d/#._-]*\d[A-Za-z\d/#._-]*")  # any script's digits


def _first(pattern: re.Pattern[str], text: str) -> str | None:
    found = pattern.search(text)
    return found.group(0).strip() if found else None


def _possible(value: str) -> bool:
    """A numeric date whose day and month can be read one way or the other: 21-41-71 is a code, not a date."""
    numbers = [int(part) for part in re.findall(r"\d+", ascii_number(value))]
    if len(numbers) != 3:
        return True  # a month name
    if numbers[0] > 31:  # year first
        numbers = [numbers[2], numbers[1], numbers[0]]
    day_month = 1 <= numbers[0] <= 31 and 1 <= numbers[1] <= 12
    month_day = 1 <= numbers[1] <= 31 and 1 <= numbers[0] <= 12
    return day_month or month_day


def find_date(text: str) -> str | None:
    """The first date in `text`, trying the patterns in order (numeric forms before month names)."""
    for pattern in DATE_PATTERNS:
        for match in pattern.finditer(text):
            value = match.group(0).strip()
            if _possible(value):
                return value
    return None


def find_amounts(text: str) -> list[str]:
    return [match.group(0).strip() for match in AMOUNT.finditer(text)]


def ascii_number(text: str) -> str:
    """Any script's digits as 0-9, the Arabic decimal and thousands marks as '.' and ','."""
    return "".join(
        str(unicodedata.digit(char)) if char.isdigit() else {"٫": ".", "٬": ","}.get(char, char) for char in text
    )


def amount_value(text: str) -> float:
    """The number an amount stands for, to compare amounts: "1,250.00" is 1250, "12,50" is 12.5, and the same
    in Arabic-Indic digits with the Arabic decimal mark."""
    digits = re.sub(r"[^\d.,-]", "", ascii_number(text))
    if digits.count(",") and digits.count(".") == 0 and re.search(r",\d{2}$", digits):
        digits = digits.replace(",", ".")
    return float(digits.replace(",", "") or 0)


def coerce(kind: str, text: str) -> str | None:
    """The part of `text` that is a value of `kind` (as printed), or None."""
    text = text.strip().strip(":;#|").strip()
    if not text:
        return None
    if kind == "date":
        return find_date(text)
    if kind == "time":
        return _first(TIME, text)
    if kind == "amount":
        amounts = find_amounts(text)
        return amounts[-1] if amounts else None  # the last amount on a line is the line's own
    if kind == "phone":
        for match in PHONE.finditer(text):
            value = match.group(0).strip()
            # A date is digits and separators too: 2026-11-21 is no phone number.
            if sum(char.isdigit() for char in value) >= 7 and not find_date(value):
                return value
        return None
    if kind == "email":
        return _first(EMAIL, text)
    if kind == "identifier":
        return _first(IDENTIFIER, text)
    return text

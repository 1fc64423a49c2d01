"""What a template field is: its words, the kind of value it holds, and the labels that may name it.

A field is a key and a description (`"invoice_no": "Invoice Number"`); both are read as words.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from snapscribe.engines.filler.vocabulary import KIND_WORDS, SCENE_SYNONYMS, SYNONYMS

# The order kinds are tried in for a word; the lists share no word today, so it decides only if they come to.
KIND_ORDER = ("date", "time", "address", "company", "phone", "email", "amount", "identifier")


def is_word_char(char: str) -> bool:
    """A letter, digit or mark of any script (a Devanagari vowel sign is part of its word), or '#'."""
    return char == "#" or unicodedata.category(char)[0] in "LNM"


def normalise(text: str) -> str:
    """Lower case words (of any script) and '#', single-spaced: the form labels and field words are compared
    in."""
    return " ".join("".join(char if is_word_char(char) else " " for char in text.lower()).split())


def field_words(key: str, description: Any) -> list[str]:
    """The words of a key (snake_case, camelCase or kebab-case) and then of its description, if text."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", key).replace("_", " ").replace("-", " ")
    words = normalise(spaced).split()
    if isinstance(description, str):
        words += normalise(description).split()
    return words


def _kind_of_word(word: str) -> str | None:
    return next((kind for kind in KIND_ORDER if word in KIND_WORDS[kind]), None)


def field_kind(key: str, description: Any) -> str:
    """What a field holds, from its key's head noun first ("vendor_email" is an email, "shop_name" a company)."""
    key_words = field_words(key, None)
    if {"date", "time"} <= set(key_words):
        return "text"  # "Arrival date and time": both, as printed
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
    # "invoice_no" has no synonyms of its own ("no" is too common a word): the pair has.
    if {"invoice", "no"} <= key_words or {"invoice", "number"} <= key_words:
        variants.extend(SYNONYMS["invoice"])
    return [variant for variant in dict.fromkeys(normalise(v) for v in variants) if variant]

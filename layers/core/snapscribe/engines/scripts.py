"""Data for reading many scripts: which scripts the local engine reads with which reader, the Unicode ranges
that tell a script from its letters, and the Tesseract model of each language; and what a text's letters tell by
them alone (its script, a language only one letter of it writes). The reading itself lives in multiscript.py;
language.py asks the letters here to keep its detector to the languages a script is read in."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Script:
    name: str  # ISO 15924
    ranges: tuple[tuple[int, int], ...]  # the script's own letters
    languages: tuple[str, ...]  # ISO 639-1, the first is the one assumed when the text cannot tell
    right_to_left: bool = False


# Read by Tesseract (tessdata_fast models from Debian, see requirements/tessdata.txt); Latin, Chinese and
# Japanese stay with RapidOCR, which reads them better and faster.
TESSERACT_SCRIPTS: tuple[Script, ...] = (
    Script("Arab", ((0x0600, 0x06FF), (0x0750, 0x077F), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)), ("ar", "fa", "ur"), True),
    Script("Cyrl", ((0x0400, 0x04FF), (0x0500, 0x052F)), ("ru", "uk", "sr", "bg")),
    Script("Deva", ((0x0900, 0x097F),), ("hi", "mr", "ne")),
    Script("Hang", ((0xAC00, 0xD7AF), (0x1100, 0x11FF), (0x3130, 0x318F)), ("ko",)),
    Script("Grek", ((0x0370, 0x03FF), (0x1F00, 0x1FFF)), ("el",)),
    Script("Thai", ((0x0E00, 0x0E7F),), ("th",)),
    Script("Hebr", ((0x0590, 0x05FF), (0xFB1D, 0xFB4F)), ("he",), True),
    Script("Taml", ((0x0B80, 0x0BFF),), ("ta",)),
    Script("Telu", ((0x0C00, 0x0C7F),), ("te",)),
)
SCRIPTS_BY_NAME = {script.name: script for script in TESSERACT_SCRIPTS}

# The Tesseract model of each language this deployment reads with Tesseract (file <model>.traineddata).
TESSERACT_MODELS: dict[str, str] = {
    "ar": "ara",
    "fa": "fas",
    "ur": "urd",
    "ru": "rus",
    "uk": "ukr",
    "sr": "srp",
    "bg": "bul",
    "hi": "hin",
    "mr": "mar",
    "ne": "nep",
    "ko": "kor",
    "el": "ell",
    "th": "tha",
    "he": "heb",
    "ta": "tam",
    "te": "tel",
}
SCRIPT_OF_LANGUAGE: dict[str, str] = {
    language: script.name for script in TESSERACT_SCRIPTS for language in script.languages
}

# Languages RapidOCR reads (its Latin and Chinese/Japanese models): a hint naming one keeps RapidOCR alone.
RAPIDOCR_LANGUAGES = frozenset(
    {
        "en", "de", "fr", "es", "it", "pt", "nl", "la", "ca", "da", "no", "nb", "nn", "sv", "fi", "is", "et",
        "lv", "lt", "pl", "cs", "sk", "sl", "hr", "bs", "hu", "ro", "sq", "tr", "az", "id", "ms", "tl", "vi",
        "sw", "af", "ga", "cy", "eu", "gl", "mt", "eo", "zh", "ja",
    }
)  # fmt: skip

# Letters only one language of a script uses: the text then tells the language whatever a detector says.
LANGUAGE_LETTERS: dict[str, str] = {
    "ur": "ٹڈڑںےۓ",  # Urdu retroflexes, noon ghunna, bari ye
    "fa": "پچژگ",  # Persian letters Arabic does not have
    "uk": "іїєґ",
    "sr": "ђћџјљњ",  # of the Cyrillic languages read here, only Serbian writes these
    "mk": "ѓќѕ",  # Macedonian: not read as a language of its own here
}


def own_share(text: str, script: Script) -> float:
    """The share of the text's letters that are the script's own."""
    letters = [char for char in text if char.isalpha()]
    if not letters:
        return 0.0
    own = sum(any(low <= ord(char) <= high for low, high in script.ranges) for char in letters)
    return own / len(letters)


def text_script(text: str) -> Script | None:
    """The Tesseract-read script most of the text's letters are in, if any."""
    best = max(TESSERACT_SCRIPTS, key=lambda script: own_share(text, script))
    return best if own_share(text, best) >= 0.5 else None


def language_from_letters(text: str, script: Script) -> str | None:
    """A language of the script that only it writes with letters the text has (Persian پ, Ukrainian ї, ...)."""
    for language, letters in LANGUAGE_LETTERS.items():
        if language in script.languages and any(char in letters for char in text):
            return language
    return None

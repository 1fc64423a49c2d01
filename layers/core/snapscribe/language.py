"""Which language a text is in (ISO 639-1), offline, with langdetect, kept to what the text's letters allow.

Chosen on ../shared/eval/textlines (72 single-language items): 0.90 on the ground truth and 0.88 on the
local engine's own output for the scripts it reads; lingua scored the same at 96 MB and 5 s to load,
py3langid lower (0.86 / 0.80). langdetect is random unless seeded, so it is seeded: same text, same answer.

The scripts told apart here by their letters, and the languages each is read in, are data of this module: the
local engine reads them with Tesseract (engines/scripts.py: a model per language; engines/multiscript.py).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache
from typing import Any

UNDETERMINED = "und"  # ISO 639-2 for "undetermined": no letters to judge by
_lock = threading.Lock()


@dataclass(frozen=True)
class Script:
    name: str  # ISO 15924
    ranges: tuple[tuple[int, int], ...]  # the script's own letters
    languages: tuple[str, ...]  # ISO 639-1, the first is the one assumed when the text cannot tell
    right_to_left: bool = False


# The scripts other than Latin, Chinese and Japanese (which RapidOCR reads), each with the languages it is read in.
SCRIPTS: tuple[Script, ...] = (
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
    """The script of SCRIPTS most of the text's letters are in, if any."""
    best = max(SCRIPTS, key=lambda script: own_share(text, script))
    return best if own_share(text, best) >= 0.5 else None


def language_from_letters(text: str, script: Script) -> str | None:
    """A language of the script that only it writes with letters the text has (Persian پ, Ukrainian ї, ...)."""
    for language, letters in LANGUAGE_LETTERS.items():
        if language in script.languages and any(char in letters for char in text):
            return language
    return None


@cache
def _detector_factory() -> Any:
    """langdetect's language profiles, loaded once per process into a factory of our own."""
    from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    factory.set_seed(0)
    return factory


def detect_language(text: str) -> str:
    """The text's language as an ISO 639-1 code (`zh` for Chinese), or `und` when it cannot be told."""
    if sum(char.isalpha() for char in text) < 3:
        return UNDETERMINED
    from langdetect.lang_detect_exception import LangDetectException

    factory = _detector_factory()
    with _lock:  # the detector's seeded random state is shared
        try:
            detector = factory.create()
            detector.append(text[:5000])
            code = str(detector.detect())
        except LangDetectException:
            return UNDETERMINED
    code = code.split("-", 1)[0] if code != "unknown" else UNDETERMINED
    return within_script(text, code)


def within_script(text: str, code: str) -> str:
    """The detector's answer kept to the languages the text's script is read in here: a letter only one of
    them writes decides (Persian پ, Ukrainian ї, Serbian ћ); an answer outside them (Macedonian for Serbian
    Cyrillic, which langdetect does not know) becomes the script's first language of those it could be."""
    script = text_script(text)
    if script is None:
        return code
    by_letters = language_from_letters(text, script)
    if by_letters is not None:
        return by_letters
    if code in script.languages:
        return code
    if code == "mk" and "sr" in script.languages:
        return "sr"  # Serbian Cyrillic without its own letters reads as Macedonian to the detector
    return script.languages[0]

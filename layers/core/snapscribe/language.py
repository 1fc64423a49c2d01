"""Which language a text is in (ISO 639-1), offline, with langdetect.

Chosen on ../shared/eval/textlines (72 single-language items): 0.90 on the ground truth and 0.88 on the
local engine's own output for the scripts it reads; lingua scored the same at 96 MB and 5 s to load,
py3langid lower (0.86 / 0.80). langdetect is random unless seeded, so it is seeded: same text, same answer.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

from snapscribe.engines.scripts import language_from_letters, text_script

UNDETERMINED = "und"  # ISO 639-2 for "undetermined": no letters to judge by
_lock = threading.Lock()


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

"""Which language a text is in (ISO 639-1), offline, with langdetect.

Chosen on ../shared/eval/textlines (72 single-language items): 0.90 on the ground truth and 0.88 on the
local engine's own output for the scripts it reads; lingua scored the same at 96 MB and 5 s to load,
py3langid lower (0.86 / 0.80). langdetect is random unless seeded, so it is seeded: same text, same answer.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

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
    return code.split("-", 1)[0] if code != "unknown" else UNDETERMINED

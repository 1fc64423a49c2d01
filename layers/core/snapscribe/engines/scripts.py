"""Which reader of the local engine reads which language: Tesseract the scripts language.py tells apart by their
letters (language.SCRIPTS), with a model for each of their languages; RapidOCR Latin, Chinese and Japanese,
which it reads better and faster. The reading itself lives in multiscript.py."""

from __future__ import annotations

from snapscribe.language import SCRIPTS

SCRIPTS_BY_NAME = {script.name: script for script in SCRIPTS}

# The Tesseract model of each language this deployment reads with Tesseract (file <model>.traineddata; the
# tessdata_fast models from Debian, see requirements/tessdata.txt).
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
SCRIPT_OF_LANGUAGE: dict[str, str] = {language: script.name for script in SCRIPTS for language in script.languages}

# Languages RapidOCR reads (its Latin and Chinese/Japanese models): a hint naming one keeps RapidOCR alone.
RAPIDOCR_LANGUAGES = frozenset(
    {
        "en", "de", "fr", "es", "it", "pt", "nl", "la", "ca", "da", "no", "nb", "nn", "sv", "fi", "is", "et",
        "lv", "lt", "pl", "cs", "sk", "sl", "hr", "bs", "hu", "ro", "sq", "tr", "az", "id", "ms", "tl", "vi",
        "sw", "af", "ga", "cy", "eu", "gl", "mt", "eo", "zh", "ja",
    }
)  # fmt: skip

"""The local engine's reading of many scripts: the rules on their own, then the real engine (RapidOCR and
Tesseract with the models make installs) on real text lines from ../shared/eval/textlines."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from snapscribe.engines.base import ExtractionRequest
from snapscribe.engines.layout import OcrLine, reading_order_text
from snapscribe.engines.local import LocalEngine, tessdata_dir
from snapscribe.engines.multiscript import clean, fits, is_sure, read_scripts
from snapscribe.engines.scripts import SCRIPTS_BY_NAME
from snapscribe.images.prepare import prepare_image
from snapscribe.language import detect_language, own_share, within_script
from tests.conftest import EVAL_DIR

ARABIC, CYRILLIC = SCRIPTS_BY_NAME["Arab"], SCRIPTS_BY_NAME["Cyrl"]


def test_a_script_is_told_by_its_own_letters_and_digits_fit_any_script() -> None:
    assert own_share("امروز هوا خوبه.", ARABIC) == 1.0
    assert own_share("Total 12.50", ARABIC) == 0.0
    assert fits("١٢٫٥٠", ARABIC)  # Arabic-Indic digits: no letters, still the page's script
    assert fits("12.50", ARABIC)
    assert not fits("Total", ARABIC)


def test_clean_repairs_compatibility_forms_and_drops_bidi_marks() -> None:
    presentation_forms = "\ufef7\ufe8e\ufe91"  # lam-alef with hamza, alef final, beh initial
    assert clean(presentation_forms) == unicodedata.normalize("NFKC", presentation_forms)
    assert clean("باب\u200e ما  جاء\u200f") == "باب ما جاء"
    assert "\u200c" in clean("می\u200cخواهم")  # the Persian zero-width non-joiner is a letter's shape: kept


@pytest.mark.parametrize(
    ("text", "detected", "language"),
    [
        ("Време је лепо данас.", "mk", "sr"),  # Serbian letters (je) decide
        ("Сьогодні їдемо до Києва", "ru", "uk"),
        ("Славянские языки — большая языковая семья.", "be", "ru"),  # not read here: the script's first language
        ("Славянские языки — большая языковая семья.", "bg", "bg"),  # no letter decides: the detector does
        ("پیش از این کتاب را بخوان", "ar", "fa"),  # پ چ ژ گ are Persian letters Arabic does not write
        ("امروز هوا خوبه", "fa", "fa"),
        ("The total is due", "en", "en"),  # not a Tesseract script: the detector's answer
    ],
)
def test_the_language_stays_within_the_scripts_languages(text: str, detected: str, language: str) -> None:
    assert within_script(text, detected) == language


def test_a_right_to_left_row_reads_from_the_right() -> None:
    label = OcrLine("المجموع", 300, 10, 400, 30, 0.9, right_to_left=True)
    amount = OcrLine("12.50", 50, 10, 120, 30, 0.99)
    heading = OcrLine("فاتورة", 150, 0 - 40, 300, -20, 0.9, right_to_left=True)
    assert reading_order_text([amount, label, heading]) == "فاتورة\nالمجموع 12.50"
    latin = [OcrLine("Total", 10, 10, 80, 30, 0.99), OcrLine("12.50", 300, 10, 360, 30, 0.99)]
    assert reading_order_text(latin) == "Total 12.50"


def test_a_page_rapidocr_reads_surely_never_reaches_tesseract() -> None:
    from PIL import Image

    lines = [
        OcrLine("ACME Office Supplies Ltd", 10, 10, 400, 40, 0.99),
        OcrLine("Invoice No: INV-1042", 10, 50, 330, 80, 0.98),
        OcrLine("~", 10, 90, 20, 100, 0.3),  # below RapidOCR's own threshold: dropped, as before
    ]
    assert all(is_sure(line) for line in lines[:2])
    page = Image.new("RGB", (500, 120), "white")
    read = read_scripts(page, lines, tessdata=Path("/nonexistent-tessdata"))  # would fail if it were used
    assert read == lines[:2]


# --- the real engine on real lines ----------------------------------------------------------------------
def _labels() -> dict[str, dict[str, object]]:
    with (EVAL_DIR / "textlines" / "labels.jsonl").open(encoding="utf-8") as labels:
        return {item["id"]: item for item in map(json.loads, labels)}


def _read(item_id: str, languages: tuple[str, ...] = ()) -> str:
    item = _labels()[item_id]
    image = prepare_image(
        (EVAL_DIR / "textlines" / str(item["image"])).read_bytes(), max_side=2560, max_pixels=80_000_000
    )
    return LocalEngine().extract(ExtractionRequest(images=[image], prompt="", languages=languages)).text


def _cer(read: str, truth: str) -> float:
    from snapscribe_tools.evaluate import character_error_rate

    return character_error_rate(read, truth)


@pytest.fixture(scope="module")
def tesseract_installed() -> None:
    if tessdata_dir() is None:
        pytest.fail("Tesseract's models are missing: make installs them into .venv/share/tessdata")


@pytest.mark.eval_data
@pytest.mark.usefixtures("tesseract_installed")
def test_the_persian_example_reads_exactly_and_is_persian() -> None:
    text = _read("rapidocr_fa")
    assert text == "امروز هوا خوبه."
    assert detect_language(text) == "fa"
    assert _read("rapidocr_fa", languages=("fa",)) == "امروز هوا خوبه."  # with the hint: no search, same


@pytest.mark.eval_data
@pytest.mark.usefixtures("tesseract_installed")
@pytest.mark.parametrize(
    "item_id",
    [
        "rapidocr_ru_eslav",
        "rapidocr_sr_cyrillic",
        "rapidocr_hi_devanagari",
        "rapidocr_ko",
        "rapidocr_el",
        "rapidocr_th",
        "rapidocr_ta",
        "rapidocr_te",
    ],
)
def test_each_script_reads_within_its_goal_and_names_its_language(item_id: str) -> None:
    item = _labels()[item_id]
    text = _read(item_id)
    assert _cer(text, str(item["text"])) <= 0.05, text
    assert detect_language(text) == item["lang"], text


@pytest.mark.eval_data
@pytest.mark.usefixtures("tesseract_installed")
def test_classical_arabic_lines_read_within_their_goal() -> None:
    items = [item for item in _labels().values() if item["lang"] == "ar"]
    texts = [_read(str(item["id"])) for item in items]  # each line read once: the rates and the language use it
    rates = [_cer(text, str(item["text"])) for text, item in zip(texts, items, strict=True)]
    assert len(items) >= 20
    assert sum(rates) / len(rates) <= 0.20
    assert all(detect_language(text) == "ar" for text in texts[:5])


@pytest.mark.usefixtures("tesseract_installed")
def test_a_few_latin_letters_are_never_taken_for_another_script() -> None:
    """Tiny "n 0" images: RapidOCR is unsure of some, and Greek and Thai models read them surely as "πο" or "ก3";
    a word or two is not enough to read a page in another script."""
    import io

    from PIL import Image, ImageDraw

    misread = []
    for number in range(40):
        image = Image.new("RGB", (96, 32), "white")
        ImageDraw.Draw(image).text((4, 8), f"n {number}", fill="black", font_size=16)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        prepared = prepare_image(buffer.getvalue(), max_side=2560, max_pixels=80_000_000)
        text = LocalEngine().extract(ExtractionRequest(images=[prepared], prompt="")).text
        if text.replace(" ", "") != f"n{number}":
            misread.append(text)
    assert misread == []

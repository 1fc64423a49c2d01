"""Upload keys and file names, page splitting, language detection: pure logic, no AWS."""

from __future__ import annotations

import json

import pytest

from snapscribe.errors import CorruptImage, InvalidFileKey, InvalidRequest
from snapscribe.images.prepare import PreparedImage, page_count, prepare_pages
from snapscribe.language import detect_language
from snapscribe.storage.keys import parse_upload_key, sanitise_filename, upload_key
from tests.conftest import EVAL_DIR

UPLOAD_ID = "0f8e2c55-6d1b-4d0a-9a53-3c1f4b2a7e10"


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("invoice.png", "invoice.png"),
        ("scan 2026-11 (copy).png", "scan 2026-11 (copy).png"),
        ("  many   spaces .jpg", "many spaces .jpg"),
        ("résumé.jpg", "resume.jpg"),
        ("a$b&c;d.png", "a_b_c_d.png"),
        ("日本.png", "file.png"),
    ],
)
def test_filenames_are_made_safe(filename: str, expected: str) -> None:
    assert sanitise_filename(filename) == expected


@pytest.mark.parametrize(
    "filename",
    ["", "   ", "../etc/passwd", "a/b.png", "a\\b.png", ".hidden", "x..png", "bad\x00.png", "tab\t.png", "x" * 201],
)
def test_unsafe_filenames_are_refused(filename: str) -> None:
    with pytest.raises(InvalidRequest):
        sanitise_filename(filename)


def test_upload_key_round_trip() -> None:
    key = upload_key("usr_1", UPLOAD_ID, "scan (1).png")
    parsed = parse_upload_key(key)
    assert (parsed.user_id, parsed.upload_id, parsed.key) == ("usr_1", UPLOAD_ID, key)
    assert parse_upload_key("ocr/usr_1/filename.jpg").upload_id is None  # the contract's shape, not one we issued


@pytest.mark.parametrize(
    "key",
    [
        None,
        42,
        "",
        "uploads/usr_1/a.png",
        "ocr/usr_1",
        "ocr/usr_1/",
        "ocr//a.png",
        "ocr/usr_1/../usr_2/a.png",
        "ocr/usr_1/sub/a.png",
        "/ocr/usr_1/a.png",
        "ocr/usr$1/a.png",
        "ocr/usr_1/a%2F.png",
    ],
)
def test_malformed_keys_are_refused(key: object) -> None:
    with pytest.raises(InvalidFileKey) as caught:
        parse_upload_key(key)
    assert caught.value.message == "Invalid file key format"


@pytest.mark.eval_data
def test_multipage_tiff_pages_in_order() -> None:
    data = (EVAL_DIR / "formats" / "tiff" / "multipage_text_derived.tiff").read_bytes()
    assert page_count(data, max_pixels=80_000_000) == ("TIFF", 3)
    pages = prepare_pages(data, max_side=None, max_pixels=80_000_000, max_pages=100)
    assert [type(page) for page in pages] == [PreparedImage] * 3
    assert prepare_pages(data, max_side=None, max_pixels=80_000_000, max_pages=2).__len__() == 2


@pytest.mark.eval_data
def test_single_page_formats_have_one_page() -> None:
    data = (EVAL_DIR / "formats" / "same_text_many_formats" / "pytesseract_test.gif").read_bytes()
    assert page_count(data, max_pixels=80_000_000) == ("GIF", 1)


def test_corrupt_file_raises() -> None:
    with pytest.raises(CorruptImage):
        prepare_pages(b"II*\x00" + b"\x00" * 50, max_side=None, max_pixels=80_000_000, max_pages=10)


@pytest.mark.eval_data
def test_language_detection_on_eval_ground_truth() -> None:
    items = [json.loads(line) for line in (EVAL_DIR / "textlines" / "labels.jsonl").read_text().splitlines()]
    wanted = {"en", "de", "fr", "zh", "ru", "ar", "es", "nl"}
    picked = [item for item in items if item["lang"] in wanted and (item["text"] or item["gt"])]
    texts = [item["text"] or (EVAL_DIR / "textlines" / item["gt"]).read_text() for item in picked]
    correct = sum(detect_language(text) == item["lang"] for text, item in zip(texts, picked, strict=True))
    assert correct / len(picked) >= 0.85, f"{correct}/{len(picked)}"
    assert detect_language("12 / 34 --") == "und"
    assert detect_language("The quick brown fox jumps over the lazy dog") == "en"
    assert detect_language("The quick brown fox jumps over the lazy dog") == detect_language(
        "The quick brown fox jumps over the lazy dog"
    )


@pytest.mark.eval_data
def test_every_image_of_a_multi_image_heic_is_a_page() -> None:
    data = (EVAL_DIR / "formats" / "heif" / "zPug_3.heic").read_bytes()
    assert page_count(data, max_pixels=80_000_000) == ("HEIF", 3)
    pages = prepare_pages(data, max_side=None, max_pixels=80_000_000, max_pages=10)
    assert [type(page) for page in pages] == [PreparedImage] * 3


def test_animated_gif_gives_its_first_frame_only() -> None:
    import io

    from PIL import Image

    frames = [Image.new("L", (60, 30), shade) for shade in (0, 128, 255)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    assert page_count(buffer.getvalue(), max_pixels=80_000_000) == ("GIF", 1)
    (only,) = prepare_pages(buffer.getvalue(), max_side=None, max_pixels=80_000_000, max_pages=10)
    assert isinstance(only, PreparedImage)
    assert only.to_rgb().getpixel((5, 5)) == (0, 0, 0)


def test_pdf_pages_are_rendered_in_order() -> None:
    from tests.conftest import pdf_with_pages

    data = pdf_with_pages(3)
    assert page_count(data, max_pixels=80_000_000) == ("PDF", 3)
    pages = prepare_pages(data, max_side=2048, max_pixels=80_000_000, max_pages=100)
    assert [type(page) for page in pages] == [PreparedImage] * 3
    assert all(max(page.width, page.height) <= 2048 and page.mime_type == "image/png" for page in pages)
    assert len(prepare_pages(data, max_side=2048, max_pixels=80_000_000, max_pages=2)) == 2


def test_a_broken_pdf_is_corrupt_and_pdf_is_no_single_image() -> None:
    from snapscribe.errors import UnsupportedImageFormat
    from snapscribe.images.prepare import prepare_image
    from tests.conftest import pdf_with_pages

    with pytest.raises(CorruptImage):
        page_count(b"%PDF-1.7\n% not really a pdf", max_pixels=80_000_000)
    with pytest.raises(CorruptImage):
        prepare_pages(pdf_with_pages(2)[:200], max_side=None, max_pixels=80_000_000, max_pages=10)
    with pytest.raises(UnsupportedImageFormat):  # the single-image routes take images, as their contracts say
        prepare_image(pdf_with_pages(1), max_side=None, max_pixels=80_000_000)

"""Image preparation on real files from ../shared/eval/formats (marked eval_data) and on images made here."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from snapscribe.errors import CorruptImage, DecompressionBomb, UnsupportedImageFormat
from snapscribe.images.prepare import PreparedImage, prepare_image, sniff_format
from tests.conftest import EVAL_DIR

FORMATS = EVAL_DIR / "formats"
# Valid BMP that Pillow (12 and 13) refuses to read; the eval README names it.
PILLOW_CANNOT_READ = {"bmp/bmpsuite_g_rgb32bf.bmp"}


def _manifest_items() -> list[Any]:
    """One case per manifest entry; without the data, one placeholder that the eval_data mark skips."""
    if not EVAL_DIR.is_dir():
        return [pytest.param(None, id="manifest")]
    items = json.loads((FORMATS / "manifest.json").read_text())
    return [pytest.param(item, id=item["file"]) for item in items]


def _prepare(path: Path, max_side: int | None = None) -> PreparedImage:
    return prepare_image(path.read_bytes(), max_side=max_side, max_pixels=80_000_000)


@pytest.mark.eval_data
@pytest.mark.parametrize("item", _manifest_items())
def test_every_manifest_file_behaves_as_the_manifest_says(item: dict[str, object]) -> None:
    path = FORMATS / str(item["file"])
    expect = str(item["expect"])
    if expect == "error" or item["file"] in PILLOW_CANNOT_READ:
        with pytest.raises((CorruptImage, UnsupportedImageFormat)):
            _prepare(path)
        return
    if expect == "error_or_partial":
        with contextlib.suppress(CorruptImage, UnsupportedImageFormat):
            _prepare(path)
        return
    prepared = _prepare(path)
    assert prepared.mime_type in {"image/png", "image/jpeg", "image/webp", "image/heif"}
    with Image.open(io.BytesIO(prepared.data)) as reopened:
        reopened.load()
        assert reopened.size == (prepared.width, prepared.height)


@pytest.mark.eval_data
def test_as_is_formats_keep_their_bytes_and_others_become_png() -> None:
    folder = FORMATS / "same_text_many_formats"
    for name, mime in [
        ("pytesseract_test.png", "image/png"),
        ("pytesseract_test.jpg", "image/jpeg"),
        ("pytesseract_test.webp", "image/webp"),
        ("pytesseract_test_derived.heic", "image/heif"),
    ]:
        original = (folder / name).read_bytes()
        prepared = _prepare(folder / name)
        assert (prepared.mime_type, prepared.data) == (mime, original)
    for name, source in [
        ("pytesseract_test.bmp", "BMP"),
        ("pytesseract_test.gif", "GIF"),
        ("pytesseract_test.tiff", "TIFF"),
        ("pytesseract_test.pgm", "PPM"),
    ]:
        prepared = _prepare(folder / name)
        assert (prepared.source_format, prepared.mime_type) == (source, "image/png")
        assert prepared.data.startswith(b"\x89PNG")


@pytest.mark.eval_data
def test_format_comes_from_bytes_not_names(tmp_path: Path) -> None:
    png_named_jpg = tmp_path / "photo.jpg"
    png_named_jpg.write_bytes((FORMATS / "same_text_many_formats" / "pytesseract_test.png").read_bytes())
    assert sniff_format(png_named_jpg.read_bytes()) == "PNG"
    with pytest.raises(UnsupportedImageFormat):
        sniff_format(b"%PDF-1.7 not an image")
    with pytest.raises(CorruptImage):
        sniff_format(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)


def _rotated_jpeg(orientation: int) -> bytes:
    """A 60x20 image, left half black, with an EXIF orientation tag."""
    image = Image.new("RGB", (60, 20), "white")
    image.paste((0, 0, 0), (0, 0, 30, 20))
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif, quality=95)
    return buffer.getvalue()


@pytest.mark.eval_data
def test_exif_orientation_is_applied() -> None:
    rotated = prepare_image(_rotated_jpeg(6), max_side=None, max_pixels=80_000_000)  # 90 degrees clockwise
    assert (rotated.width, rotated.height) == (20, 60)
    upside_down = prepare_image(_rotated_jpeg(3), max_side=None, max_pixels=80_000_000)
    rgb = upside_down.to_rgb()
    assert (upside_down.width, upside_down.height) == (60, 20)
    assert sum(rgb.getpixel((55, 10))) < 100
    assert sum(rgb.getpixel((5, 10))) > 600
    with Image.open(io.BytesIO(rotated.data)) as result:
        assert result.getexif().get(0x0112, 1) == 1
    real = _prepare(FORMATS / "alpha_orientation" / "pillow_hopper_orientation_6.jpg")
    assert real.data != (FORMATS / "alpha_orientation" / "pillow_hopper_orientation_6.jpg").read_bytes()


def test_downscale_keeps_aspect_ratio() -> None:
    image = Image.new("RGB", (4000, 3000), "white")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG")
    prepared = prepare_image(buffer.getvalue(), max_side=2048, max_pixels=80_000_000)
    assert (prepared.width, prepared.height) == (2048, 1536)
    assert prepared.mime_type == "image/jpeg"


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_decompression_bomb_is_refused_before_decoding() -> None:
    image = Image.new("1", (12000, 12000))  # 144 MP, a few KB as PNG
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    assert len(buffer.getvalue()) < 100_000
    with pytest.raises(DecompressionBomb):
        prepare_image(buffer.getvalue(), max_side=None, max_pixels=80_000_000)


@pytest.mark.eval_data
def test_truncated_jpeg_is_corrupt() -> None:
    data = (FORMATS / "same_text_many_formats" / "pytesseract_test.jpg").read_bytes()
    with pytest.raises(CorruptImage):
        prepare_image(data[: len(data) // 3], max_side=None, max_pixels=80_000_000)


@pytest.mark.eval_data
def test_transparent_text_is_flattened_on_white() -> None:
    prepared = _prepare(FORMATS / "alpha_orientation" / "rapidocr_black_font_color_transparent.png")
    rgb = prepared.to_rgb()
    assert rgb.mode == "RGB"
    colours = {colour for _count, colour in rgb.getcolors(maxcolors=1 << 24) or []}
    assert (255, 255, 255) in colours
    assert any(sum(colour) < 200 for colour in colours)

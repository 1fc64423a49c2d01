"""Turn client bytes into an image an engine can use, or a typed error that says why not."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from snapscribe.errors import CorruptImage, DecompressionBomb, UnsupportedImageFormat
from snapscribe.images.formats import AS_IS_FORMATS, CONVERTED_FORMATS, register_openers

EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True)
class PreparedImage:
    """Encoded bytes ready for an engine, in one of the as-is formats (PNG, JPEG, WebP, HEIF)."""

    data: bytes
    mime_type: str
    source_format: str
    width: int
    height: int

    def to_rgb(self) -> Image.Image:
        """Decoded RGB pixels (what the local OCR engine wants; a palette PNG confuses it)."""
        register_openers()
        with Image.open(io.BytesIO(self.data)) as image:
            return flatten_to_rgb(image)


def flatten_to_rgb(image: Image.Image) -> Image.Image:
    """RGB on a white ground: transparent text (alpha-only images) stays readable."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        ground = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(ground, rgba).convert("RGB")
    return image.convert("RGB")


# Signatures of the formats the service reads: bytes that start like one of these but that Pillow
# cannot open are a damaged image (corrupt), not a foreign format (unsupported).
_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x89PNG\r\n\x1a\n", "PNG"),
    (0, b"\xff\xd8\xff", "JPEG"),
    (0, b"GIF87a", "GIF"),
    (0, b"GIF89a", "GIF"),
    (0, b"BM", "BMP"),
    (0, b"II*\x00", "TIFF"),
    (0, b"MM\x00*", "TIFF"),
    (8, b"WEBP", "WEBP"),
    (4, b"ftyp", "HEIF"),
)


def signature_format(data: bytes) -> str | None:
    for offset, magic, name in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            return name
    return None


def sniff_format(data: bytes) -> str:
    """The image format named by the bytes themselves, never by a file name or a header."""
    register_openers()
    try:
        with Image.open(io.BytesIO(data)) as image:
            return str(image.format)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        claimed = signature_format(data)
        if claimed:
            raise CorruptImage(f"The {claimed} image is corrupt and cannot be parsed") from error
        raise UnsupportedImageFormat("The file is not an image in a supported format") from error


def prepare_image(data: bytes, *, max_side: int | None, max_pixels: int) -> PreparedImage:
    """Detect, guard, decode, orient and (for formats a model does not take) convert to PNG.

    `max_side` downscales larger images (a language model bills by pixels; OCR needs far fewer than a
    12 MP photo carries). Images that need no change keep their original bytes.
    """
    if not data:
        raise CorruptImage("The image is empty")
    fmt = sniff_format(data)
    if fmt not in AS_IS_FORMATS and fmt not in CONVERTED_FORMATS:
        raise UnsupportedImageFormat(f"Unsupported image format: {fmt}")
    try:
        with warnings.catch_warnings():
            # Pillow warns (and only errors at twice its limit); the service refuses at its own limit.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as opened:
                width, height = opened.size
                if width * height > max_pixels:
                    raise DecompressionBomb(
                        f"The image has {width}x{height} pixels, more than the {max_pixels} allowed"
                    )
                opened.load()
                orientation_changed = opened.getexif().get(EXIF_ORIENTATION, 1) not in (0, 1)
                image = ImageOps.exif_transpose(opened) if orientation_changed else opened.copy()
    except DecompressionBomb:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise DecompressionBomb("The image has more pixels than the service decodes") from error
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError) as error:
        raise CorruptImage(f"The {fmt} image is corrupt or truncated and cannot be decoded") from error

    needs_resize = max_side is not None and max(image.size) > max_side
    if fmt in AS_IS_FORMATS and not needs_resize and not orientation_changed:
        return PreparedImage(data, AS_IS_FORMATS[fmt], fmt, image.width, image.height)

    if needs_resize and max_side is not None:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    # Lossy sources stay lossy (smaller); everything else becomes PNG, as the seed says.
    if fmt in ("JPEG", "HEIF", "WEBP") and image.mode in ("RGB", "L", "CMYK"):
        out_format, mime = "JPEG", "image/jpeg"
        image = image.convert("RGB")
    else:
        out_format, mime = "PNG", "image/png"
        if image.mode not in ("1", "L", "LA", "RGB", "RGBA", "P", "I", "I;16"):
            image = image.convert("RGBA" if "A" in image.mode else "RGB")
    buffer = io.BytesIO()
    image.save(buffer, format=out_format, **({"quality": 90} if out_format == "JPEG" else {}))
    return PreparedImage(buffer.getvalue(), mime, fmt, image.width, image.height)

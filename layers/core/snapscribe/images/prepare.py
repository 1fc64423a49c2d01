"""Turn client bytes into an image an engine can use, or a typed error that says why not."""

from __future__ import annotations

import io
import threading
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from snapscribe.errors import CorruptImage, DecompressionBomb, SnapscribeError, UnsupportedImageFormat
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


# Formats whose extra frames are pages; for the others (GIF, WebP, APNG) only the first frame is read.
PAGED_FORMATS = frozenset({"TIFF", "HEIF"})
PDF_SIGNATURE = b"%PDF-"
PDF_DPI = 200  # enough for 8-point print; the engine's max side caps it further
PDFIUM_LOCK = threading.Lock()  # PDFium is not thread-safe

PageResult = PreparedImage | SnapscribeError


def _check_size(opened: Image.Image, max_pixels: int) -> None:
    width, height = opened.size
    if width * height > max_pixels:
        raise DecompressionBomb(f"The image has {width}x{height} pixels, more than the {max_pixels} allowed")


def _decode_current_frame(opened: Image.Image, fmt: str) -> tuple[Image.Image, bool]:
    """The frame `opened` is on, decoded and upright; whether EXIF orientation turned it."""
    try:
        opened.load()
        orientation_changed = opened.getexif().get(EXIF_ORIENTATION, 1) not in (0, 1)
        image = ImageOps.exif_transpose(opened) if orientation_changed else opened.copy()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise DecompressionBomb("The image has more pixels than the service decodes") from error
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError) as error:
        raise CorruptImage(f"The {fmt} image is corrupt or truncated and cannot be decoded") from error
    return image, orientation_changed


def _encode(image: Image.Image, fmt: str, max_side: int | None) -> PreparedImage:
    if max_side is not None and max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    # Lossy sources stay lossy (smaller); everything else becomes PNG, as the extract-image contract says.
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


def _open_checked(data: bytes) -> str:
    if not data:
        raise CorruptImage("The image is empty")
    fmt = sniff_format(data)
    if fmt not in AS_IS_FORMATS and fmt not in CONVERTED_FORMATS:
        raise UnsupportedImageFormat(f"Unsupported image format: {fmt}")
    return fmt


def check_image(data: bytes, *, max_pixels: int) -> str:
    """What prepare_image refuses before it decodes a pixel, with the same errors: no bytes, bytes that are no image
    in a format the service reads (or whose header is damaged), more pixels than `max_pixels`. The image's format.
    Only the header is read: the request's checks (a job's admission) make it for every image at little cost."""
    fmt = _open_checked(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as opened:
                _check_size(opened, max_pixels)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise DecompressionBomb("The image has more pixels than the service decodes") from error
    return fmt


def prepare_image(data: bytes, *, max_side: int | None, max_pixels: int) -> PreparedImage:
    """Detect, guard, decode, orient and (for formats a model does not take) convert to PNG.

    The first page or frame only. `max_side` downscales larger images (a language model bills by
    pixels; OCR needs far fewer than a 12 MP photo carries). Images that need no change keep their
    original bytes.
    """
    fmt = _open_checked(data)
    with warnings.catch_warnings():
        # Pillow warns (and only errors at twice its limit); the service refuses at its own limit.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as opened:
                _check_size(opened, max_pixels)
                image, orientation_changed = _decode_current_frame(opened, fmt)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise DecompressionBomb("The image has more pixels than the service decodes") from error
    needs_resize = max_side is not None and max(image.size) > max_side
    if fmt in AS_IS_FORMATS and not needs_resize and not orientation_changed:
        return PreparedImage(data, AS_IS_FORMATS[fmt], fmt, image.width, image.height)
    return _encode(image, fmt, max_side)


def is_pdf(data: bytes) -> bool:
    return data[:1024].lstrip().startswith(PDF_SIGNATURE)


def _pdf_pages(
    data: bytes, *, max_side: int | None, max_pixels: int, max_pages: int, only: int | None = None
) -> tuple[list[PageResult], int]:
    """Up to `max_pages` PDF pages (or page `only`, 1-based) rendered to pixels (PNG, lossless for text), each
    or the error that page alone raised; and how many pages the document has."""
    import pypdfium2

    results: list[PageResult] = []
    with PDFIUM_LOCK:
        try:
            document = pypdfium2.PdfDocument(data)
        except pypdfium2.PdfiumError as error:
            raise CorruptImage("The PDF file is corrupt, encrypted or cannot be parsed") from error
        try:
            total = len(document)
            for index in _page_indexes(min(total, max_pages), only):
                try:
                    page = document[index]
                    width, height = page.get_size()  # points
                    scale = PDF_DPI / 72
                    if max_side is not None:
                        scale = min(scale, max_side / max(width, height, 1))
                    if width * height * scale * scale > max_pixels:
                        raise DecompressionBomb(f"page {index + 1}: the page is too large to render")
                    image = page.render(scale=scale).to_pil()
                    results.append(_encode(image.convert("RGB"), "PDF", None))
                except SnapscribeError as error:
                    results.append(error)
                except (pypdfium2.PdfiumError, ValueError, OSError) as error:
                    results.append(
                        CorruptImage(f"page {index + 1}: the page cannot be rendered ({type(error).__name__})")
                    )
        finally:
            document.close()
    return results, total


def page_count(data: bytes, *, max_pixels: int) -> tuple[str, int]:
    """(format, pages) after decoding the first page: what the upload trigger records."""
    if is_pdf(data):
        first_page, total = _pdf_pages(data, max_side=512, max_pixels=max_pixels, max_pages=1)
        if not first_page:
            raise CorruptImage("The PDF has no pages")
        if isinstance(first_page[0], SnapscribeError):
            raise first_page[0]
        return "PDF", total
    first = prepare_image(data, max_side=512, max_pixels=max_pixels)
    if first.source_format not in PAGED_FORMATS:
        return first.source_format, 1
    with Image.open(io.BytesIO(data)) as opened:
        return first.source_format, int(getattr(opened, "n_frames", 1))


def _page_indexes(pages: int, only: int | None) -> range:
    """0-based indexes of the pages to prepare: all of `pages`, or just page `only` (1-based) if it exists."""
    if only is None:
        return range(pages)
    return range(only - 1, only) if 1 <= only <= pages else range(0)


def prepare_pages(
    data: bytes, *, max_side: int | None, max_pixels: int, max_pages: int, only: int | None = None
) -> list[PageResult]:
    """Every page (PDF pages, TIFF pages, HEIF images; the first frame of anything else), or only page `only`
    (1-based; [] when the file has no such page), each prepared or the error that page alone raised, in page
    order. A file that cannot be opened at all raises."""
    if is_pdf(data):
        return _pdf_pages(data, max_side=max_side, max_pixels=max_pixels, max_pages=max_pages, only=only)[0]
    fmt = _open_checked(data)
    if fmt not in PAGED_FORMATS:
        return [prepare_image(data, max_side=max_side, max_pixels=max_pixels)] if only in (None, 1) else []
    results: list[PageResult] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            opened = Image.open(io.BytesIO(data))
        except (OSError, ValueError, SyntaxError) as error:
            raise CorruptImage(f"The {fmt} file is corrupt and cannot be parsed") from error
        with opened:
            frames = min(int(getattr(opened, "n_frames", 1)), max_pages)
            for index in _page_indexes(frames, only):
                try:
                    opened.seek(index)
                    _check_size(opened, max_pixels)
                    image, _turned = _decode_current_frame(opened, fmt)
                    results.append(_encode(image, fmt, max_side))
                except SnapscribeError as error:
                    results.append(error.prefixed(f"page {index + 1}: "))
                except (OSError, ValueError, EOFError, SyntaxError) as error:
                    results.append(CorruptImage(f"page {index + 1}: the page is corrupt ({type(error).__name__})"))
    return results

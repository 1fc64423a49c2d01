"""Which formats the service reads, and which it passes on as they are."""

from __future__ import annotations

from functools import cache

# Pillow format name -> MIME type, for the formats a language model takes as they are (the extract-image API).
AS_IS_FORMATS: dict[str, str] = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "WEBP": "image/webp",
    "HEIF": "image/heif",
}

# Everything else Pillow reads is converted to PNG. These are the ones the service promises.
CONVERTED_FORMATS: dict[str, str] = {
    "BMP": "image/bmp",
    "GIF": "image/gif",
    "TIFF": "image/tiff",
    "JPEG2000": "image/jp2",
    "PPM": "image/x-portable-anymap",
    "ICO": "image/x-icon",
    "TGA": "image/x-tga",
}


@cache
def register_openers() -> None:
    """Teach Pillow to read HEIC/HEIF once per process, on first use rather than at import. pi-heif decodes only
    (libheif + libde265, LGPL): the layer ships no HEVC encoder (pillow-heif's bundles x265, GPL-2.0)."""
    from pi_heif import register_heif_opener

    register_heif_opener()


def supported_formats() -> dict[str, object]:
    """The answer of GET /api/v1/extract-image."""
    return {
        "supportedFormats": [
            {"format": "PNG", "mimeType": "image/png", "extensions": [".png"], "handling": "as-is"},
            {"format": "JPEG", "mimeType": "image/jpeg", "extensions": [".jpg", ".jpeg"], "handling": "as-is"},
            {"format": "WebP", "mimeType": "image/webp", "extensions": [".webp"], "handling": "as-is"},
            {"format": "HEIC", "mimeType": "image/heic", "extensions": [".heic"], "handling": "as-is"},
            {"format": "HEIF", "mimeType": "image/heif", "extensions": [".heif"], "handling": "as-is"},
            {"format": "BMP", "mimeType": "image/bmp", "extensions": [".bmp"], "handling": "converted to PNG"},
            {
                "format": "GIF",
                "mimeType": "image/gif",
                "extensions": [".gif"],
                "handling": "converted to PNG (first frame)",
            },
            {
                "format": "TIFF",
                "mimeType": "image/tiff",
                "extensions": [".tif", ".tiff"],
                "handling": "converted to PNG (first page)",
            },
            {"format": "JPEG 2000", "mimeType": "image/jp2", "extensions": [".jp2"], "handling": "converted to PNG"},
            {
                "format": "PNM",
                "mimeType": "image/x-portable-anymap",
                "extensions": [".pbm", ".pgm", ".ppm"],
                "handling": "converted to PNG",
            },
        ],
        "notes": "Formats are detected from the file's bytes, not its name or Content-Type. "
        "EXIF orientation is applied.",
    }

"""Regenerate samples/ (a synthetic invoice image and the request bodies that carry it). Not eval data."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
LINES = [
    ("ACME Office Supplies Ltd", 34),
    ("12 Harbour Road, Springfield", 24),
    ("", 16),
    ("Invoice No: INV-1042", 26),
    ("Date: 2026-11-21", 26),
    ("", 16),
    ("Paper A4 x2          9.80", 26),
    ("Stapler              12.50", 26),
    ("Total: 22.30", 30),
]


def render_invoice() -> bytes:
    image = Image.new("RGB", (720, 460), "white")
    draw = ImageDraw.Draw(image)
    y = 30
    for text, size in LINES:
        if text:
            draw.text((40, y), text, fill="black", font=ImageFont.load_default(size=size))
        y += size + 18
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def main() -> None:
    png = render_invoice()
    (ROOT / "samples").mkdir(exist_ok=True)
    (ROOT / "samples" / "invoice.png").write_bytes(png)
    encoded = base64.b64encode(png).decode("ascii")
    request = {
        "inputMethod": "base64",
        "images": [encoded],
        "prompt": "Describe the main elements in this image.",
        "jsonMode": False,
    }
    (ROOT / "samples" / "extract-image.json").write_text(json.dumps(request, indent=2) + "\n")
    json_request = {
        "inputMethod": "base64",
        "images": [encoded],
        "prompt": 'Extract the data using this template: {"invoice_no": "Invoice No", "date": "Date", "total": "Total"}',
        "jsonMode": True,
    }
    (ROOT / "samples" / "extract-image-json.json").write_text(json.dumps(json_request, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""Regenerate samples/ (a synthetic invoice image and the request bodies that carry it). Not eval data."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
EVENTS_KEY = "ssk_events_example_key_not_a_secret"
# A key that exists in no table: for the 401 events.
UNKNOWN_KEY = "ssk_unknown_key_for_the_401_event"
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
        "prompt": "Extract the data using this template: "
        '{"invoice_no": "Invoice No", "date": "Date", "total": "Total"}',
        "jsonMode": True,
    }
    (ROOT / "samples" / "extract-image-json.json").write_text(json.dumps(json_request, indent=2) + "\n")
    write_events(encoded)


def api_event(method: str, path: str, body: object | None, headers: dict[str, str], name: str) -> None:
    import sys

    sys.path.insert(0, str(ROOT / "tools"))
    from snapscribe_tools.gateway import build_event
    from snapscribe_tools.template import ApiRoute

    raw = json.dumps(body).encode() if body is not None else b""
    event = build_event(
        method=method,
        raw_path=path,
        headers=[("Host", "localhost:3000"), ("User-Agent", "curl/8.5.0"), *headers.items()],
        body=raw,
        route=ApiRoute(method, path, "events"),
        path_parameters={},
        binary_types=[],
        source_ip="127.0.0.1",
        stage="prod",
    )
    event["requestContext"]["requestId"] = f"evt-{name}"
    event["requestContext"]["extendedRequestId"] = f"evt-{name}"
    (ROOT / "events" / f"{name}.json").write_text(json.dumps(event, indent=2) + "\n")


def write_events(encoded: str) -> None:
    (ROOT / "events").mkdir(exist_ok=True)
    json_headers = {"Content-Type": "application/json", "Authorization": f"Bearer {EVENTS_KEY}"}
    path = "/api/v1/extract-image"
    base = {"inputMethod": "base64", "images": [encoded], "prompt": "Describe the main elements in this image."}
    api_event("POST", path, {**base, "jsonMode": False}, json_headers, "extract_image_base64")
    template_prompt = 'Extract using this template: {"invoice_no": "Invoice No", "date": "Date", "total": "Total"}'
    api_event(
        "POST", path, {**base, "prompt": template_prompt, "jsonMode": True}, json_headers, "extract_image_json_mode"
    )
    api_event(
        "POST",
        path,
        {**base, "jsonMode": False},
        {"Content-Type": "application/json", "X-API-Key": EVENTS_KEY},
        "extract_image_x_api_key",
    )
    api_event(
        "POST",
        path,
        {
            "inputMethod": "url",
            "images": ["https://example.com/sample-image.jpg"],
            "prompt": "Describe the main elements in this image.",
            "jsonMode": False,
        },
        json_headers,
        "extract_image_url",
    )
    api_event(
        "POST",
        path,
        {"inputMethod": "url", "images": ["http://169.254.169.254/latest/meta-data/"], "prompt": "Describe it."},
        json_headers,
        "extract_image_url_metadata",
    )
    api_event(
        "POST", path, {"inputMethod": "base64", "images": [encoded]}, json_headers, "extract_image_missing_prompt"
    )
    api_event(
        "POST", path, {"inputMethod": "base64", "prompt": "Describe it."}, json_headers, "extract_image_missing_images"
    )
    api_event("POST", path, {**base, "inputMethod": "ftp"}, json_headers, "extract_image_bad_input_method")
    api_event("POST", path, {**base, "images": ["not base64 at all!"]}, json_headers, "extract_image_bad_base64")
    not_an_image = base64.b64encode(b"%PDF-1.4 this is a PDF, not an image").decode()
    api_event("POST", path, {**base, "images": [not_an_image]}, json_headers, "extract_image_unsupported_format")
    api_event("POST", path, {**base}, {"Content-Type": "application/json"}, "extract_image_no_auth")
    api_event(
        "POST",
        path,
        {**base},
        {"Content-Type": "application/json", "Authorization": f"Bearer {UNKNOWN_KEY}"},
        "extract_image_wrong_key",
    )
    api_event("GET", path, None, {"Authorization": f"Bearer {EVENTS_KEY}"}, "extract_image_formats")


if __name__ == "__main__":
    main()

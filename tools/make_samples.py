"""Regenerate samples/ (a synthetic invoice image and the request bodies that carry it). Not eval data."""

from __future__ import annotations

import base64
import hashlib
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


def api_event(
    method: str,
    path: str,
    body: object | None,
    headers: dict[str, str],
    name: str,
    resource: str | None = None,
    path_parameters: dict[str, str] | None = None,
) -> None:
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
        route=ApiRoute(method, resource or path, "events"),
        path_parameters=path_parameters or {},
        binary_types=[],
        source_ip="127.0.0.1",
        stage="prod",
    )
    stable(event, name)
    (ROOT / "events" / f"{name}.json").write_text(json.dumps(event, indent=2) + "\n")


def stable(event: dict[str, object], name: str) -> None:
    """Fixtures stay byte-for-byte the same when regenerated."""
    context = event["requestContext"]
    assert isinstance(context, dict)
    context.update(
        {
            "requestId": f"evt-{name}",
            "extendedRequestId": f"evt-{name}",
            "requestTime": "21/Nov/2026:19:00:00 +0000",
            "requestTimeEpoch": 1795287600000,
        }
    )


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
    api_event("GET", path, None, {"Authorization": f"Bearer {EVENTS_KEY}"}, "list_image_formats")
    write_file_events()
    write_ocr_extract_events()
    write_image_extraction_events()
    write_job_events()


EVENTS_TIFF_ID = "7c4b9e21-3a5f-4e8d-b1c2-9d0e6f7a8b90"


def write_image_extraction_events() -> None:
    headers = {"Content-Type": "application/json", "X-API-Key": EVENTS_KEY}
    path = "/v1/image-extraction"
    two_files = {
        "engine": {"name": "local", "options": {"language": "en"}},
        "files": [{"uuid": EVENTS_UPLOAD_ID}, {"key": f"ocr/events/{EVENTS_TIFF_ID}-pages.tiff"}],
    }
    api_event("POST", path, two_files, headers, "extract_batch")
    api_event("GET", path, two_files, headers, "extract_batch_by_get")
    api_event(
        "POST",
        path,
        {"engine": {"name": "local"}, "files": [{"uuid": EVENTS_UPLOAD_ID}] * 6},
        headers,
        "extract_batch_too_many_files",
    )
    api_event("POST", path, {"files": [{"uuid": EVENTS_UPLOAD_ID}]}, headers, "extract_batch_missing_engine")
    api_event(
        "POST",
        path,
        {"engine": {"name": "tesseract-9"}, "files": [{"uuid": EVENTS_UPLOAD_ID}]},
        headers,
        "extract_batch_unknown_engine",
    )
    api_event(
        "POST",
        path,
        {"engine": {"name": "local"}, "files": [{"uuid": "11111111-2222-4333-8444-555555555555"}]},
        headers,
        "extract_batch_unknown_file",
    )
    extraction_id = "d2f1c3b4-5a69-4e7f-8a9b-0c1d2e3f4a5b"
    api_event(
        "GET",
        f"{path}/{extraction_id}",
        None,
        headers,
        "get_batch_extraction",
        f"{path}/{{uuid}}",
        {"uuid": extraction_id},
    )


EVENTS_JOB_ID = "3f9a6c1e-8b2d-4e7f-9a10-2b3c4d5e6f70"


def write_job_events() -> None:
    """The jobs and account APIs, work sent with Prefer: respond-async, and a work item as the worker gets it."""
    headers = {"Content-Type": "application/json", "X-API-Key": EVENTS_KEY}
    asynchronous = {**headers, "Prefer": "respond-async"}
    api_event("POST", "/api/ocr/process", {"key": EVENTS_UPLOAD_KEY}, asynchronous, "ocr_by_key_async")
    two_files = {"engine": {"name": "local"}, "files": [{"uuid": EVENTS_UPLOAD_ID}, {"uuid": EVENTS_TIFF_ID}]}
    api_event("POST", "/v1/image-extraction", two_files, asynchronous, "extract_batch_async")
    auth = {"X-API-Key": EVENTS_KEY}
    api_event("GET", "/api/v1/jobs", None, auth, "list_jobs")
    job = f"/api/v1/jobs/{EVENTS_JOB_ID}"
    api_event("GET", job, None, auth, "get_job", "/api/v1/jobs/{jobId}", {"jobId": EVENTS_JOB_ID})
    api_event("DELETE", job, None, auth, "cancel_job", "/api/v1/jobs/{jobId}", {"jobId": EVENTS_JOB_ID})
    api_event("GET", "/api/v1/account", None, auth, "get_account")
    body = json.dumps({"job": EVENTS_JOB_ID, "item": 0})
    work_item = {
        "Records": [
            {
                "messageId": "0b3f6a52-9e7c-4d11-8a2f-6c5d4e3b2a10",
                "receiptHandle": "AQEBexample==",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1795287600000",
                    "SenderId": "AROAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": "1795287600001",
                },
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 - what SQS sends
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:snapscribe-local-WorkQueue",
                "awsRegion": "us-east-1",
            }
        ]
    }
    (ROOT / "events" / "work_item.json").write_text(json.dumps(work_item, indent=2) + "\n")


SEED_002_PROMPT = (
    "Please extract the information from the image using the following schema: "
    '{"invoice_no":"Invoice Number","date":"Invoice Date","items":[{"name":"Item Name","total":"Amount"}]}'
)
BOUNDARY = "----snapscribe-events-boundary"


def multipart_body(fields: dict[str, str], image: tuple[str, bytes, str] | None) -> bytes:
    parts = []
    for name, value in fields.items():
        parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    if image is not None:
        filename, data, content_type = image
        head = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        parts.append(head + data + b"\r\n")
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def multipart_event(name: str, fields: dict[str, str], image: tuple[str, bytes, str] | None) -> None:
    import sys

    sys.path.insert(0, str(ROOT / "tools"))
    from snapscribe_tools.gateway import build_event
    from snapscribe_tools.template import ApiRoute

    path = "/v1/ocr/image/extract"
    event = build_event(
        method="POST",
        raw_path=path,
        headers=[
            ("Host", "localhost:3000"),
            ("User-Agent", "curl/8.5.0"),
            ("Authorization", f"Bearer {EVENTS_KEY}"),
            ("Content-Type", f"multipart/form-data; boundary={BOUNDARY}"),
        ],
        body=multipart_body(fields, image),
        route=ApiRoute("POST", path, "events"),
        path_parameters={},
        binary_types=["multipart/form-data"],
        source_ip="127.0.0.1",
        stage="prod",
    )
    stable(event, name)
    (ROOT / "events" / f"{name}.json").write_text(json.dumps(event, indent=2) + "\n")


def write_ocr_extract_events() -> None:
    png = (ROOT / "samples" / "invoice.png").read_bytes()
    gif = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("P").save(gif, format="GIF")
    fields = {"model": "u1-ocr-extract", "scene": "general", "prompt": SEED_002_PROMPT}
    multipart_event("extract_structured", fields, ("invoice.png", png, "image/png"))
    multipart_event("extract_structured_missing_prompt", {"model": "u1-ocr-extract"}, ("invoice.png", png, "image/png"))
    multipart_event("extract_structured_missing_image", fields, None)
    # A GIF named .png and sent as image/png: the format comes from the bytes.
    multipart_event("extract_structured_gif", fields, ("invoice.png", gif.getvalue(), "image/png"))
    multipart_event("extract_structured_corrupt", fields, ("invoice.png", png[: len(png) // 2], "image/png"))
    multipart_event(
        "extract_structured_unknown_model", {**fields, "model": "gpt-4o"}, ("invoice.png", png, "image/png")
    )


# The events user's upload, with a fixed id so that the events agree with each other.
EVENTS_UPLOAD_ID = "0f8e2c55-6d1b-4d0a-9a53-3c1f4b2a7e10"
EVENTS_UPLOAD_KEY = f"ocr/events/{EVENTS_UPLOAD_ID}-scan 2026-11 (copy).png"
BUCKET = "snapscribe-local-filesbucket"


def write_file_events() -> None:
    from urllib.parse import quote_plus

    headers = {"Content-Type": "application/json", "X-API-Key": EVENTS_KEY}
    api_event(
        "POST",
        "/api/files/upload-url",
        {"filename": "scan 2026-11 (copy).png", "contentType": "image/png"},
        headers,
        "create_upload_url",
    )
    api_event(
        "POST",
        "/api/files/upload-url",
        {"filename": "notes.txt", "contentType": "text/plain"},
        headers,
        "create_upload_url_unsupported_type",
    )
    api_event(
        "POST",
        "/api/files/upload-url",
        {"filename": "../../etc/passwd", "contentType": "image/png"},
        headers,
        "create_upload_url_unsafe_filename",
    )
    api_event("POST", "/api/ocr/process", {"key": EVENTS_UPLOAD_KEY}, headers, "ocr_by_key")
    api_event(
        "POST", "/api/ocr/process", {"key": "uploads/events/../../secret.png"}, headers, "ocr_by_key_malformed_key"
    )
    api_event(
        "POST",
        "/api/ocr/process",
        {"key": f"ocr/someone-else/{EVENTS_UPLOAD_ID}-scan.png"},
        headers,
        "ocr_by_key_other_user",
    )
    api_event(
        "DELETE",
        f"/api/files/{EVENTS_UPLOAD_ID}",
        None,
        headers,
        "delete_upload",
        "/api/files/{uuid}",
        {"uuid": EVENTS_UPLOAD_ID},
    )
    # S3 delivers keys URL-encoded (spaces as '+', parentheses as %28 %29): the trigger decodes them.
    s3_event = {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2026-11-21T19:00:00.000Z",
                "eventName": "ObjectCreated:Post",
                "userIdentity": {"principalId": "AWS:AROAEXAMPLE"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {"x-amz-request-id": "EXAMPLE", "x-amz-id-2": "EXAMPLE"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "UploadCreated",
                    "bucket": {
                        "name": BUCKET,
                        "ownerIdentity": {"principalId": "EXAMPLE"},
                        "arn": f"arn:aws:s3:::{BUCKET}",
                    },
                    "object": {
                        "key": quote_plus(EVENTS_UPLOAD_KEY, safe="/"),
                        "size": 26437,
                        "eTag": "0123456789abcdef0123456789abcdef",
                        "sequencer": "0055AED6DCD90281E5",
                    },
                },
            }
        ]
    }
    (ROOT / "events" / "s3_upload_created.json").write_text(json.dumps(s3_event, indent=2) + "\n")
    schedule = {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-11-21T19:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/Housekeeping"],
        "detail": {},
    }
    (ROOT / "events" / "housekeeping_schedule.json").write_text(json.dumps(schedule, indent=2) + "\n")


if __name__ == "__main__":
    main()

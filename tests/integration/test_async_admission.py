"""A request sent as a job (`Prefer: respond-async`) is checked exactly as its synchronous form before any 202: the
image bytes' format and pixels, the URL's address (loopback, private, link-local, metadata: the SSRF checks of
images/fetch.py, made on the host before admission; the fetch itself stays in the worker), the engine and its
options. Each case through the real handlers under moto: the job form answers the synchronous form's status and body,
creates no job, holds nothing and fetches nothing."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import boto3
import pytest
from PIL import Image

from snapscribe.services import from_environment
from tests.conftest import PROJECT_ROOT, FileServer, body_of, invoke, load_event
from tests.integration.uploads import UPLOAD_ID, trigger

SAMPLE = (PROJECT_ROOT / "samples" / "invoice.png").read_bytes()
BOUNDARY = "----snapscribe-events-boundary"


def as_job(event: dict[str, Any]) -> dict[str, Any]:
    event = json.loads(json.dumps(event))
    event["headers"]["Prefer"] = "respond-async"
    event["multiValueHeaders"]["Prefer"] = ["respond-async"]
    return event


def _extract_image(**body: Any) -> dict[str, Any]:
    event = load_event("extract_image_base64")
    event["body"] = json.dumps({**json.loads(event["body"]), **body})
    return event


def _structured(image: bytes, fields: dict[str, str] | None = None) -> dict[str, Any]:
    event = load_event("extract_structured")
    fields = fields or {"model": "local", "prompt": 'Extract: {"invoice_no": ""}'}
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="notes.png"\r\n'
        "Content-Type: image/png\r\n\r\n".encode()
        + image
        + b"\r\n"
    )
    event["body"] = base64.b64encode(b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()).decode()
    return event


def _nothing_held_and_no_job() -> None:
    services = from_environment()
    assert services.jobs.store.list_for("events", limit=10, cursor=None).jobs == []
    assert list(services.accounts.store.ledger("events")) == []  # no hold was taken, not even one given back
    assert services.accounts.store.get_balance("events") == 100_000


@pytest.fixture
def funded(events_key: str, monkeypatch: pytest.MonkeyPatch) -> str:
    from_environment().accounts.store.add_credits(events_key, 99_000)
    monkeypatch.setenv("SNAPSCRIBE_URL_CONNECT_TIMEOUT", "0.5")  # a fetch that should never be tried ends soon
    return events_key


def _same_refusal(function: str, event: dict[str, Any]) -> dict[str, Any]:
    """The synchronous answer, and the job form's: the same 4xx and body, no job, nothing held."""
    now = invoke(function, event)
    assert 400 <= now["statusCode"] < 500, now["body"][:300]
    queued = invoke(function, as_job(event))
    assert (queued["statusCode"], body_of(queued)) == (now["statusCode"], body_of(now))
    _nothing_held_and_no_job()
    return dict(body_of(now))


URLS_NOT_ALLOWED = [
    "http://localhost:{port}/invoice.png",
    "http://127.0.0.1:{port}/invoice.png",
    "http://[::1]:{port}/invoice.png",
    "http://[::ffff:127.0.0.1]:{port}/invoice.png",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://169.254.7.7/invoice.png",
    "http://10.0.0.8/invoice.png",
    "http://192.168.1.20/invoice.png",
    "http://0.0.0.0:{port}/invoice.png",
]


@pytest.mark.parametrize("template", URLS_NOT_ALLOWED)
def test_an_image_url_the_service_may_not_reach_is_refused_before_a_job_as_the_call_refuses_it(
    funded: str, file_server: FileServer, template: str
) -> None:
    file_server.serve_bytes("/invoice.png", SAMPLE, "image/png")
    url = template.format(port=file_server.url.rsplit(":", 1)[1])
    good = "https://example.com/receipt.png"  # the second image: the refusal names the first
    body = _same_refusal(
        "ExtractImageFunction", _extract_image(inputMethod="url", images=[url, good, url], prompt="Read it.")
    )
    assert body == {"error": "images[0]: The image URL points to an address that is not allowed"}
    assert file_server.hits == []


def test_an_image_url_refused_later_in_the_list_is_named_by_its_place(funded: str) -> None:
    public = "http://93.184.215.14/a.png"  # vetted by its address alone: no name to resolve, nothing fetched
    body = _same_refusal(
        "ExtractImageFunction",
        _extract_image(inputMethod="url", images=[public, public, "http://169.254.169.254/"], prompt="Read it."),
    )
    assert body == {"error": "images[2]: The image URL points to an address that is not allowed"}


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/a.png", "images[0]: Only http and https image URLs are allowed"),
        ("http://user:secret@example.com/a.png", "images[0]: Image URLs with credentials are not allowed"),
        ("http://[::1/a.png", "images[0]: The image URL is malformed"),
    ],
)
def test_an_image_url_of_another_kind_is_refused_before_a_job(funded: str, url: str, message: str) -> None:
    body = _same_refusal("ExtractImageFunction", _extract_image(inputMethod="url", images=[url], prompt="Read it."))
    assert body == {"error": message}


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("1", (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"These are my notes, not an image.\n", "images[1]: The file is not an image in a supported format"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "images[1]: The file is not an image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "images[1]: The PNG image is corrupt and cannot be parsed"),
        (_png(9000, 9000), "images[1]: The image has 9000x9000 pixels, more than the 80000000 allowed"),
        (_png(10000, 9000), "images[1]: The image has more pixels than the service decodes"),
    ],
    ids=["text", "pdf", "corrupt-png", "over-the-pixel-limit", "decompression-bomb"],
)
def test_base64_bytes_that_are_no_image_it_reads_are_refused_before_a_job(
    funded: str, data: bytes, message: str
) -> None:
    images = [base64.b64encode(SAMPLE).decode(), base64.b64encode(data).decode()]
    body = _same_refusal("ExtractImageFunction", _extract_image(images=images))
    assert body["error"].startswith(message), body


def test_structured_extraction_of_a_text_file_as_its_image_is_refused_before_a_job(funded: str) -> None:
    body = _same_refusal("StructuredExtractionFunction", _structured(b"These are my notes, not an image.\n"))
    assert body["base_resp"]["status_code"] == 261001, body  # the contract's invalid image format


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"model": "gpt-4o", "prompt": "Read it."}, 100001),  # an engine the deployment does not offer
        ({"model": "local", "prompt": "Read it.", "scene": "dental"}, 100001),
        ({"model": "local", "prompt": "Fill " + "[" * 40 + "{}" + "]" * 40}, 100001),  # a template past its depth
    ],
    ids=["unknown-model", "unknown-scene", "template-too-deep"],
)
def test_structured_extractions_model_and_options_are_checked_before_a_job(
    funded: str, fields: dict[str, str], code: int
) -> None:
    body = _same_refusal("StructuredExtractionFunction", _structured(SAMPLE, fields))
    assert body["base_resp"]["status_code"] == code, body


@pytest.mark.parametrize(
    "engine",
    [
        {"name": "tesseract-9"},
        {"name": "local", "options": {"language": "xx"}},
        {"name": "local", "options": {"languages": 7}},
    ],
    ids=["unknown-engine", "unread-language", "languages-not-a-list"],
)
def test_batch_extractions_engine_and_options_are_checked_before_a_job(
    uploaded: boto3.session.Session, engine: dict[str, Any]
) -> None:
    trigger()  # the upload is checked and ready: only the engine is wrong
    event = load_event("extract_batch")
    event["body"] = json.dumps({"engine": engine, "files": [{"uuid": UPLOAD_ID}]})
    body = _same_refusal("BatchExtractionFunction", event)
    assert set(body) == {"error"}, body


def test_a_good_request_is_still_admitted_as_a_job(funded: str) -> None:
    accepted = invoke("ExtractImageFunction", as_job(_extract_image()))
    assert accepted["statusCode"] == 202, accepted["body"]
    assert len(from_environment().jobs.store.list_for("events", limit=10, cursor=None).jobs) == 1

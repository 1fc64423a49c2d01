"""The Textract engine through the real boto3 client: its serializer, parameter validation and response parser, with
the HTTP send answered in Textract's wire format by a before-send handler (moto has no AnalyzeDocument); and once
over real HTTP, against the loopback stand-in."""

from __future__ import annotations

import base64
import io
import json
import os
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectTimeoutError, ReadTimeoutError
from botocore.retries.standard import ExponentialBackoff
from PIL import Image, ImageDraw

from snapscribe.engines import textract, textract_documents
from snapscribe.engines.base import ExtractionRequest, page_engine
from snapscribe.engines.compose import page_token_hold
from snapscribe.engines.textract import TextractEngine, template_queries
from snapscribe.errors import (
    EngineError,
    EngineInputTooLarge,
    EngineThrottled,
    EngineTimeout,
    EngineUnavailable,
    LanguageNotSupported,
)
from snapscribe.images.prepare import PreparedImage
from snapscribe_tools.standins.textract import serve

RETRIES = 2  # botocore's max_attempts: retries after the first request


class _Raw:
    """What AWSResponse reads a body from."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


class Wire:
    """Stands where botocore would send: records each prepared request, answers the next queued answer (the last one
    again once the queue is down to it). An answer is (status, JSON body) or an exception to raise."""

    def __init__(self) -> None:
        self.requests: list[AWSPreparedRequest] = []
        self.answers: list[tuple[int, dict[str, Any]] | Exception] = []

    def __call__(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        status, body = answer
        headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "test-request"}
        if status >= 400:
            headers["x-amzn-ErrorType"] = f"{body['__type']}:http://internal.amazon.com/coral/textract/"
        return AWSResponse(request.url, status, headers, _Raw(json.dumps(body).encode()))  # type: ignore[arg-type]

    def target(self, index: int = -1) -> str:
        value = self.requests[index].headers["X-Amz-Target"]
        return value.decode() if isinstance(value, bytes) else str(value)

    def body(self, index: int = -1) -> dict[str, Any]:
        body = self.requests[index].body
        return dict(json.loads(body if isinstance(body, bytes | str) else b"{}"))

    def sent_bytes(self, index: int = -1) -> bytes:
        return base64.b64decode(self.body(index)["Document"]["Bytes"])


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> Wire:
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)  # retries, without waiting
    monkeypatch.delenv("AWS_ENDPOINT_URL_TEXTRACT", raising=False)
    return Wire()


@pytest.fixture
def engine(wire: Wire) -> TextractEngine:
    client = boto3.client(
        "textract",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": RETRIES, "mode": "standard"}),
    )
    client.meta.events.register("before-send.textract.*", wire)  # type: ignore[arg-type]  # it answers
    return TextractEngine(client=client)


def png(width: int = 1000, height: int = 800, mode: str = "RGB") -> bytes:
    image = Image.new(mode, (width, height), "white")
    ImageDraw.Draw(image).rectangle((10, 10, width // 2, height // 4), fill="black")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def page(data: bytes | None = None, mime: str = "image/png", size: tuple[int, int] = (1000, 800)) -> PreparedImage:
    return PreparedImage(data or png(*size), mime, mime.split("/")[1].upper(), *size)


def block(
    kind: str, ident: str, text: str = "", box: tuple[float, ...] = (), confidence: float = 99.0, **extra: Any
) -> dict[str, Any]:
    found: dict[str, Any] = {"BlockType": kind, "Id": ident, "Confidence": confidence, **extra}
    if text:
        found["Text"] = text
    if box:
        left, top, width, height = box
        found["Geometry"] = {"BoundingBox": {"Width": width, "Height": height, "Left": left, "Top": top}}
    return found


def answer(*blocks: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    whole = block("PAGE", "page", box=(0, 0, 1, 1))
    whole["Relationships"] = [{"Type": "CHILD", "Ids": [item["Id"] for item in blocks if item["BlockType"] == "LINE"]}]
    return 200, {"DocumentMetadata": {"Pages": 1}, "Blocks": [whole, *blocks], "DetectDocumentTextModelVersion": "1.0"}


def error(code: str, status: int = 400) -> tuple[int, dict[str, Any]]:
    return status, {"__type": code, "Message": f"{code} said so"}


def lines_answer() -> tuple[int, dict[str, Any]]:
    """Two rows out of reading order, the first of two cells given right cell first, and a form's KEY block."""
    return answer(
        block("LINE", "below", "Below", (0.1, 0.5, 0.3, 0.05), 88.0),
        block("LINE", "right", "Right", (0.6, 0.1, 0.2, 0.05), 75.5),
        block("WORD", "right-word", "Right", (0.6, 0.1, 0.2, 0.05), 75.5),
        block("LINE", "left", "Left", (0.1, 0.1, 0.3, 0.05), 99.9),
        block("KEY_VALUE_SET", "key", box=(0.1, 0.1, 0.3, 0.05), EntityTypes=["KEY"]),
    )


def test_read_page_sends_the_png_and_maps_lines_to_pixels(engine: TextractEngine, wire: Wire) -> None:
    wire.answers = [lines_answer()]
    image = page()
    lines = engine.read_page(image, page=2, languages=["en", "DE"])
    assert wire.target() == "Textract.DetectDocumentText"
    assert wire.body() == {"Document": {"Bytes": base64.b64encode(image.data).decode()}}
    assert wire.sent_bytes() == image.data
    by_text = {line.text: line for line in lines}
    assert sorted(by_text) == ["Below", "Left", "Right"]  # only LINE blocks
    right = by_text["Right"]
    assert (right.x0, right.y0, right.x1, right.y1) == pytest.approx((600, 80, 800, 120))
    assert right.score == pytest.approx(0.755)
    assert {line.page for line in lines} == {2}


def test_extract_composes_the_lines_in_reading_order(engine: TextractEngine, wire: Wire) -> None:
    wire.answers = [lines_answer()]
    result = engine.extract(ExtractionRequest(images=[page(), page()], prompt="Read it"))
    assert result.text == "Left Right\nBelow\n\nLeft Right\nBelow"
    assert [wire.target(index) for index in range(2)] == ["Textract.DetectDocumentText"] * 2
    assert result.total_tokens <= engine.token_hold(2, "Read it") == page_token_hold(2, "Read it")
    as_json = engine.extract(ExtractionRequest(images=[page()], prompt="Read it", json_mode=True))
    assert json.loads(as_json.text) == {"text": "Left Right\nBelow", "lines": ["Left Right", "Below"]}
    assert wire.target() == "Textract.DetectDocumentText"  # no template: nothing to ask


def test_languages_outside_textract_are_refused_before_any_call(engine: TextractEngine, wire: Wire) -> None:
    assert engine.languages() == frozenset({"en", "es", "de", "it", "fr", "pt"})
    with pytest.raises(LanguageNotSupported, match=r"does not read ja, zh; it reads de, en, es, fr, it, pt"):
        engine.read_page(page(), languages=["en", "ja", "zh"])
    with pytest.raises(LanguageNotSupported):
        engine.extract(ExtractionRequest(images=[page()], prompt="", languages=("ar",)))
    assert wire.requests == []


def test_the_engine_is_a_page_engine(engine: TextractEngine) -> None:
    assert (engine.name, engine.reads_pages_apart, page_engine(engine)) == ("textract", True, engine)
    assert engine.max_image_side is not None
    assert engine.max_image_side <= textract.MAX_SIDE


@pytest.mark.parametrize("fmt", ["TIFF", "BMP", "WEBP"])
def test_formats_textract_does_not_take_are_sent_as_png(engine: TextractEngine, wire: Wire, fmt: str) -> None:
    buffer = io.BytesIO()
    Image.open(io.BytesIO(png(300, 200))).save(buffer, format=fmt)
    wire.answers = [answer(block("LINE", "one", "Hello", (0.1, 0.1, 0.5, 0.2)))]
    lines = engine.read_page(page(buffer.getvalue(), f"image/{fmt.lower()}", (300, 200)))
    sent = wire.sent_bytes()
    assert sent.startswith(b"\x89PNG\r\n\x1a\n")
    assert Image.open(io.BytesIO(sent)).size == (300, 200)
    assert (lines[0].x0, lines[0].y1) == pytest.approx((30, 60))


def test_a_transparent_png_is_flattened_on_white(engine: TextractEngine, wire: Wire) -> None:
    text = Image.new("RGBA", (60, 40), (0, 0, 0, 0))
    ImageDraw.Draw(text).rectangle((10, 10, 30, 20), fill=(0, 0, 0, 255))
    buffer = io.BytesIO()
    text.save(buffer, format="PNG")
    wire.answers = [answer()]
    engine.read_page(page(buffer.getvalue(), size=(60, 40)))
    sent = Image.open(io.BytesIO(wire.sent_bytes()))
    assert (sent.format, sent.mode, sent.getpixel((0, 0)), sent.getpixel((15, 15))) == (
        "PNG",
        "RGB",
        (255, 255, 255),
        (0, 0, 0),
    )


def _noise_png(size: int = 120) -> bytes:
    noise = Image.frombytes("RGB", (size, size), os.urandom(size * size * 3))
    buffer = io.BytesIO()
    noise.save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_png_over_the_limit_goes_as_jpeg(engine: TextractEngine, wire: Wire, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _noise_png()
    monkeypatch.setattr(textract, "MAX_DOCUMENT_BYTES", len(data) - 1)  # a small limit stands for 10 MB
    wire.answers = [answer()]
    assert engine.read_page(page(data, size=(120, 120))) == []
    sent = wire.sent_bytes()
    assert sent.startswith(b"\xff\xd8\xff")
    assert len(sent) < len(data)
    assert Image.open(io.BytesIO(sent)).size == (120, 120)


def test_a_page_too_large_even_as_jpeg_is_refused(
    engine: TextractEngine, wire: Wire, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(textract, "MAX_DOCUMENT_BYTES", 200)
    with pytest.raises(EngineInputTooLarge, match="even as a JPEG"):
        engine.read_page(page(_noise_png(), size=(120, 120)))
    assert wire.requests == []


TEMPLATE = {
    "invoice_no": "Invoice Number",
    "total": "",
    "buyer": {"name": "Buyer name"},
    "items": [{"name": "Item", "total": "Amount"}],
}
PAGE_LINES = (
    block("LINE", "l1", "ACME TRADING", (0.1, 0.05, 0.4, 0.04)),
    block("LINE", "l2", "Invoice Number", (0.1, 0.2, 0.3, 0.03)),
    block("LINE", "l3", "8841", (0.6, 0.2, 0.1, 0.03)),
    block("LINE", "l4", "Buyer name", (0.1, 0.3, 0.3, 0.03)),
    block("LINE", "l5", "Ana Silva", (0.6, 0.3, 0.2, 0.03)),
    block("LINE", "l6", "Total", (0.1, 0.5, 0.2, 0.03)),
    block("LINE", "l7", "12.50", (0.6, 0.5, 0.1, 0.03)),
)


def query(alias: str, text: str, *results: dict[str, Any]) -> list[dict[str, Any]]:
    relations = [{"Type": "ANSWER", "Ids": [result["Id"] for result in results]}] if results else []
    ident = f"q{alias}"
    return [block("QUERY", ident, Query={"Text": text, "Alias": alias}, Relationships=relations), *results]


def test_template_fields_are_asked_as_queries_and_sure_answers_win(engine: TextractEngine, wire: Wire) -> None:
    request = ExtractionRequest(images=[page()], prompt="Fill it", json_mode=True, template=TEMPLATE)
    status, body = answer(
        *PAGE_LINES,
        *query("/total", "What is the total?", block("QUERY_RESULT", "r1", "13.00", (0.6, 0.5, 0.1, 0.03), 95.0)),
        *query("/invoice_no", "What is the Invoice Number?", block("QUERY_RESULT", "r2", "9999", (0, 0, 1, 1), 30.0)),
        *query("/buyer/name", "What is the Buyer name?"),  # no answer at all
    )
    wire.answers = [(status, body)]
    result = engine.extract(request)
    assert len(wire.requests) == 1
    assert wire.target() == "Textract.AnalyzeDocument"
    sent = wire.body()
    assert sent["FeatureTypes"] == ["FORMS", "QUERIES"]
    assert sent["QueriesConfig"]["Queries"] == [
        {"Text": "What is the Invoice Number?", "Alias": "/invoice_no"},
        {"Text": "What is the total?", "Alias": "/total"},
        {"Text": "What is the Buyer name?", "Alias": "/buyer/name"},
    ]  # the list is left to the filler
    filler_only = engine.compose(request, engine.read_page(page(), 0), 1)  # the same lines, no query
    filled, expected = json.loads(result.text), json.loads(filler_only.text)
    assert expected["invoice_no"] == "8841"
    assert expected["total"] == "12.50"
    assert filled == {**expected, "total": "13.00"}
    assert result.fields is not None
    assert filler_only.fields is not None
    assert result.fields["/total"] == {"value": "13.00", "confidence": 0.95, "page": 0, "box": [600, 400, 700, 424]}
    assert result.fields["/invoice_no"] == filler_only.fields["/invoice_no"]  # 30 < 50: the filler's stays
    assert result.fields["/buyer/name"] == filler_only.fields["/buyer/name"]


def test_over_pages_the_surest_answer_fills_the_field(engine: TextractEngine, wire: Wire) -> None:
    unsure = answer(*PAGE_LINES, *query("/total", "q", block("QUERY_RESULT", "r", "1.00", (0, 0, 0.1, 0.1), 60.0)))
    sure = answer(*PAGE_LINES, *query("/total", "q", block("QUERY_RESULT", "r", "2.00", (0, 0, 0.1, 0.1), 90.0)))
    wire.answers = [unsure, sure]
    result = engine.extract(ExtractionRequest(images=[page(), page()], prompt="", json_mode=True, template=TEMPLATE))
    assert [wire.target(index) for index in range(2)] == ["Textract.AnalyzeDocument"] * 2
    assert json.loads(result.text)["total"] == "2.00"
    assert result.fields is not None
    assert result.fields["/total"]["page"] == 1


def test_template_queries_are_few_ascii_and_aliased_by_pointer() -> None:
    many = {f"field_{number}": "" for number in range(20)}
    assert len(template_queries(many)) == textract.MAX_QUERIES == 15
    assert template_queries(
        {
            "due": "What is the due date?",
            "número": "Número de factura",  # the key cannot be an alias: left to the filler
            "ref": "Número:",
            "a/b": 0,
            "名前": "",
            "dueDate": None,
            "lines": ["text"],
        }
    ) == [
        {"Text": "What is the due date?", "Alias": "/due"},
        {"Text": "What is the Numero?", "Alias": "/ref"},
        {"Text": "What is the a b?", "Alias": "/a~1b"},
        {"Text": "What is the due date?", "Alias": "/dueDate"},
    ]
    assert template_queries([{"name": ""}]) == template_queries("text") == []


@pytest.mark.parametrize(
    ("code", "status", "raised", "message"),
    [
        ("AccessDeniedException", 400, EngineUnavailable, "must allow textract:DetectDocumentText"),
        ("InvalidParameterException", 400, EngineError, "Textract could not read the page: InvalidParameterException"),
        ("UnsupportedDocumentException", 400, EngineError, "Textract could not read the page"),
        ("BadDocumentException", 400, EngineError, "Textract could not read the page"),
        ("DocumentTooLargeException", 400, EngineInputTooLarge, "too large for Textract"),
        ("SomethingNewException", 400, EngineError, "Textract failed: SomethingNewException"),
    ],
)
def test_errors_that_are_not_retried(
    engine: TextractEngine, wire: Wire, code: str, status: int, raised: type[Exception], message: str
) -> None:
    wire.answers = [error(code, status)]
    with pytest.raises(raised, match=message) as caught:
        engine.read_page(page())
    assert not isinstance(caught.value, EngineThrottled)
    assert isinstance(caught.value.__cause__, ClientError)
    assert len(wire.requests) == 1


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ThrottlingException", 400),
        ("ProvisionedThroughputExceededException", 400),
        ("LimitExceededException", 400),
        ("InternalServerError", 500),
    ],
)
def test_throttling_is_retried_then_throttled(engine: TextractEngine, wire: Wire, code: str, status: int) -> None:
    wire.answers = [error(code, status)]
    with pytest.raises(EngineThrottled, match=code) as caught:
        engine.read_page(page())
    assert caught.value.retryable
    assert len(wire.requests) == 1 + RETRIES  # botocore's standard mode retried, with (here zero) backoff


def test_a_passing_throttle_is_retried_away(engine: TextractEngine, wire: Wire) -> None:
    wire.answers = [error("ThrottlingException"), lines_answer()]
    assert len(engine.read_page(page())) == 3
    assert len(wire.requests) == 2


@pytest.mark.parametrize("timeout", [ReadTimeoutError, ConnectTimeoutError])
def test_timeouts(engine: TextractEngine, wire: Wire, timeout: type[ReadTimeoutError | ConnectTimeoutError]) -> None:
    wire.answers = [timeout(endpoint_url="https://textract.us-east-1.amazonaws.com/")]
    with pytest.raises(EngineTimeout, match="did not answer in time"):
        engine.read_page(page())
    assert len(wire.requests) == 1 + RETRIES


def test_the_engine_makes_one_client_with_its_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL_TEXTRACT", raising=False)
    engine = TextractEngine(region="eu-west-1", timeout_seconds=12, max_attempts=2)
    made: list[Any] = []
    threads = [threading.Thread(target=lambda: made.append(engine._textract())) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client = made[0]
    assert all(other is client for other in made)
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.endpoint_url == "https://textract.eu-west-1.amazonaws.com"
    config = client.meta.config
    assert (config.read_timeout, config.connect_timeout) == (12, 5)
    assert config.retries == {"mode": "standard", "total_max_attempts": 3}  # max_attempts counts the retries


@pytest.fixture
def stand_in() -> Iterator[str]:
    server, url = serve()
    yield url
    server.shutdown()
    server.server_close()


def test_over_http_against_the_stand_in(stand_in: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_TEXTRACT", stand_in)  # the engine's own client, as deployed
    engine = TextractEngine(region="us-east-1")
    result = engine.extract(ExtractionRequest(images=[page(size=(400, 250))], prompt="Read"))
    assert result.text == "stand-in line 1\nstand-in line 2"
    template = {"total": "", "items": [{"name": ""}]}
    filled = engine.extract(
        ExtractionRequest(images=[page(size=(400, 250))], prompt="", json_mode=True, template=template)
    )
    assert json.loads(filled.text)["total"] == "stand-in answer 1"
    client = boto3.client("textract", region_name="us-east-1")
    with pytest.raises(ClientError) as caught:
        client.detect_document_text(Document={"Bytes": b"not an image"})
    assert caught.value.response["Error"]["Code"] == "UnsupportedDocumentException"


# --- whole documents: the asynchronous API ---------------------------------------------------------
BUCKET, KEY = "snapscribe-files", "ocr/alice/3f2a-report.pdf"


class Time:
    """The engine's clock and sleep: a sleep moves the clock on."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> Time:
    return Time()


@pytest.fixture
def documents(engine: TextractEngine, clock: Time) -> TextractEngine:
    """The engine on the same wire, with an injected sleep and clock."""
    return TextractEngine(client=engine._textract(), sleep=clock.sleep, clock=clock.clock)


def started(job_id: str = "job-1") -> tuple[int, dict[str, Any]]:
    return 200, {"JobId": job_id}


def status(state: str, **extra: Any) -> tuple[int, dict[str, Any]]:
    return 200, {"JobStatus": state, **extra}


def results(pages: int, *blocks: dict[str, Any], next_token: str | None = None) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"JobStatus": "SUCCEEDED", "DocumentMetadata": {"Pages": pages}, "Blocks": list(blocks)}
    if next_token:
        body["NextToken"] = next_token
    return 200, body


def on_page(page: int, *blocks: dict[str, Any]) -> list[dict[str, Any]]:
    return [{**item, "Page": page} for item in blocks]


def test_read_document_starts_a_job_polls_it_and_pages_through_its_results(
    documents: TextractEngine, wire: Wire, clock: Time
) -> None:
    first = on_page(1, block("PAGE", "p1", box=(0, 0, 1, 1)), block("LINE", "a", "First", (0.1, 0.1, 0.5, 0.1), 90.0))
    second = on_page(2, block("LINE", "b", "Second", (0.2, 0.5, 0.5, 0.25)), block("WORD", "w", "Second", (0, 0, 1, 1)))
    third = on_page(3, block("LINE", "c", "Third", (0.5, 0.5, 0.5, 0.5)))
    wire.answers = [
        started(),
        status("IN_PROGRESS"),
        results(3, *first, next_token="token-2"),
        results(3, *second, next_token="token-3"),
        results(3, *third),
    ]
    lines = documents.read_document(
        BUCKET, KEY, page_sizes=[(1000, 800), (500, 400)], deadline=clock.now + 60, client_token="item-token"
    )
    assert [wire.target(index) for index in range(5)] == [
        "Textract.StartDocumentTextDetection",
        *["Textract.GetDocumentTextDetection"] * 4,
    ]
    assert wire.body(0) == {
        "DocumentLocation": {"S3Object": {"Bucket": BUCKET, "Name": KEY}},
        "ClientRequestToken": "item-token",
    }
    assert [wire.body(index) for index in range(1, 5)] == [
        {"JobId": "job-1"},
        {"JobId": "job-1"},
        {"JobId": "job-1", "NextToken": "token-2"},
        {"JobId": "job-1", "NextToken": "token-3"},
    ]
    assert clock.sleeps == [1.0]  # polled at once, then once more after a second
    assert [(line.text, line.page) for line in lines] == [("First", 0), ("Second", 1), ("Third", 2)]
    first_line, second_line, third_line = lines
    assert (first_line.x0, first_line.y0, first_line.x1, first_line.y1) == pytest.approx((100, 80, 600, 160))
    assert first_line.score == pytest.approx(0.9)
    assert (second_line.x0, second_line.y0, second_line.x1, second_line.y1) == pytest.approx((100, 200, 350, 300))
    width, height = textract_documents.NOMINAL_PAGE_SIZE  # a page beyond the sizes given
    assert (third_line.x0, third_line.y1) == pytest.approx((width / 2, height))


def test_a_redelivered_item_sends_the_same_token_and_without_one_none_is_sent(
    documents: TextractEngine, wire: Wire, clock: Time
) -> None:
    for _ in range(2):
        wire.answers = [started(), results(1)]
        assert documents.read_document(BUCKET, KEY, page_sizes=None, deadline=clock.now, client_token="t-1") == []
    starts = [wire.body(index) for index, _ in enumerate(wire.requests) if "Start" in wire.target(index)]
    assert [body["ClientRequestToken"] for body in starts] == ["t-1", "t-1"]
    wire.answers = [started(), results(1)]
    documents.read_document(BUCKET, KEY, page_sizes=None, deadline=clock.now)
    assert "ClientRequestToken" not in wire.body(-2)
    assert clock.sleeps == []  # finished at the first poll: no wait, even past the deadline


def test_polling_backs_off_from_one_second_to_five(documents: TextractEngine, wire: Wire, clock: Time) -> None:
    wire.answers = [started(), *[status("IN_PROGRESS")] * 6, results(1)]
    documents.read_document(BUCKET, KEY, page_sizes=[(100, 100)], deadline=clock.now + 600)
    assert clock.sleeps == [1.0, 2.0, 4.0, 5.0, 5.0, 5.0]


def test_past_the_deadline_the_read_times_out_without_sleeping_beyond_it(
    documents: TextractEngine, wire: Wire, clock: Time
) -> None:
    wire.answers = [started(), status("IN_PROGRESS")]
    deadline = clock.now + 10
    with pytest.raises(EngineTimeout, match="did not finish reading the document in time") as caught:
        documents.read_document(BUCKET, KEY, page_sizes=None, deadline=deadline)
    assert not caught.value.retryable  # a job's item fails, its hold comes back
    assert clock.sleeps == [1.0, 2.0, 4.0, 3.0]
    assert clock.now == deadline
    assert len(wire.requests) == 1 + 5  # a last look at the deadline, then no more


@pytest.mark.parametrize(
    ("answered", "message"),
    [
        (status("FAILED", StatusMessage="Unsupported file"), "could not read the document: Unsupported file"),
        (status("FAILED"), "could not read the document: no reason given"),
        (
            status("PARTIAL_SUCCESS", Warnings=[{"ErrorCode": "UNSUPPORTED_DOCUMENT", "Pages": [2, 5]}]),
            r"read only part of the document \(page 2, 5: UNSUPPORTED_DOCUMENT\); nothing is kept",
        ),
        (results(2, *on_page(1, block("LINE", "a", "A", (0, 0, 1, 1)))), "Textract read 2 of the document's 3 pages"),
    ],
)
def test_a_failed_or_partial_job_is_an_engine_error(
    documents: TextractEngine, wire: Wire, clock: Time, answered: tuple[int, dict[str, Any]], message: str
) -> None:
    wire.answers = [started(), answered]
    with pytest.raises(EngineError, match=message) as caught:
        documents.read_document(BUCKET, KEY, page_sizes=[(10, 10)] * 3, deadline=clock.now + 60)
    assert type(caught.value) is EngineError


def test_throttled_calls_are_retried_then_throttled(documents: TextractEngine, wire: Wire, clock: Time) -> None:
    wire.answers = [started(), error("ThrottlingException"), results(1)]
    assert documents.read_document(BUCKET, KEY, page_sizes=None, deadline=clock.now + 60) == []
    assert len(wire.requests) == 3  # botocore retried the poll
    wire.requests.clear()
    wire.answers = [error("LimitExceededException")]  # too many concurrent Textract jobs
    with pytest.raises(EngineThrottled, match="LimitExceededException") as caught:
        documents.read_document(BUCKET, KEY, page_sizes=None, deadline=clock.now + 60, client_token="t")
    assert caught.value.retryable  # the message comes back, and its token finds the same job
    assert len(wire.requests) == 1 + RETRIES


@pytest.mark.parametrize(
    ("code", "raised", "message"),
    [
        ("InvalidS3ObjectException", EngineError, "could not read the file from the bucket"),
        ("AccessDeniedException", EngineUnavailable, "must allow textract:StartDocumentTextDetection and textract:Get"),
        ("UnsupportedDocumentException", EngineError, "could not read the document"),
        ("DocumentTooLargeException", EngineInputTooLarge, "document is too large for Textract"),
        ("IdempotentParameterMismatchException", EngineError, "Textract failed: IdempotentParameterMismatchException"),
    ],
)
def test_start_errors(
    documents: TextractEngine, wire: Wire, clock: Time, code: str, raised: type[Exception], message: str
) -> None:
    wire.answers = [error(code)]
    with pytest.raises(raised, match=message):
        documents.read_document(BUCKET, KEY, page_sizes=None, deadline=clock.now + 60)
    assert len(wire.requests) == 1


def test_read_document_refuses_other_languages_before_any_call(documents: TextractEngine, wire: Wire) -> None:
    with pytest.raises(LanguageNotSupported):
        documents.read_document(BUCKET, KEY, page_sizes=None, deadline=0, languages=["ja"])
    assert wire.requests == []


def test_read_document_over_http_against_the_stand_in(monkeypatch: pytest.MonkeyPatch) -> None:
    server, url = serve(document_pages={KEY: 3})
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_TEXTRACT", url)
        clock = Time()
        engine = TextractEngine(region="us-east-1", sleep=clock.sleep, clock=clock.clock)
        for _ in range(2):  # a redelivery: the same token, the same Textract job
            lines = engine.read_document(
                BUCKET, KEY, page_sizes=[(1700, 2200)] * 3, deadline=clock.now + 60, client_token="tok"
            )
            assert [(line.page, line.text) for line in lines] == [
                (page - 1, f"stand-in page {page} line {number}") for page in (1, 2, 3) for number in (1, 2)
            ]
        assert (server.documents.starts, len(server.documents.jobs)) == (2, 1)
        assert clock.sleeps == [1.0]  # IN_PROGRESS once, then SUCCEEDED (the second read found it done)
    finally:
        server.shutdown()
        server.server_close()

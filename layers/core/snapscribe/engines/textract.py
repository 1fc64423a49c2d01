"""Amazon Textract: one synchronous call per page, its LINE blocks as OcrLines, so the answer is composed as the local
engine's is (reading order, language detection, word counts, the template filler). A dict template's scalar fields
are asked as queries (AnalyzeDocument, which returns the LINEs too, so it replaces DetectDocumentText for that page);
a sure answer fills its field. In a job, a multi-page PDF or TIFF upload is read whole from the bucket by the
asynchronous API instead (read_document, engines/textract_documents.py)."""

from __future__ import annotations

import io
import json
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from botocore import exceptions as aws
from PIL import Image

from snapscribe.engines.base import ExtractionRequest, ExtractionResult
from snapscribe.engines.compose import MAX_TEXT_TOKENS_PER_PAGE, compose_lines, page_token_hold
from snapscribe.engines.filler.fields import field_words
from snapscribe.engines.layout import OcrLine
from snapscribe.engines.textract_documents import page_lines, pixel_box, read_document, unit_interval
from snapscribe.engines.tokens import estimate_tokens
from snapscribe.errors import (
    EngineError,
    EngineInputTooLarge,
    EngineThrottled,
    EngineTimeout,
    EngineUnavailable,
    LanguageNotSupported,
)
from snapscribe.images.prepare import PreparedImage

if TYPE_CHECKING:
    from mypy_boto3_textract import TextractClient
    from mypy_boto3_textract.type_defs import QueryTypeDef

# Textract's printed-text languages (English, Spanish, German, Italian, French, Portuguese).
TEXTRACT_LANGUAGES = frozenset({"en", "es", "de", "it", "fr", "pt"})
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024  # the synchronous operations' limit (and the Bytes blob's, in the model)
MAX_SIDE = 10000  # Textract reads images up to 10000 px a side
MAX_QUERIES = 15  # queries per page in a synchronous AnalyzeDocument
QUERY_CONFIDENCE = 50.0  # a query answer below this leaves the field to the filler
JPEG_QUALITIES = (90, 80, 70)  # tried in turn when lossless PNG is over the byte limit
_QUERY_TEXT_MAX = 200  # Query.Text and Query.Alias: 1-200 printable ASCII characters
_THROTTLED = {
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "LimitExceededException",
    "InternalServerError",
}
_UNREADABLE = {"InvalidParameterException", "UnsupportedDocumentException", "BadDocumentException"}
_PAGE_ACTIONS = ("DetectDocumentText", "AnalyzeDocument")


@dataclass(frozen=True)
class QueryAnswer:
    """Textract's answer to one field's query: as a field's source (the filler's FieldSource.to_json)."""

    value: str
    confidence: float  # 0..1
    page: int
    box: tuple[float, float, float, float] | None

    def to_json(self) -> dict[str, Any]:
        box = None if self.box is None else [round(coordinate) for coordinate in self.box]
        return {"value": self.value, "confidence": round(self.confidence, 3), "page": self.page, "box": box}


class TextractEngine:
    """A PageEngine: the pages of a job are read by different workers, one call each, then composed; a job's
    multi-page PDF or TIFF upload is read whole instead (read_document: one Textract job for the file)."""

    name = "textract"
    # A 300 dpi A4 scan (3508 px) stays whole, far under Textract's 10000 px; a photo this size is a few MB as JPEG.
    max_image_side: int | None = 4096
    reads_pages_apart = True

    def __init__(
        self,
        *,
        client: Any | None = None,
        region: str | None = None,
        timeout_seconds: float = 30,
        max_attempts: int = 4,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client: TextractClient | None = client
        self._region = region
        self._timeout_seconds = timeout_seconds
        self._max_attempts = max_attempts
        self._client_lock = threading.Lock()
        self._sleep, self._clock = sleep, clock  # read_document's polling: its waits, and the deadline's clock

    def _textract(self) -> TextractClient:
        # Made once, under a lock: a batch's pages call from several threads.
        with self._client_lock:
            if self._client is None:
                self._client = self._new_client()
            return self._client

    def _new_client(self) -> TextractClient:
        # botocore's, not boto3's (engines do not import boto3); no endpoint_url, so AWS_ENDPOINT_URL_TEXTRACT can
        # point it at a stand-in.
        import botocore.session
        from botocore.config import Config

        # botocore's max_attempts counts the retries after the first request; standard mode backs off between them.
        retries: Any = {"max_attempts": self._max_attempts, "mode": "standard"}
        config = Config(read_timeout=self._timeout_seconds, connect_timeout=5, retries=retries)
        with textract_errors():
            client = botocore.session.get_session().create_client("textract", region_name=self._region, config=config)
        return cast("TextractClient", client)

    def read_page(self, image: PreparedImage, page: int = 0, languages: Sequence[str] = ()) -> list[OcrLine]:
        check_languages(languages)
        data = document_bytes(image)
        with textract_errors():
            response = self._textract().detect_document_text(Document={"Bytes": data})
        return page_lines(response.get("Blocks", []), image.width, image.height, page)

    def read_page_with_answers(
        self, image: PreparedImage, template: Any, page: int = 0, languages: Sequence[str] = ()
    ) -> tuple[list[OcrLine], dict[str, QueryAnswer]]:
        """The page's lines and the template's query answers (by JSON pointer), from one AnalyzeDocument call: its
        answer carries the page's LINE blocks too, so DetectDocumentText is not called as well. Per page, so a job's
        worker can call it for its page; without a query to ask it is read_page."""
        queries = template_queries(template)
        if not queries:
            return self.read_page(image, page, languages), {}
        check_languages(languages)
        data = document_bytes(image)
        with textract_errors():
            response = self._textract().analyze_document(
                Document={"Bytes": data}, FeatureTypes=["FORMS", "QUERIES"], QueriesConfig={"Queries": queries}
            )
        blocks = response.get("Blocks", [])
        return page_lines(blocks, image.width, image.height, page), query_answers(blocks, image, page)

    def read_document(
        self,
        bucket: str,
        key: str,
        *,
        page_sizes: Sequence[tuple[int, int]] | None,
        deadline: float,
        client_token: str | None = None,
        languages: Sequence[str] = (),
    ) -> list[OcrLine]:
        """Every page of a PDF or TIFF in S3, read whole by the asynchronous API (Textract fetches the object with
        this function's permissions), as OcrLines of 0-based pages in the pixels of `page_sizes`. Polled until the
        monotonic `deadline` (EngineTimeout past it); `client_token` (a job item's, stable across redeliveries)
        makes a repeated call resume the Textract job the first one started."""
        check_languages(languages)
        with textract_errors(document=True):
            return read_document(
                self._textract(),
                bucket,
                key,
                page_sizes=page_sizes,
                deadline=deadline,
                client_token=client_token,
                sleep=self._sleep,
                clock=self._clock,
            )

    def languages(self) -> frozenset[str]:
        return TEXTRACT_LANGUAGES

    def compose(self, request: ExtractionRequest, lines: Sequence[OcrLine], pages: int) -> ExtractionResult:
        return compose_lines(request, lines, pages)

    def extract(self, request: ExtractionRequest) -> ExtractionResult:
        check_languages(request.languages)
        template = request.template if request.json_mode else None  # no dict template: no query, read_page
        lines: list[OcrLine] = []
        answers: dict[str, QueryAnswer] = {}
        for page, image in enumerate(request.images):
            read, found = self.read_page_with_answers(image, template, page, request.languages)
            lines.extend(read)
            for pointer, answer in found.items():  # over pages, the surest answer
                if pointer not in answers or answer.confidence > answers[pointer].confidence:
                    answers[pointer] = answer
        return apply_answers(self.compose(request, lines, len(request.images)), answers, len(request.images))

    def token_hold(self, pages: int, prompt: str) -> int:
        return page_token_hold(pages, prompt)


def check_languages(languages: Sequence[str]) -> None:
    unread = sorted({language.lower() for language in languages} - TEXTRACT_LANGUAGES)
    if unread:
        raise LanguageNotSupported(
            f"Textract does not read {', '.join(unread)}; it reads {', '.join(sorted(TEXTRACT_LANGUAGES))}"
        )


def document_bytes(image: PreparedImage) -> bytes:
    """The page as Textract takes it: PNG or JPEG bytes as they are when they fit, else re-encoded (lossless PNG
    first for a lossless source, then JPEG at falling quality)."""
    fits = len(image.data) <= MAX_DOCUMENT_BYTES and max(image.width, image.height) <= MAX_SIDE
    if image.mime_type in ("image/png", "image/jpeg") and fits and not _transparent(image):
        return image.data
    pixels = image.to_rgb()
    if max(pixels.size) > MAX_SIDE:  # boxes come back relative, so they still map onto the image's own pixels
        pixels.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    encodings = [("JPEG", quality) for quality in JPEG_QUALITIES]
    if image.mime_type != "image/jpeg":
        encodings.insert(0, ("PNG", 0))
    for fmt, quality in encodings:
        buffer = io.BytesIO()
        pixels.save(buffer, format=fmt, **({"quality": quality} if fmt == "JPEG" else {}))
        if buffer.tell() <= MAX_DOCUMENT_BYTES:
            return buffer.getvalue()
    raise EngineInputTooLarge(f"The page is over Textract's {MAX_DOCUMENT_BYTES // (1024 * 1024)} MB even as a JPEG")


def _transparent(image: PreparedImage) -> bool:
    """A PNG with alpha: flattened on white first, as the local engine reads it (transparent text stays readable)."""
    if image.mime_type != "image/png":
        return False
    with Image.open(io.BytesIO(image.data)) as opened:  # the header only
        return opened.mode in ("RGBA", "LA", "PA") or "transparency" in opened.info


def _query_text(text: str) -> str:
    """Printable ASCII only (Textract's pattern for a query): accents dropped, other characters left out."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join("".join(char for char in ascii_text if char.isprintable()).split())[:_QUERY_TEXT_MAX]


def _question(key: str, description: Any) -> str:
    """The leaf's description, else its key, as a question: a label ("Invoice Number", "TO:") is asked of."""
    label = _query_text(description) if isinstance(description, str) else ""
    if label.endswith("?"):
        return label
    label = label.rstrip(":").strip() or _query_text(" ".join(field_words(key, None)))
    return f"What is the {label}?"[:_QUERY_TEXT_MAX] if label else ""


def template_queries(template: Any) -> list[QueryTypeDef]:
    """A query for each scalar leaf of a dict template (nested objects included; lists are left to the filler),
    aliased by the leaf's JSON pointer: the first MAX_QUERIES whose key can be asked in ASCII."""
    queries: list[QueryTypeDef] = []

    def walk(node: Mapping[str, Any], prefix: str) -> None:
        for key, child in node.items():
            pointer = f"{prefix}/{str(key).replace('~', '~0').replace('/', '~1')}"
            if isinstance(child, dict):
                walk(child, pointer)
            elif not isinstance(child, list) and len(queries) < MAX_QUERIES:
                text = _question(str(key), child)
                if text and pointer == _query_text(pointer):  # an alias Textract takes, unchanged
                    queries.append({"Text": text, "Alias": pointer})

    if isinstance(template, dict):
        walk(template, "")
    return queries


def query_answers(blocks: Sequence[Mapping[str, Any]], image: PreparedImage, page: int) -> dict[str, QueryAnswer]:
    """Each query's surest answer, by its alias, when Textract is at least QUERY_CONFIDENCE sure of it."""
    by_id = {block.get("Id"): block for block in blocks}
    answers: dict[str, QueryAnswer] = {}
    for block in blocks:
        alias = block.get("Query", {}).get("Alias")
        if block.get("BlockType") != "QUERY" or not alias:
            continue
        results = [
            by_id[answer_id]
            for relation in block.get("Relationships", [])
            if relation.get("Type") == "ANSWER"
            for answer_id in relation.get("Ids", [])
            if by_id.get(answer_id, {}).get("BlockType") == "QUERY_RESULT"
        ]
        best = max(results, key=lambda result: float(result.get("Confidence", 0.0)), default=None)
        if best is None or float(best.get("Confidence", 0.0)) < QUERY_CONFIDENCE or not best.get("Text"):
            continue
        confidence = unit_interval(float(best["Confidence"]) / 100)
        box = pixel_box(best, image.width, image.height)
        answers[str(alias)] = QueryAnswer(str(best["Text"]).strip(), confidence, page, box)
    return answers


def apply_answers(result: ExtractionResult, answers: Mapping[str, QueryAnswer], pages: int) -> ExtractionResult:
    """The composed answer with each answered field (by JSON pointer) set to Textract's answer instead of the
    filler's; the fields nobody answered keep the filler's value. Tokens are counted again, as compose counts."""
    if not answers:
        return result
    document = json.loads(result.text)
    fields = dict(result.fields or {})
    for pointer, answer in answers.items():
        *parents, leaf = [token.replace("~1", "/").replace("~0", "~") for token in pointer.split("/")[1:]]
        node = document
        for token in parents:
            node = node.get(token) if isinstance(node, dict) else None
        if isinstance(node, dict) and leaf in node:
            node[leaf] = answer.value
            fields[pointer] = answer.to_json()
    text = json.dumps(document, ensure_ascii=False)
    completion_tokens = min(estimate_tokens(text), MAX_TEXT_TOKENS_PER_PAGE * max(1, pages))
    return ExtractionResult(text, result.prompt_tokens, completion_tokens, fields)


@contextmanager
def textract_errors(*, document: bool = False) -> Iterator[None]:
    """botocore's failures as the service's errors, with messages safe to show (standard-mode retries, with
    backoff, have already been spent when one arrives); `document`: of the asynchronous API's calls."""
    subject = "document" if document else "page"
    try:
        yield
    except aws.ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", "")) or "an error"
        detail = str(error.response.get("Error", {}).get("Message", ""))[:200]
        if code in _THROTTLED:
            raise EngineThrottled(f"Textract is busy ({code}); try again shortly") from error
        if code == "AccessDeniedException":
            actions = ("StartDocumentTextDetection", "GetDocumentTextDetection") if document else _PAGE_ACTIONS
            raise EngineUnavailable(
                f"Textract refused this function: its role must allow textract:{actions[0]} and textract:{actions[1]}"
            ) from error
        if code == "DocumentTooLargeException":
            limits = "500 MB, 3000 pages" if document else "10 MB, 10000 px a side"
            raise EngineInputTooLarge(f"The {subject} is too large for Textract ({limits})") from error
        if code in _UNREADABLE:
            raise EngineError(f"Textract could not read the {subject}: {detail or code}") from error
        if code == "InvalidS3ObjectException":  # gone, or this function may not read it (Textract reads as it)
            raise EngineError(f"Textract could not read the file from the bucket: {detail or code}") from error
        raise EngineError(f"Textract failed: {code}") from error
    except (aws.ReadTimeoutError, aws.ConnectTimeoutError) as error:
        raise EngineTimeout("Textract did not answer in time") from error
    except aws.EndpointConnectionError as error:
        raise EngineUnavailable("Textract could not be reached") from error
    except aws.HTTPClientError as error:  # the connection dropped mid-answer, after the retries
        raise EngineError("the connection to Textract failed") from error
    except aws.ParamValidationError as error:  # a request this module built wrongly: a fault here, not the client's
        raise EngineError("the request to Textract was invalid") from error
    except (aws.NoCredentialsError, aws.NoRegionError) as error:
        raise EngineUnavailable(f"Textract is not configured in this function: {type(error).__name__}") from error

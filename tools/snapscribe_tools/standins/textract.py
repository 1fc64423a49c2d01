"""A loopback stand-in for Amazon Textract (JSON 1.1 over HTTP POST /, operation in X-Amz-Target). Synchronous:
DetectDocumentText and AnalyzeDocument, answered with deterministic LINE and WORD blocks ("stand-in line N", one
line per 100 px band of the image), and for AnalyzeDocument's queries one QUERY_RESULT each. Asynchronous:
StartDocumentTextDetection reads nothing from S3: the document has the pages configured for its object key (else
`default_pages`), each answered with LINES_PER_PAGE lines "stand-in page P line N"; GetDocumentTextDetection answers
IN_PROGRESS once, then SUCCEEDED with one page of blocks per answer (NextToken to the next). The same
ClientRequestToken returns the same JobId, as Textract's does. Signatures are not checked. Point a client at it
with endpoint_url or AWS_ENDPOINT_URL_TEXTRACT.

    python -m snapscribe_tools.standins.textract --port 4011 [--delay 0.5] [--pages 3]
"""

from __future__ import annotations

import argparse
import base64
import binascii
import io
import json
import threading
import time
import uuid
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PIL import Image, UnidentifiedImageError

from snapscribe_tools.standins.serving import in_thread, until_interrupted

BAND = 100  # pixels of image height per answered line
MAX_BYTES = 10 * 1024 * 1024  # Textract's synchronous limit
CONFIDENCE = 99.0
QUERY_CONFIDENCE = 90.0
LINES_PER_PAGE = 2  # of a document read by the asynchronous API


class StandInError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _box(left: float, top: float, width: float, height: float) -> dict[str, Any]:
    return {"BoundingBox": {"Width": width, "Height": height, "Left": left, "Top": top}}


def _image_size(document: Any) -> tuple[int, int]:
    try:
        data = base64.b64decode(document["Bytes"], validate=True)
    except (KeyError, TypeError, binascii.Error) as error:
        raise StandInError("InvalidParameterException", "Request has invalid parameters") from error
    if len(data) > MAX_BYTES:
        raise StandInError("DocumentTooLargeException", "S3 object size is more than the maximum limit")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in ("PNG", "JPEG", "TIFF"):
                raise StandInError("UnsupportedDocumentException", "Request has unsupported document format")
            return image.size
    except (UnidentifiedImageError, OSError) as error:
        raise StandInError("UnsupportedDocumentException", "Request has unsupported document format") from error


def text_blocks(width: int, height: int) -> list[dict[str, Any]]:
    """A PAGE, then one LINE per BAND px of height (from 1), each with its WORDs."""
    page: dict[str, Any] = {"BlockType": "PAGE", "Id": "page-1", "Geometry": _box(0, 0, 1, 1)}
    blocks = [page]
    for number in range(1, max(1, height // BAND) + 1):
        top = ((number - 1) * BAND + 10) / height
        line_height = min(40, height) / height
        line_id = f"line-{number}"
        words = [("stand-in", 0.05, 0.2), ("line", 0.27, 0.1), (str(number), 0.39, 0.06)]
        word_ids = [f"{line_id}-word-{index}" for index in range(len(words))]
        blocks.append(
            {
                "BlockType": "LINE",
                "Id": line_id,
                "Text": f"stand-in line {number}",
                "Confidence": CONFIDENCE,
                "Geometry": _box(0.05, top, 0.4, line_height),
                "Relationships": [{"Type": "CHILD", "Ids": word_ids}],
            }
        )
        for word_id, (text, left, word_width) in zip(word_ids, words, strict=True):
            blocks.append(
                {
                    "BlockType": "WORD",
                    "Id": word_id,
                    "Text": text,
                    "TextType": "PRINTED",
                    "Confidence": CONFIDENCE,
                    "Geometry": _box(left, top, word_width, line_height),
                }
            )
    page["Relationships"] = [
        {"Type": "CHILD", "Ids": [block["Id"] for block in blocks if block["BlockType"] == "LINE"]}
    ]
    return blocks


def query_blocks(queries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each query a QUERY and its QUERY_RESULT: "stand-in answer N", near the top of the page."""
    blocks: list[dict[str, Any]] = []
    for number, query in enumerate(queries, start=1):
        result_id = f"query-{number}-result"
        blocks.append(
            {
                "BlockType": "QUERY",
                "Id": f"query-{number}",
                "Query": query,
                "Relationships": [{"Type": "ANSWER", "Ids": [result_id]}],
            }
        )
        blocks.append(
            {
                "BlockType": "QUERY_RESULT",
                "Id": result_id,
                "Text": f"stand-in answer {number}",
                "Confidence": QUERY_CONFIDENCE,
                "Geometry": _box(0.5, 0.01, 0.3, 0.02),
            }
        )
    return blocks


def answer(target: str, body: dict[str, Any]) -> dict[str, Any]:
    """The JSON answer to one operation, or StandInError with Textract's error code."""
    operation = target.removeprefix("Textract.")
    if operation not in ("DetectDocumentText", "AnalyzeDocument"):
        raise StandInError("InvalidParameterException", f"The stand-in does not answer {target or 'this'}")
    width, height = _image_size(body.get("Document", {}))
    blocks = text_blocks(width, height)
    if operation == "DetectDocumentText":
        return {"DocumentMetadata": {"Pages": 1}, "Blocks": blocks, "DetectDocumentTextModelVersion": "1.0"}
    if "QUERIES" in body.get("FeatureTypes", []):
        blocks += query_blocks(list(body.get("QueriesConfig", {}).get("Queries", [])))
    return {"DocumentMetadata": {"Pages": 1}, "Blocks": blocks, "AnalyzeDocumentModelVersion": "1.0"}


def document_blocks(page: int) -> list[dict[str, Any]]:
    """Page `page` (1-based) of a document: its PAGE block, then LINES_PER_PAGE LINEs, each naming its page."""
    lines = [
        {
            "BlockType": "LINE",
            "Id": f"page-{page}-line-{number}",
            "Page": page,
            "Text": f"stand-in page {page} line {number}",
            "Confidence": CONFIDENCE,
            "Geometry": _box(0.05, 0.1 * number, 0.5, 0.03),
        }
        for number in range(1, LINES_PER_PAGE + 1)
    ]
    whole = {"BlockType": "PAGE", "Id": f"page-{page}", "Page": page, "Geometry": _box(0, 0, 1, 1)}
    whole["Relationships"] = [{"Type": "CHILD", "Ids": [line["Id"] for line in lines]}]
    return [whole, *lines]


class DocumentJobs:
    """The asynchronous API's jobs, in memory: `starts` counts StartDocumentTextDetection calls, `jobs` the jobs
    they started (a repeated ClientRequestToken starts none)."""

    def __init__(self, pages: Mapping[str, int] | None = None, default_pages: int = 1) -> None:
        self.pages = dict(pages or {})  # by object key: what the stand-in says the document has
        self.default_pages = default_pages
        self.starts = 0
        self.jobs: dict[str, dict[str, Any]] = {}  # by JobId: its location, pages and polls
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()

    def start(self, body: dict[str, Any]) -> dict[str, Any]:
        location = body.get("DocumentLocation", {}).get("S3Object", {})
        if not location.get("Bucket") or not location.get("Name"):
            raise StandInError("InvalidParameterException", "Request has invalid parameters")
        token = body.get("ClientRequestToken")
        with self._lock:
            self.starts += 1
            if token in self._tokens:
                job_id = self._tokens[token]
                if self.jobs[job_id]["location"] != location:
                    raise StandInError("IdempotentParameterMismatchException", "The token was used for another request")
                return {"JobId": job_id}
            job_id = uuid.uuid4().hex
            pages = self.pages.get(str(location["Name"]), self.default_pages)
            self.jobs[job_id] = {"location": location, "pages": pages, "polls": 0}
            if token:
                self._tokens[token] = job_id
        return {"JobId": job_id}

    def get(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            job = self.jobs.get(str(body.get("JobId")))
            if job is None:
                raise StandInError("InvalidJobIdException", "An invalid job identifier was passed")
            job["polls"] += 1
            if job["polls"] == 1:
                return {"JobStatus": "IN_PROGRESS"}
        token = str(body.get("NextToken", "1"))
        page = int(token) if token.isdigit() else 0
        if not 1 <= page <= job["pages"]:
            raise StandInError("InvalidParameterException", "Request has invalid parameters")
        answered: dict[str, Any] = {
            "JobStatus": "SUCCEEDED",
            "DocumentMetadata": {"Pages": job["pages"]},
            "Blocks": document_blocks(page),
            "DetectDocumentTextModelVersion": "1.0",
        }
        if page < job["pages"]:
            answered["NextToken"] = str(page + 1)
        return answered


class StandInServer(ThreadingHTTPServer):
    documents: DocumentJobs


def make_server(
    port: int = 0,
    delay: float = 0.0,
    host: str = "127.0.0.1",
    *,
    document_pages: Mapping[str, int] | None = None,
    default_pages: int = 1,
) -> StandInServer:
    """The server, bound but not serving yet; each answer waits `delay` seconds first (a slow Textract). A document
    the asynchronous API is asked to read has `document_pages[key]` pages, else `default_pages`."""
    documents = DocumentJobs(document_pages, default_pages)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            target = self.headers.get("X-Amz-Target", "")
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
                if target == "Textract.StartDocumentTextDetection":
                    payload = documents.start(body)
                elif target == "Textract.GetDocumentTextDetection":
                    payload = documents.get(body)
                else:
                    payload = answer(target, body)
                status = 200
            except json.JSONDecodeError:
                payload, status = {"__type": "SerializationException", "message": "Malformed JSON"}, 400
            except StandInError as error:
                payload, status = {"__type": error.code, "message": error.message}, 400
            if delay:
                time.sleep(delay)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            if status != 200:
                self.send_header("x-amzn-ErrorType", str(payload["__type"]))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # quiet: tests and make run
            return

    server = StandInServer((host, port), Handler)
    server.daemon_threads = True
    server.documents = documents
    return server


def serve(
    port: int = 0, delay: float = 0.0, *, document_pages: Mapping[str, int] | None = None, default_pages: int = 1
) -> tuple[StandInServer, str]:
    """The stand-in serving on a thread of its own, and its URL; `server.shutdown()` stops it."""
    server = make_server(port, delay, document_pages=document_pages, default_pages=default_pages)
    return server, in_thread(server, "textract-stand-in")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A loopback stand-in for Amazon Textract")
    parser.add_argument("--port", type=int, default=4011)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds each answer waits")
    parser.add_argument("--pages", type=int, default=1, help="pages of every document read asynchronously")
    args = parser.parse_args(argv)
    server = make_server(args.port, args.delay, default_pages=args.pages)
    until_interrupted(server, "Textract stand-in on {url} (AWS_ENDPOINT_URL_TEXTRACT)")


if __name__ == "__main__":
    main()

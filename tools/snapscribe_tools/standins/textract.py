"""A loopback stand-in for Amazon Textract's synchronous API (JSON 1.1 over HTTP POST /, operation in X-Amz-Target):
DetectDocumentText and AnalyzeDocument, answered with deterministic LINE and WORD blocks ("stand-in line N", one
line per 100 px band of the image), and for AnalyzeDocument's queries one QUERY_RESULT each. Signatures are not
checked. Point a client at it with endpoint_url or AWS_ENDPOINT_URL_TEXTRACT.

    python -m snapscribe_tools.standins.textract --port 4011 [--delay 0.5]
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PIL import Image, UnidentifiedImageError

BAND = 100  # pixels of image height per answered line
MAX_BYTES = 10 * 1024 * 1024  # Textract's synchronous limit
CONFIDENCE = 99.0
QUERY_CONFIDENCE = 90.0


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


def make_server(port: int = 0, delay: float = 0.0, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """The server, bound but not serving yet; each answer waits `delay` seconds first (a slow Textract)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
                payload, status = answer(self.headers.get("X-Amz-Target", ""), body), 200
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

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def serve(port: int = 0, delay: float = 0.0) -> tuple[ThreadingHTTPServer, str]:
    """The stand-in serving on a thread of its own, and its URL; `server.shutdown()` stops it."""
    server = make_server(port, delay)
    # A short poll: shutdown() waits up to one for the loop to notice.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    host, bound_port = server.server_address[:2]
    return server, f"http://{host!s}:{bound_port}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A loopback stand-in for Amazon Textract")
    parser.add_argument("--port", type=int, default=4011)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds each answer waits")
    args = parser.parse_args(argv)
    server = make_server(args.port, args.delay)
    host, port = server.server_address[:2]
    print(f"Textract stand-in on http://{host!s}:{port} (AWS_ENDPOINT_URL_TEXTRACT)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()

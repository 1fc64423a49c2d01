"""A loopback stand-in for Amazon Bedrock's Converse API (REST JSON: POST /model/{modelId}/converse): a
deterministic text ("stand-in answer: N images"), or, when the request carries a toolConfig, a call of its tool with
an input that fills the tool's schema (null where null is allowed, else "stand-in", 0, false). A model id
`standin.error.<Code>` answers that error as Bedrock would (ThrottlingException, AccessDeniedException...), so a
client's error path can be driven too. Signatures are not checked. Point a client at it with endpoint_url or
AWS_ENDPOINT_URL_BEDROCK_RUNTIME.

    python -m snapscribe_tools.standins.bedrock --port 4010 [--delay 0.5]
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import re
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from snapscribe_tools.standins.serving import in_thread, until_interrupted

# Converse's documented limits (Message.content), refused as Bedrock refuses them.
MAX_IMAGES = 20
MAX_IMAGE_BYTES = 3_750_000
IMAGE_TOKENS = 1600  # what the stand-in counts an image as: about a 1568 px image on Claude
ERROR_PREFIX = "standin.error."
ERROR_STATUS = {
    "AccessDeniedException": 403,
    "ResourceNotFoundException": 404,
    "ModelTimeoutException": 408,
    "ThrottlingException": 429,
    "ModelNotReadyException": 429,
    "ServiceQuotaExceededException": 400,
    "ValidationException": 400,
    "ModelErrorException": 424,
    "InternalServerException": 500,
    "ServiceUnavailableException": 503,
}
_PATH = re.compile(r"^/model/(?P<model>[^/]+)/converse$")


class StandInError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def filled(schema: Any) -> Any:
    """A value of the JSON Schema's shape: objects with every property, one-item arrays, null leaves."""
    if not isinstance(schema, dict):
        return None
    kind = schema.get("type")
    kinds = set(kind) if isinstance(kind, list) else {kind}
    if "object" in kinds:
        return {key: filled(value) for key, value in (schema.get("properties") or {}).items()}
    if "array" in kinds:
        return [filled(schema.get("items"))]
    if "null" in kinds:
        return None
    if "string" in kinds:
        return "stand-in"
    if kinds & {"number", "integer"}:
        return 0
    return False if "boolean" in kinds else None


def _count_images(messages: list[Any]) -> tuple[int, int]:
    """(images, bytes of text) of the request's messages, checking each image as Converse would."""
    images = text_bytes = 0
    for message in messages:
        for block in message.get("content", []):
            text_bytes += len(str(block.get("text", "")).encode())
            image = block.get("image")
            if image is None:
                continue
            images += 1
            if image.get("format") not in ("png", "jpeg", "gif", "webp"):
                raise StandInError("ValidationException", "The image format is not supported")
            try:
                data = base64.b64decode(image.get("source", {}).get("bytes", ""), validate=True)
            except (binascii.Error, ValueError) as error:
                raise StandInError("ValidationException", "Invalid image bytes") from error
            if len(data) > MAX_IMAGE_BYTES:
                raise StandInError("ValidationException", "The image exceeds the 3.75 MB maximum size")
    if images > MAX_IMAGES:
        raise StandInError("ValidationException", f"Too many images: at most {MAX_IMAGES} are allowed")
    return images, text_bytes


def answer(path: str, body: dict[str, Any]) -> dict[str, Any]:
    """The Converse answer to one request, or StandInError with Bedrock's error code."""
    match = _PATH.match(path)
    if match is None:
        raise StandInError("ResourceNotFoundException", "The stand-in answers only POST /model/{modelId}/converse")
    model = unquote(match["model"])
    if model.startswith(ERROR_PREFIX):
        code = model.removeprefix(ERROR_PREFIX)
        raise StandInError(code if code in ERROR_STATUS else "ValidationException", f"stand-in {code}")
    images, text_bytes = _count_images(list(body.get("messages", [])))
    text_bytes += sum(len(str(block.get("text", "")).encode()) for block in body.get("system", []))
    tools = [tool["toolSpec"] for tool in (body.get("toolConfig") or {}).get("tools", []) if "toolSpec" in tool]
    if tools:
        spec = tools[0]
        tool_input = filled(spec.get("inputSchema", {}).get("json"))
        use = {"toolUseId": f"tooluse_{uuid.uuid4().hex[:20]}", "name": spec["name"], "input": tool_input}
        content: list[dict[str, Any]] = [{"toolUse": use}]
        stop, output = "tool_use", json.dumps(tool_input)
    else:
        output = f"stand-in answer: {images} images"
        content, stop = [{"text": output}], "end_turn"
    input_tokens = (text_bytes + 3) // 4 + IMAGE_TOKENS * images
    output_tokens = (len(output.encode()) + 3) // 4
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop,
        "usage": {
            "inputTokens": input_tokens,
            "outputTokens": output_tokens,
            "totalTokens": input_tokens + output_tokens,
        },
        "metrics": {"latencyMs": 1},
    }


def make_server(port: int = 0, delay: float = 0.0, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """The server, bound but not serving yet; each answer waits `delay` seconds first (a model's time)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
                payload, status, code = answer(self.path.split("?", 1)[0], body), 200, ""
            except json.JSONDecodeError:
                payload, status, code = {"message": "Malformed JSON"}, 400, "ValidationException"
            except StandInError as error:
                payload, status, code = {"message": error.message}, ERROR_STATUS.get(error.code, 400), error.code
            if delay:
                time.sleep(delay)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            if status != 200:
                self.send_header("x-amzn-ErrorType", code)
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
    return server, in_thread(server, "bedrock-stand-in")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A loopback stand-in for Amazon Bedrock's Converse API")
    parser.add_argument("--port", type=int, default=4010)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds each answer waits")
    args = parser.parse_args(argv)
    until_interrupted(
        make_server(args.port, args.delay), "Bedrock stand-in on {url} (AWS_ENDPOINT_URL_BEDROCK_RUNTIME)"
    )


if __name__ == "__main__":
    main()

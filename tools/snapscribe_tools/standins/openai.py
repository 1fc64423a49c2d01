"""A loopback stand-in for an OpenAI-compatible chat-completions server (vLLM, Ollama, LiteLLM): POST
/v1/chat/completions answered in the OpenAI wire format with a deterministic answer: "stand-in answer: N images",
or, when response_format carries a json_schema, an object with the schema's properties all null (json_object: the
text under "text"). Keys are not checked. Point the engine's base URL at it (http://127.0.0.1:4012/v1).

    python -m snapscribe_tools.standins.openai --port 4012 [--delay 0.5]
"""

from __future__ import annotations

import argparse
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from snapscribe_tools.standins.serving import in_thread, until_interrupted

PATH = "/v1/chat/completions"
IMAGE_TOKENS = 85  # counted per image in usage (OpenAI's low-detail count): deterministic, not a real tokenizer
MODEL = "stand-in"


class StandInError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _parts(body: dict[str, Any]) -> tuple[int, str]:
    """(images, the messages' text) of a request."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise StandInError(400, "messages must be a non-empty list")
    images, texts = 0, []
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            texts.append(content)
            continue
        for part in content if isinstance(content, list) else []:
            if isinstance(part, dict) and part.get("type") == "image_url":
                images += 1
            elif isinstance(part, dict) and part.get("type") == "text":
                texts.append(str(part.get("text", "")))
    return images, "\n".join(texts)


def answer(body: dict[str, Any]) -> dict[str, Any]:
    """The chat completion for one request, or StandInError with the status an OpenAI server would give."""
    images, text = _parts(body)
    content = f"stand-in answer: {images} images"
    response_format = body.get("response_format") or {}
    if not isinstance(response_format, dict):
        raise StandInError(400, "response_format must be an object")
    if response_format.get("type") == "json_schema":
        schema = response_format.get("json_schema", {}).get("schema", {})
        content = json.dumps(dict.fromkeys(schema.get("properties", {})))
    elif response_format.get("type") == "json_object":
        content = json.dumps({"text": content})
    prompt_tokens = (len(text.encode()) + 3) // 4 + IMAGE_TOKENS * images
    completion_tokens = (len(content.encode()) + 3) // 4
    return {
        "id": "chatcmpl-stand-in",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": str(body.get("model") or MODEL),
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"},
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def make_server(port: int = 0, delay: float = 0.0, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """The server, bound but not serving yet; each answer waits `delay` seconds first (a slow model)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                if self.path.split("?")[0] != PATH:
                    raise StandInError(404, f"the stand-in answers POST {PATH} only")
                body = json.loads(raw or b"{}")
                if not isinstance(body, dict):
                    raise StandInError(400, "the body must be a JSON object")
                payload, status = answer(body), 200
            except json.JSONDecodeError:
                payload, status = _error("the body is not JSON"), 400
            except StandInError as error:
                payload, status = _error(error.message), error.status
            if delay:
                time.sleep(delay)
            self._send(status, payload)

        def do_GET(self) -> None:
            if self.path.split("?")[0] == "/v1/models":  # what clients call to check the server is up
                self._send(200, {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "stand-in"}]})
            else:
                self._send(404, _error("not found"))

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # quiet: tests and make run
            return

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def _error(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}


def serve(port: int = 0, delay: float = 0.0) -> tuple[ThreadingHTTPServer, str]:
    """The stand-in serving on a thread of its own, and its base URL (…/v1); `server.shutdown()` stops it."""
    server = make_server(port, delay)
    return server, in_thread(server, "openai-stand-in") + "/v1"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A loopback stand-in for an OpenAI-compatible model server")
    parser.add_argument("--port", type=int, default=4012)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds each answer waits")
    args = parser.parse_args(argv)
    until_interrupted(make_server(args.port, args.delay), "OpenAI-compatible stand-in on {url}/v1")


if __name__ == "__main__":
    main()

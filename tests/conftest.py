"""Fixtures every tier shares: an isolated environment, moto with the template's own resources,
the committed events, and a loopback stub of the Gemini HTTP API (under the real google-genai SDK)."""

from __future__ import annotations

import ast
import contextlib
import copy
import json
import re
import threading
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from snapscribe.services import from_environment
from snapscribe_tools.invoke import prepare_fresh_aws
from snapscribe_tools.lambdas import LocalFunction
from snapscribe_tools.template import PROJECT_ROOT, functions, load_template

EVENTS_DIR = PROJECT_ROOT / "events"
EVAL_DIR = PROJECT_ROOT.parent / "shared" / "eval"
EVAL_DATA_MISSING = f"needs the evaluation data in ../shared/eval ({EVAL_DIR}), which is not beside this clone"
EVENTS_KEY = "ssk_events_example_key_not_a_secret"


@cache
def _uses_the_shared_stack(module: Path) -> bool:
    """An e2e module whose tests take `stack` without defining their own: tests/e2e/conftest.py's shared stack."""
    if module.parent != PROJECT_ROOT / "tests" / "e2e" or not module.name.startswith("test_"):
        return False
    tree = ast.parse(module.read_text(encoding="utf-8"))
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    if any(function.name == "stack" for function in functions):
        return False
    return any(argument.arg == "stack" for function in functions for argument in function.args.args)


SHARED_STACK_UNIT = "e2e modules of the shared stack"


def _started_first(scope: str) -> int:
    """The longest work first, so that neither worker is left with it at the end: the modules of tests marked
    `slow` (the OCR of the evaluation images), then the shared stack's modules, then the rest."""
    if scope == SHARED_STACK_UNIT:
        return 1
    return 0 if "pytest.mark.slow" in (PROJECT_ROOT / scope).read_text(encoding="utf-8") else 2


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`make test` runs the suite on two workers (pytest-xdist, --dist loadfile): each module on one worker, so that
    its module fixtures (a stack, the OCR of the evaluation images, the policy recorder's drive) run once; and the
    e2e modules of the shared stack all on the same worker, so that it is started once, not on both."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling  # type: ignore[import-untyped]

    class SharedStackScheduling(LoadFileScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return SHARED_STACK_UNIT if _uses_the_shared_stack(PROJECT_ROOT / module) else module

        def _assign_work_unit(self, node: Any) -> None:
            if not getattr(self, "ordered", False):
                self.ordered = True
                units = sorted(self.workqueue.items(), key=lambda unit: _started_first(unit[0]))
                self.workqueue.clear()
                self.workqueue.update(units)
            super()._assign_work_unit(node)

    return SharedStackScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A clone without ../shared/eval still collects and passes: the tests marked `eval_data` skip, saying why.
    Those tests read EVAL_DIR only when they run, never at import or collection."""
    if EVAL_DIR.is_dir():
        return
    skip = pytest.mark.skip(reason=EVAL_DATA_MISSING)
    for item in items:
        if item.get_closest_marker("eval_data"):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No test can reach real AWS, and each gets its own folder for the service's temporary files."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "SNAPSCRIBE_GEMINI_API_KEY", "SNAPSCRIBE_ENGINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "snapscribe-tests")
    work = tmp_path / "service-tmp"
    work.mkdir()
    monkeypatch.setenv("SNAPSCRIBE_TMP_DIR", str(work))
    return work


def _template_resources(monkeypatch: pytest.MonkeyPatch) -> boto3.session.Session:
    """Create template.yaml's tables and bucket in whichever moto is active; use their names."""
    session = boto3.session.Session(region_name="us-east-1")
    for name, value in prepare_fresh_aws(session).items():
        monkeypatch.setenv(name, value)
    return session


def _reset_moto(endpoint: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10).close()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.session.Session]:
    """moto, with the tables and bucket created from template.yaml's own definitions."""
    with mock_aws():
        yield _template_resources(monkeypatch)


@pytest.fixture
def moto_http(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.session.Session]:
    """moto over HTTP on loopback (safe for parallel clients), with the template's resources."""
    from snapscribe_tools.moto_server import SerializedMotoServer

    server = SerializedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # moto's state is per process, not per server: start from nothing, leave nothing.
    _reset_moto(endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    yield _template_resources(monkeypatch)
    _reset_moto(endpoint)
    server.stop()


@pytest.fixture
def accounts(aws: boto3.session.Session) -> Any:
    return from_environment().accounts


@pytest.fixture
def events_key(accounts: Any) -> str:
    """The account behind the key the committed events carry; returns its user id."""
    _key, record = accounts.create_key(user_id="events", credits=1000, rate_limit=100, raw_key=EVENTS_KEY)
    return str(record.user_id)


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS_DIR / f"{name}.json").read_text())
    return copy.deepcopy(event)


_FUNCTIONS: dict[str, LocalFunction] = {}


def invoke(function_id: str, event: dict[str, Any]) -> dict[str, Any]:
    """Call a handler as Lambda would: the module template.yaml names, a context, the event."""
    if function_id not in _FUNCTIONS:
        definition = next(item for item in functions(load_template()) if item.logical_id == function_id)
        _FUNCTIONS[function_id] = LocalFunction(definition)
    result: dict[str, Any] = _FUNCTIONS[function_id].invoke(event)
    return result


def body_of(result: dict[str, Any]) -> Any:
    return json.loads(result["body"])


# --- a loopback stand-in for the Gemini REST API ---------------------------------------------------
@dataclass
class GeminiStub:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    # Each entry: (status, json body) or a callable returning one; the last one repeats.
    replies: list[Any] = field(default_factory=list)
    delay_seconds: float = 0.0
    in_flight: int = 0
    max_in_flight: int = 0  # the most requests it was answering at once
    lock: threading.Lock = field(default_factory=threading.Lock)
    # The Files API, as its resumable upload protocol speaks: name -> (mime type, bytes); and what was deleted.
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    sessions: dict[str, tuple[str, bytearray]] = field(default_factory=dict)

    def reply_text(self, text: str, prompt_tokens: int = 321, completion_tokens: int = 45) -> None:
        self.replies = [
            (
                200,
                {
                    "candidates": [
                        {"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0}
                    ],
                    "usageMetadata": {
                        "promptTokenCount": prompt_tokens,
                        "candidatesTokenCount": completion_tokens,
                        "totalTokenCount": prompt_tokens + completion_tokens,
                    },
                    "modelVersion": "gemini-2.5-flash",
                },
            )
        ]

    def reply_error(self, status: int, message: str = "boom") -> None:
        self.replies = [(status, {"error": {"code": status, "message": message, "status": "INTERNAL"}})]


@pytest.fixture
def gemini_stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[GeminiStub]:
    stub = GeminiStub(url="")
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            pass

        def answer(self, status: int, document: Any, headers: dict[str, str] | None = None) -> None:
            payload = json.dumps(document).encode()
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def files_api(self, body: bytes) -> None:
            """Start an upload (a session URL back), take its bytes (final: the file's record), as the API does."""
            if re.match(r"/upload/v1\w*/files", self.path):
                session = f"s{len(stub.sessions) + 1}"
                declared = json.loads(body or b"{}").get("file", {})
                with stub.lock:
                    stub.sessions[session] = (declared.get("mimeType") or "", bytearray())
                self.answer(200, {}, {"X-Goog-Upload-URL": f"{stub.url}/upload-session/{session}"})
                return
            session = self.path.rsplit("/", 1)[-1]
            mime_type, data = stub.sessions[session]
            data.extend(body)
            if "finalize" not in self.headers.get("X-Goog-Upload-Command", ""):
                self.answer(200, {}, {"X-Goog-Upload-Status": "active"})
                return
            name = f"files/{session}"
            with stub.lock:
                stub.files[name] = (mime_type, bytes(data))
            record = {"name": name, "uri": f"{stub.url}/v1beta/{name}", "mimeType": mime_type, "state": "ACTIVE"}
            self.answer(200, {"file": record}, {"X-Goog-Upload-Status": "final"})

        def do_DELETE(self) -> None:
            name = re.sub(r"^/v1\w*/", "", self.path.split("?")[0])
            with stub.lock:
                stub.deleted.append(name)
            self.answer(200 if name in stub.files else 404, {})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if self.path.startswith(("/upload/", "/upload-session/")):
                self.files_api(self.rfile.read(length))
                return
            with stub.lock:
                stub.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "json": json.loads(self.rfile.read(length) or b"{}"),
                    }
                )
                stub.in_flight += 1
                stub.max_in_flight = max(stub.max_in_flight, stub.in_flight)
            if stub.delay_seconds:
                stop.wait(stub.delay_seconds)
            with stub.lock:
                stub.in_flight -= 1
            reply = stub.replies[min(len(stub.requests), len(stub.replies)) - 1]
            status, document = reply() if callable(reply) else reply
            payload = json.dumps(document).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stub.url = f"http://127.0.0.1:{server.server_address[1]}"
    stub.reply_text("stubbed answer")
    monkeypatch.setenv("SNAPSCRIBE_GEMINI_BASE_URL", stub.url)
    monkeypatch.setenv("SNAPSCRIBE_GEMINI_API_KEY", "test-gemini-key")
    monkeypatch.setenv("SNAPSCRIBE_ENGINES", "gemini")  # a deployment that offers Gemini
    monkeypatch.setenv("SNAPSCRIBE_GEMINI_TIMEOUT_SECONDS", "2")
    yield stub
    stop.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def gemini_default(aws: boto3.session.Session, gemini_stub: GeminiStub, monkeypatch: pytest.MonkeyPatch) -> GeminiStub:
    """Gemini (against the stub) as the deployment's default engine of the extract routes. After `aws`,
    whose template environment sets the local engine."""
    monkeypatch.setenv("SNAPSCRIBE_ENGINE", "gemini")
    return gemini_stub


# --- a loopback file server for URL inputs ---------------------------------------------------------
@dataclass
class FileServer:
    url: str
    routes: dict[str, Callable[[BaseHTTPRequestHandler], None]]
    hits: list[str] = field(default_factory=list)

    def serve_bytes(self, path: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        def send(handler: BaseHTTPRequestHandler) -> None:
            handler.send_response(200)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)

        self.routes[path] = send
        return self.url + path

    def redirect(self, path: str, location: str) -> str:
        def send(handler: BaseHTTPRequestHandler) -> None:
            handler.send_response(302)
            handler.send_header("Location", location)
            handler.send_header("Content-Length", "0")
            handler.end_headers()

        self.routes[path] = send
        return self.url + path


@pytest.fixture
def file_server() -> Iterator[FileServer]:
    server_state = FileServer(url="", routes={})

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            pass

        def do_GET(self) -> None:
            server_state.hits.append(self.path)
            route = server_state.routes.get(self.path)
            if route is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                route(self)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server_state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server_state
    server.shutdown()
    server.server_close()


def tiff_with_broken_page(pages: int = 3, broken: int = 3) -> bytes:
    """A multi-page TIFF whose page `broken` cannot be decoded (its compressed strip is overwritten),
    while the others (and the first page the upload trigger checks) are fine."""
    import io

    from PIL import Image, ImageDraw

    frames = []
    for number in range(1, pages + 1):
        frame = Image.new("L", (640, 200), 255)
        ImageDraw.Draw(frame).text((20, 80), f"Page number {number} of the report", fill=0, font_size=32)
        frames.append(frame)
    buffer = io.BytesIO()
    frames[0].save(buffer, format="TIFF", save_all=True, append_images=frames[1:], compression="tiff_adobe_deflate")
    data = bytearray(buffer.getvalue())
    with Image.open(io.BytesIO(bytes(data))) as tiff:
        tiff.seek(broken - 1)
        offset, length = tiff.tag_v2[273][0], tiff.tag_v2[279][0]  # StripOffsets, StripByteCounts
    data[offset : offset + length] = b"\xff" * length
    return bytes(data)


def pdf_with_pages(pages: int = 3) -> bytes:
    """A PDF of `pages` A4 pages at 150 dpi, page N reading "Quarterly report page N" (made by Pillow)."""
    import io

    from PIL import Image, ImageDraw

    images = []
    for number in range(1, pages + 1):
        image = Image.new("RGB", (1240, 1754), "white")
        ImageDraw.Draw(image).text((100, 200), f"Quarterly report page {number}", fill="black", font_size=60)
        images.append(image)
    buffer = io.BytesIO()
    images[0].save(buffer, format="PDF", save_all=True, append_images=images[1:], resolution=150)
    return buffer.getvalue()


def pdf_with_dense_pages(pages: int = 3, lines: int = 36) -> bytes:
    """A PDF of `pages` A4 pages at 150 dpi, each full of text lines: seconds of OCR a page."""
    import io

    from PIL import Image, ImageDraw

    images = []
    for number in range(1, pages + 1):
        image = Image.new("RGB", (1240, 1754), "white")
        draw = ImageDraw.Draw(image)
        for line in range(lines):
            text = f"Page {number} line {line}: the quick brown fox jumps over the lazy dog 0123456789"
            draw.text((60, 60 + line * 46), text, fill="black", font_size=30)
        images.append(image)
    buffer = io.BytesIO()
    images[0].save(buffer, format="PDF", save_all=True, append_images=images[1:], resolution=150)
    return buffer.getvalue()

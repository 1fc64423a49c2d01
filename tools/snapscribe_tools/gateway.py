"""An HTTP server on loopback that speaks to the handlers as API Gateway (REST, proxy) does."""

from __future__ import annotations

import base64
import fnmatch
import json
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from snapscribe_tools.instances import FunctionTimeout
from snapscribe_tools.template import ApiRoute

log = logging.getLogger("snapscribe.gateway")

# A synchronous Lambda invocation carries at most 6 MB; API Gateway refuses such requests before the
# function runs, and so does the local gateway, so that nothing works locally that fails in AWS.
LAMBDA_PAYLOAD_LIMIT = 6 * 1024 * 1024
# A body over the limit is read and dropped up to this much before the 413 (API Gateway itself takes 10 MB), and
# for at most this long; a larger one gets its 413 and the connection closed.
DRAIN_LIMIT = 64 * 1024 * 1024
DRAIN_SECONDS = 30

Invoke = Callable[[str, dict[str, Any]], Any]


def is_binary(content_type: str, binary_types: Sequence[str]) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return bool(media_type) and any(fnmatch.fnmatch(media_type, pattern.lower()) for pattern in binary_types)


def build_event(
    *,
    method: str,
    raw_path: str,
    headers: list[tuple[str, str]],
    body: bytes,
    route: ApiRoute,
    path_parameters: dict[str, str],
    binary_types: Sequence[str],
    source_ip: str,
    stage: str,
    domain_name: str = "localhost",
) -> dict[str, Any]:
    """A REST API (v1) Lambda proxy integration event. `domain_name` is the gateway's own (host:port it serves at,
    as `sam local` names it), never the client's Host header: the API builds the URLs it answers from it."""
    parts = urlsplit(raw_path)
    single_headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    # API Gateway says how the client connected; the local gateway is plain HTTP.
    if not any(name.lower() == "x-forwarded-proto" for name, _value in headers):
        headers = [*headers, ("X-Forwarded-Proto", "http")]
    for name, value in headers:
        single_headers[name] = value
        multi_headers.setdefault(name, []).append(value)
    query = parse_qs(parts.query, keep_blank_values=True)
    content_type = next((value for name, value in headers if name.lower() == "content-type"), "")
    binary = is_binary(content_type, binary_types)
    if not body:
        event_body: str | None = None
    elif binary:
        event_body = base64.b64encode(body).decode("ascii")
    else:
        event_body = body.decode("utf-8", errors="replace")
    now = time.time()
    return {
        "resource": route.path,
        "path": parts.path,
        "httpMethod": method,
        "headers": single_headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {key: values[-1] for key, values in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": route.path,
            "httpMethod": method,
            "extendedRequestId": str(uuid.uuid4()),
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            # As behind a custom domain: the local gateway serves the API at its root, with no stage in the path.
            "path": parts.path,
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": "localhost",
            "requestTimeEpoch": int(now * 1000),
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": source_ip, "userAgent": single_headers.get("User-Agent", "")},
            "domainName": domain_name,
            "apiId": "local",
        },
        "body": event_body,
        "isBase64Encoded": binary and bool(body),
    }


class Gateway(ThreadingHTTPServer):
    daemon_threads = True
    # The listen backlog: socketserver's 5 reset a burst of parallel clients (86 of 100 POSTs at once) before
    # the accept loop reached them; API Gateway takes thousands. The kernel caps it (somaxconn).
    request_queue_size = 1024

    def __init__(
        self,
        address: tuple[str, int],
        routes: Sequence[ApiRoute],
        invoke: Invoke,
        binary_types: Sequence[str],
        stage: str = "prod",
    ) -> None:
        super().__init__(address, _GatewayHandler)
        self.routes = list(routes)
        self.invoke = invoke
        self.binary_types = list(binary_types)
        self.stage = stage

    @property
    def domain_name(self) -> str:
        """host:port this gateway serves at (the API's own domain, as requestContext.domainName says it)."""
        host, port = self.server_address[:2]
        host = host if isinstance(host, str) else host.decode()
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class _GatewayHandler(BaseHTTPRequestHandler):
    server: Gateway
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, status: int, document: Any) -> None:
        self._send(status, [("Content-Type", "application/json")], json.dumps(document).encode())

    def _too_long(self) -> None:
        self.close_connection = True
        self._send_json(413, {"message": "Request Too Long"})

    def handle_expect_100(self) -> bool:
        """A client that asks first (Expect: 100-continue, as curl does for large bodies) is told 413 before it
        sends the body."""
        if self._declared_length() > LAMBDA_PAYLOAD_LIMIT:
            self._too_long()
            return False
        return super().handle_expect_100()

    def _declared_length(self) -> int:
        try:
            return max(0, int(self.headers.get("Content-Length") or 0))
        except ValueError:
            return 0

    def _drain(self, length: int) -> None:
        """Read and drop a body too long to forward (up to DRAIN_LIMIT, with a timeout), so that a client still
        sending sees the 413, as API Gateway's clients do, not a reset connection."""
        remaining = min(length, DRAIN_LIMIT)
        self.connection.settimeout(DRAIN_SECONDS)
        try:
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 1 << 16))
                if not chunk:
                    break
                remaining -= len(chunk)
        except OSError:  # the client gave up or stalled: answer what can still be answered
            pass

    def _handle(self) -> None:
        length = self._declared_length()
        if length > LAMBDA_PAYLOAD_LIMIT:
            self._drain(length)
            self._too_long()
            return
        body = self.rfile.read(length) if length else b""
        path = urlsplit(self.path).path
        for route in self.server.routes:
            parameters = route.match(self.command, path)
            if parameters is not None:
                break
        else:
            self._send_json(403 if self.command != "OPTIONS" else 404, {"message": "Missing Authentication Token"})
            return
        event = build_event(
            method=self.command,
            raw_path=self.path,
            headers=list(self.headers.items()),
            body=body,
            route=route,
            path_parameters=parameters,
            binary_types=self.server.binary_types,
            source_ip=self.client_address[0],
            stage=self.server.stage,
            domain_name=self.server.domain_name,
        )
        if len(json.dumps(event)) > LAMBDA_PAYLOAD_LIMIT:
            self._send_json(413, {"message": "Request Too Long"})
            return
        try:
            result = self.server.invoke(route.function_id, event)
        except FunctionTimeout:  # API Gateway answers 504 when the integration does not answer in time
            log.warning("%s %s: the function timed out", self.command, path)
            self._send_json(504, {"message": "Endpoint request timed out"})
            return
        except Exception:
            log.exception("handler raised")
            self._send_json(502, {"message": "Internal server error"})
            return
        self._reply(result)

    def _reply(self, result: Any) -> None:
        if not isinstance(result, dict) or "statusCode" not in result:
            self._send_json(502, {"message": "Internal server error"})
            return
        headers: list[tuple[str, str]] = []
        for name, value in (result.get("headers") or {}).items():
            headers.append((name, str(value)))
        for name, values in (result.get("multiValueHeaders") or {}).items():
            if not any(existing.lower() == name.lower() for existing, _ in headers):
                headers.extend((name, str(value)) for value in values)
        raw = result.get("body") or ""
        body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode("utf-8")
        self._send(int(result["statusCode"]), headers, body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle

    def __getattr__(self, name: str) -> Any:
        # Any other method (TRACE, QUERY, ...) reaches the routes too, as at API Gateway, where a method no route
        # serves is a 403 with its JSON body: never http.server's 501 page.
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)

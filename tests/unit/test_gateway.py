"""The local gateway's refusal of a body over Lambda's limit: every client sees the 413 with its JSON body, as API
Gateway's clients do: one that sends the whole body first (it is read and dropped), and one that asks first
(Expect: 100-continue: told before it sends). Over a real socket, with a function that must never be called."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from snapscribe_tools.gateway import LAMBDA_PAYLOAD_LIMIT, Gateway
from snapscribe_tools.template import ApiRoute

TOO_LONG = LAMBDA_PAYLOAD_LIMIT + 1024 * 1024


def _never(function_id: str, event: dict[str, Any]) -> Any:
    raise AssertionError("a body over the limit reached the function")


@pytest.fixture
def gateway() -> Iterator[tuple[str, int]]:
    server = Gateway(("127.0.0.1", 0), [ApiRoute("POST", "/api/v1/extract-image", "F")], _never, [])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[0], server.server_address[1]
    server.shutdown()
    server.server_close()


def _request_head(port: int, length: int, *extra: str) -> bytes:
    lines = [
        "POST /api/v1/extract-image HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: application/json",
        f"Content-Length: {length}",
        *extra,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _response(connection: socket.socket) -> tuple[int, dict[str, Any]]:
    data = b""
    while b"\r\n\r\n" not in data:
        data += connection.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        body += connection.recv(65536)
    return int(head.split(b" ")[1]), json.loads(body)


def test_a_client_that_sends_the_whole_body_gets_the_413(gateway: tuple[str, int]) -> None:
    host, port = gateway
    with socket.create_connection((host, port), timeout=30) as connection:
        connection.sendall(_request_head(port, TOO_LONG))
        connection.sendall(b"x" * TOO_LONG)  # a broken pipe here is the fault this test is about
        assert _response(connection) == (413, {"message": "Request Too Long"})


def test_a_client_that_asks_first_is_told_before_it_sends(gateway: tuple[str, int]) -> None:
    host, port = gateway
    with socket.create_connection((host, port), timeout=30) as connection:
        connection.sendall(_request_head(port, TOO_LONG, "Expect: 100-continue"))
        assert _response(connection) == (413, {"message": "Request Too Long"})


def _echo(function_id: str, event: dict[str, Any]) -> Any:
    time.sleep(0.05)  # a function that takes a moment: connections queue while the first are answered
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": event["body"]}


def test_a_hundred_parallel_posts_are_all_answered() -> None:
    """A burst of clients connecting at once waits in the listen backlog, none reset (socketserver's backlog of 5
    reset most of them)."""
    server = Gateway(("127.0.0.1", 0), [ApiRoute("POST", "/echo", "F")], _echo, [])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    clients = 100
    together = threading.Barrier(clients)

    def post(number: int) -> tuple[int, Any]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        together.wait()  # every connect at once (http.client connects on the request)
        try:
            connection.request(
                "POST", "/echo", body=json.dumps({"n": number}), headers={"Content-Type": "application/json"}
            )
            response = connection.getresponse()
            return response.status, json.loads(response.read())
        finally:
            connection.close()

    try:
        with ThreadPoolExecutor(max_workers=clients) as pool:
            answers = list(pool.map(post, range(clients)))
    finally:
        server.shutdown()
        server.server_close()
    assert answers == [(200, {"n": number}) for number in range(clients)]

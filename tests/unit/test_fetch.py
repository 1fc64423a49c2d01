"""URL inputs: only public addresses, checked on the resolved address of every hop."""

from __future__ import annotations

import io
import time
from http.server import BaseHTTPRequestHandler

import pytest

from snapscribe.errors import ImageTooLarge, UrlFetchFailed, UrlNotAllowed
from snapscribe.images.fetch import FetchPolicy, fetch_to, is_public_address, system_resolver
from tests.conftest import FileServer

LOOPBACK_OK = FetchPolicy(max_bytes=1024 * 1024, allow_loopback=True, read_timeout=1.0, total_timeout=5.0)
STRICT = FetchPolicy(max_bytes=1024 * 1024)


def fake_resolver(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    def resolve(host: str, port: int) -> list[str]:
        return table.get(host) or system_resolver(host, port)

    return resolve


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("127.8.9.10", False),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("100.100.100.200", False),
        ("192.0.0.192", False),
        ("168.63.129.16", False),
        ("0.0.0.0", False),
        ("224.0.0.251", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fd00:ec2::254", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:169.254.169.254", False),
        ("64:ff9b::a9fe:a9fe", False),
        ("2002:a9fe:a9fe::", False),
    ],
)
def test_address_policy(address: str, public: bool) -> None:
    assert is_public_address(address) is public


def test_loopback_only_when_a_test_allows_it() -> None:
    assert is_public_address("127.0.0.1", allow_loopback=True)
    assert not is_public_address("10.0.0.1", allow_loopback=True)
    assert not is_public_address("169.254.169.254", allow_loopback=True)


def test_fetches_from_an_allowed_host(file_server: FileServer) -> None:
    url = file_server.serve_bytes("/a.png", b"x" * 5000)
    sink = io.BytesIO()
    assert fetch_to(url, sink, LOOPBACK_OK) == 5000
    assert sink.getvalue() == b"x" * 5000


def test_loopback_is_refused_by_default_without_connecting(file_server: FileServer) -> None:
    url = file_server.serve_bytes("/a.png", b"x")
    with pytest.raises(UrlNotAllowed):
        fetch_to(url, io.BytesIO(), STRICT)
    assert file_server.hits == []


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/x",
        "http://[::ffff:169.254.169.254]/x",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://2130706433/x",
        "http://0x7f000001/x",
        "http://10.0.0.1/x",
        "http://localhost/x",
    ],
)
def test_internal_targets_are_refused(url: str) -> None:
    with pytest.raises(UrlNotAllowed):
        fetch_to(url, io.BytesIO(), STRICT)


@pytest.mark.parametrize(
    "url", ["ftp://example.com/a.png", "file:///etc/passwd", "gopher://x/", "http://user:pw@example.com/"]
)
def test_only_plain_http_urls(url: str) -> None:
    with pytest.raises(UrlNotAllowed):
        fetch_to(url, io.BytesIO(), STRICT)


def test_dns_answer_with_any_internal_address_is_refused(file_server: FileServer) -> None:
    resolve = fake_resolver({"rebind.example": ["93.184.216.34", "127.0.0.1"], "inside.example": ["10.9.8.7"]})
    for host in ("rebind.example", "inside.example"):
        with pytest.raises(UrlNotAllowed):
            fetch_to(f"http://{host}/a.png", io.BytesIO(), STRICT, resolve)


def test_redirects_to_internal_addresses_are_refused(file_server: FileServer) -> None:
    resolve = fake_resolver({"metadata.example": ["169.254.169.254"]})
    for target in (
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/x",
        "http://metadata.example/x",
        "http://[::1]:9/x",
    ):
        url = file_server.redirect(f"/go-{len(file_server.routes)}", target)
        with pytest.raises(UrlNotAllowed):
            fetch_to(url, io.BytesIO(), LOOPBACK_OK if "::1" not in target else STRICT, resolve)


def test_redirect_followed_and_bounded(file_server: FileServer) -> None:
    final = file_server.serve_bytes("/final.png", b"ok")
    file_server.redirect("/hop1", "/hop2")
    file_server.redirect("/hop2", final)
    sink = io.BytesIO()
    assert fetch_to(file_server.url + "/hop1", sink, LOOPBACK_OK) == 2
    file_server.redirect("/loop", "/loop")
    with pytest.raises(UrlFetchFailed):
        fetch_to(file_server.url + "/loop", io.BytesIO(), LOOPBACK_OK)
    assert file_server.hits.count("/loop") == LOOPBACK_OK.max_redirects + 1


def test_size_cap_by_header_and_by_stream(file_server: FileServer) -> None:
    url = file_server.serve_bytes("/big.png", b"x" * (LOOPBACK_OK.max_bytes + 1))
    with pytest.raises(ImageTooLarge):
        fetch_to(url, io.BytesIO(), LOOPBACK_OK)

    def no_length(handler: BaseHTTPRequestHandler) -> None:
        handler.protocol_version = "HTTP/1.0"
        handler.send_response(200)
        handler.end_headers()
        for _ in range(40):
            handler.wfile.write(b"y" * 65536)

    file_server.routes["/stream.png"] = no_length
    sink = io.BytesIO()
    with pytest.raises(ImageTooLarge):
        fetch_to(file_server.url + "/stream.png", sink, LOOPBACK_OK)
    assert len(sink.getvalue()) <= LOOPBACK_OK.max_bytes


def test_slow_server_times_out(file_server: FileServer) -> None:
    def slow(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(2.5)
        handler.send_response(200)
        handler.end_headers()

    file_server.routes["/slow.png"] = slow
    with pytest.raises(UrlFetchFailed):
        fetch_to(file_server.url + "/slow.png", io.BytesIO(), LOOPBACK_OK)


def test_error_status_is_reported(file_server: FileServer) -> None:
    with pytest.raises(UrlFetchFailed) as caught:
        fetch_to(file_server.url + "/missing.png", io.BytesIO(), LOOPBACK_OK)
    assert "404" in caught.value.message

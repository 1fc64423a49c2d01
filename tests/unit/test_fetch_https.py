"""The HTTPS path of URL inputs: the service connects to the address it vetted, and TLS still checks
the certificate against the URL's host name (sent as SNI). A throwaway CA and a TLS server on loopback."""

from __future__ import annotations

import datetime
import io
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from snapscribe.errors import UrlFetchFailed, UrlNotAllowed
from snapscribe.images.fetch import FetchPolicy, fetch_to


def _certificate(
    subject: str,
    issuer_key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name | None,
    key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
    names: list[str],
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer or name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path, list[str]]]:
    folder = tmp_path_factory.mktemp("tls")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("snapscribe test CA", ca_key, None, ca_key, ca=True, names=[])
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _certificate(
        "images.example.test", ca_key, ca.subject, server_key, ca=False, names=["images.example.test"]
    )
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "server.pem").write_bytes(server.public_bytes(serialization.Encoding.PEM))
    (folder / "server.key").write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server_names: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:
            pass

        def do_GET(self) -> None:
            body = f"host={self.headers['Host']}".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "server.pem", folder / "server.key")
    context.sni_callback = lambda _socket, name, _context: server_names.append(str(name)) and None
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield int(httpd.server_address[1]), folder / "ca.pem", server_names
    httpd.shutdown()
    httpd.server_close()


def _policy(ca: Path, allow_loopback: bool = True) -> FetchPolicy:
    return FetchPolicy(max_bytes=1024 * 1024, allow_loopback=allow_loopback, ca_file=str(ca), read_timeout=5)


def test_https_connects_to_the_vetted_address_with_the_hosts_name(tls_server: tuple[int, Path, list[str]]) -> None:
    port, ca, server_names = tls_server
    resolved: list[str] = []

    def resolve(host: str, _port: int) -> list[str]:
        resolved.append(host)
        return ["127.0.0.1"]

    sink = io.BytesIO()
    fetch_to(f"https://images.example.test:{port}/receipt.png", sink, _policy(ca), resolve)
    assert sink.getvalue() == f"host=images.example.test:{port}".encode()
    assert resolved == ["images.example.test"]  # resolved once, by the service
    assert server_names[-1] == "images.example.test"  # SNI carries the name, not the IP


def test_a_certificate_for_another_name_is_refused(tls_server: tuple[int, Path, list[str]]) -> None:
    port, ca, _names = tls_server
    with pytest.raises(UrlFetchFailed):
        fetch_to(
            f"https://other.example.test:{port}/x.png", io.BytesIO(), _policy(ca), lambda _host, _port: ["127.0.0.1"]
        )


def test_an_untrusted_certificate_is_refused(tls_server: tuple[int, Path, list[str]], tmp_path: Path) -> None:
    port, _ca, _names = tls_server
    stranger = ec.generate_private_key(ec.SECP256R1())
    other_ca = _certificate("another CA", stranger, None, stranger, ca=True, names=[])
    (tmp_path / "other.pem").write_bytes(other_ca.public_bytes(serialization.Encoding.PEM))
    with pytest.raises(UrlFetchFailed):
        fetch_to(
            f"https://images.example.test:{port}/x.png",
            io.BytesIO(),
            _policy(tmp_path / "other.pem"),
            lambda _host, _port: ["127.0.0.1"],
        )


def test_https_to_an_internal_address_is_refused_before_connecting(tls_server: tuple[int, Path, list[str]]) -> None:
    port, ca, server_names = tls_server
    before = len(server_names)
    with pytest.raises(UrlNotAllowed):
        fetch_to(
            f"https://images.example.test:{port}/x.png",
            io.BytesIO(),
            _policy(ca, allow_loopback=False),
            lambda _host, _port: ["127.0.0.1"],
        )
    assert len(server_names) == before

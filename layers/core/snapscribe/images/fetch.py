"""Fetch an image by URL without ever reaching an internal address.

Every hop (the first request and each redirect) resolves the host itself, refuses the request unless
every address the name resolves to is public, and then connects to that vetted address, sending the
original host name for HTTP and TLS. A DNS answer cannot change between the check and the connection,
and a redirect to an internal address is checked like the first URL.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO
from urllib.parse import urljoin, urlsplit

import urllib3
from urllib3.exceptions import HTTPError as Urllib3Error

from snapscribe.errors import ImageTooLarge, UrlFetchFailed, UrlNotAllowed

Resolver = Callable[[str, int], list[str]]

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Cloud metadata and host services that sit outside the private ranges.
_METADATA_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in ("169.254.169.254/32", "192.0.0.0/24", "100.100.100.200/32", "168.63.129.16/32", "fd00:ec2::/64")
)
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class FetchPolicy:
    max_bytes: int
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    total_timeout: float = 30.0
    max_redirects: int = 3
    allow_loopback: bool = False
    ca_file: str | None = None  # tests trust their own CA; deployments use the system's


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise UrlFetchFailed(f"Could not resolve host {host!r}") from error
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public_address(address: str, *, allow_loopback: bool = False) -> bool:
    """True only for globally routable unicast addresses (and loopback when a test allows it)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return is_public_address(str(embedded), allow_loopback=allow_loopback)
    if ip.is_loopback:
        return allow_loopback
    if any(ip in network for network in _METADATA_NETWORKS):
        return False
    blocked = ip.is_private or ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified
    if isinstance(ip, ipaddress.IPv6Address):
        blocked = blocked or ip.is_site_local
    return ip.is_global and not blocked


def _vetted_target(
    url: str, policy: FetchPolicy, resolve: Resolver, what: str = "image URL"
) -> tuple[str, str, int, str, str]:
    """(scheme, host, port, address to connect to, path and query) for a URL that may be reached."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UrlNotAllowed(f"The {what} is malformed") from error
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UrlNotAllowed(f"Only http and https {what}s are allowed")
    host = parts.hostname
    if not host:
        raise UrlNotAllowed(f"The {what} has no host")
    if parts.username or parts.password:
        raise UrlNotAllowed(f"{what[0].upper()}{what[1:]}s with credentials are not allowed")
    port = port or (443 if scheme == "https" else 80)
    addresses = resolve(host, port)
    if not addresses:
        raise UrlFetchFailed(f"Could not resolve host {host!r}")
    # All of them, not just the first: a name that resolves to one public and one internal address
    # must not get through on a retry or a different resolver order.
    if not all(is_public_address(address, allow_loopback=policy.allow_loopback) for address in addresses):
        raise UrlNotAllowed(f"The {what} points to an address that is not allowed")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, host, port, addresses[0], path


def vet_url(url: str, policy: FetchPolicy, resolve: Resolver = system_resolver, *, what: str) -> None:
    """Refuse (UrlNotAllowed, UrlFetchFailed) a URL the service may not reach, as a fetch would."""
    _vetted_target(url, policy, resolve, what)


def _pool(scheme: str, host: str, port: int, address: str, policy: FetchPolicy) -> urllib3.HTTPConnectionPool:
    timeout = urllib3.Timeout(connect=policy.connect_timeout, read=policy.read_timeout)
    if scheme == "https":
        return urllib3.HTTPSConnectionPool(
            address,
            port,
            timeout=timeout,
            retries=False,
            server_hostname=host,
            assert_hostname=host,
            cert_reqs="CERT_REQUIRED",
            ca_certs=policy.ca_file,
        )
    return urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False)


def _body_chunks(response: urllib3.BaseHTTPResponse, policy: FetchPolicy, deadline: float) -> Iterator[bytes]:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > policy.max_bytes:
        raise ImageTooLarge(f"The image at the URL is larger than {policy.max_bytes // (1024 * 1024)} MB")
    received = 0
    for chunk in response.stream(_CHUNK):
        received += len(chunk)
        if received > policy.max_bytes:
            raise ImageTooLarge(f"The image at the URL is larger than {policy.max_bytes // (1024 * 1024)} MB")
        if time.monotonic() > deadline:
            raise UrlFetchFailed("Fetching the image URL took too long")
        yield chunk


def _host_header(scheme: str, host: str, port: int) -> str:
    default_port = 443 if scheme == "https" else 80
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return host if port == default_port else f"{host}:{port}"


def post(
    url: str, body: bytes, headers: dict[str, str], policy: FetchPolicy, resolve: Resolver = system_resolver
) -> int:
    """POST `body` to a vetted URL (the connection goes to the vetted address; no redirect is followed, as a
    webhook receiver must answer itself); the HTTP status. UrlNotAllowed, UrlFetchFailed as a fetch raises."""
    scheme, host, port, address, path = _vetted_target(url, policy, resolve, "callback URL")
    pool = _pool(scheme, host, port, address, policy)
    try:
        response = pool.urlopen(
            "POST",
            path,
            body=body,
            headers={"Host": _host_header(scheme, host, port), "User-Agent": "snapscribe/1.0", **headers},
            redirect=False,
            retries=False,
            preload_content=False,
        )
        try:
            for _chunk in _body_chunks(response, policy, time.monotonic() + policy.total_timeout):
                pass  # read (and bound) the answer, so the connection ends cleanly
            return int(response.status)
        except ImageTooLarge as error:
            raise UrlFetchFailed("The callback URL answered with more than the service reads") from error
        finally:
            response.release_conn()
    except Urllib3Error as error:
        raise UrlFetchFailed(f"Could not reach the callback URL ({type(error).__name__})") from error
    finally:
        pool.close()


def fetch_to(url: str, sink: IO[bytes], policy: FetchPolicy, resolve: Resolver = system_resolver) -> int:
    """Stream the body at `url` into `sink`; the number of bytes written."""
    deadline = time.monotonic() + policy.total_timeout
    current = url
    for _hop in range(policy.max_redirects + 1):
        scheme, host, port, address, path = _vetted_target(current, policy, resolve)
        host_header = _host_header(scheme, host, port)
        pool = _pool(scheme, host, port, address, policy)
        try:
            response = pool.urlopen(
                "GET",
                path,
                headers={"Host": host_header, "User-Agent": "snapscribe/1.0", "Accept": "image/*"},
                redirect=False,
                retries=False,
                preload_content=False,
            )
            try:
                if response.status in (301, 302, 303, 307, 308):
                    location = response.headers.get("Location")
                    if not location:
                        raise UrlFetchFailed("The image URL redirected without a location")
                    current = urljoin(current, location)
                    continue
                if not 200 <= response.status < 300:
                    raise UrlFetchFailed(f"The image URL answered HTTP {response.status}")
                written = 0
                for chunk in _body_chunks(response, policy, deadline):
                    sink.write(chunk)
                    written += len(chunk)
                return written
            finally:
                response.release_conn()
        except Urllib3Error as error:
            raise UrlFetchFailed(f"Could not fetch the image URL ({type(error).__name__})") from error
        finally:
            pool.close()
    raise UrlFetchFailed(f"The image URL redirected more than {policy.max_redirects} times")

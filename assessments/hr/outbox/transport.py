"""Send a request (a webhook POST, Greenhouse's PATCH) to a URL that resolves to a public
address, and read a bounded answer.

Subscribers choose the URL, so a request to it is a request the platform makes on their
behalf from inside its network (SSRF). The address is checked where it matters: the host
is resolved, every address it resolves to must be public, and the connection goes to one of
those very addresses (TLS still verifies the certificate against the host name), so a DNS
answer that changes between the check and the connection (rebinding) cannot slip through.
No proxy from the environment is used, no redirect is followed, and no more than
``max_bytes`` of the answer is read.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

ALLOWED_SCHEMES = ("http", "https")
# IPv6 prefixes that carry an IPv4 address a gateway may connect to.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UnsafeTarget(ValueError):
    """The URL is not one the platform may call (scheme, form, or a non-public address)."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    retry_after: str | None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_is_public(address: str) -> bool:
    """Return whether ``address`` is a global unicast address (not private, loopback,
    link-local, shared, reserved or multicast), looking inside IPv6 forms of IPv4."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None and not address_is_public(str(embedded)):
            return False
    return ip.is_global and not ip.is_multicast


def url_parts(url: str) -> tuple[str, str, int, str]:
    """Return (scheme, host, port, path with query) of a URL the platform may call."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeTarget(f"not a valid URL: {exc}") from exc
    if parts.scheme not in ALLOWED_SCHEMES:
        raise UnsafeTarget("only http and https URLs are allowed")
    if not parts.hostname:
        raise UnsafeTarget("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeTarget("credentials in the URL are not supported")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path


def resolve(host: str, port: int, *, allow_private: bool) -> list[str]:
    """Return the addresses of ``host``; raise ``UnsafeTarget`` if any is not public.

    One non-public address refuses the whole host: an attacker controls which of its
    addresses a resolver returns first.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeTarget(f"{host} does not resolve ({exc})") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise UnsafeTarget(f"{host} does not resolve")
    if not allow_private:
        for address in addresses:
            if not address_is_public(address):
                raise UnsafeTarget(
                    f"{host} resolves to {address}, a private, loopback or link-local address"
                )
    return addresses


def _connect(
    addresses: list[str], port: int, timeout: float, connect_timeout: float | None = None
) -> socket.socket:
    """Connect to the first address that answers within ``connect_timeout`` (a host that
    drops packets fails fast); reads then wait up to ``timeout``."""
    error: OSError | None = None
    for address in addresses:
        try:
            sock = socket.create_connection((address, port), timeout=connect_timeout or timeout)
        except OSError as exc:
            error = exc
        else:
            sock.settimeout(timeout)
            return sock
    raise error or OSError("no address to connect to")


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to addresses already checked, whatever DNS says now."""

    def __init__(
        self, host: str, port: int, *, addresses: list[str], timeout: float,
        connect_timeout: float | None = None,
    ):  # fmt: skip
        super().__init__(host, port, timeout=timeout)
        self._addresses = addresses
        self._connect_timeout = connect_timeout

    def connect(self) -> None:
        self.sock = _connect(self._addresses, self.port, self.timeout, self._connect_timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """The TLS twin: the socket goes to a checked address, the certificate to the host."""

    def __init__(
        self, host: str, port: int, *, addresses: list[str], timeout: float,
        connect_timeout: float | None = None,
    ):  # fmt: skip
        self._tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self._tls)
        self._addresses = addresses
        self._connect_timeout = connect_timeout

    def connect(self) -> None:
        sock = _connect(self._addresses, self.port, self.timeout, self._connect_timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


def post(
    url: str,
    *,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    max_bytes: int,
    allow_private: bool,
) -> Answer:
    """POST ``body`` to ``url`` once; return the status and at most ``max_bytes`` of body.

    Raises ``UnsafeTarget`` for a URL that may not be called, ``OSError`` or
    ``http.client.HTTPException`` when no answer came.
    """
    return send(
        "POST", url, body=body, headers=headers, timeout=timeout, max_bytes=max_bytes,
        allow_private=allow_private,
    )  # fmt: skip


def send(
    method: str,
    url: str,
    *,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    max_bytes: int,
    allow_private: bool,
    connect_timeout: float | None = None,
) -> Answer:
    """``post`` with another method (Greenhouse's completion callback is a PATCH)."""
    scheme, host, port, path = url_parts(url)
    addresses = resolve(host, port, allow_private=allow_private)
    connection_class = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(
        host, port, addresses=addresses, timeout=timeout, connect_timeout=connect_timeout
    )
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return Answer(
            status=response.status,
            body=response.read(max_bytes),
            retry_after=response.getheader("Retry-After"),
        )
    finally:
        connection.close()

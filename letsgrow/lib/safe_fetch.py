"""Download a file a person pointed us at, without letting the address reach inside our network (SSRF).

A URL typed by a user makes *our* server send a request. Left alone, that request
could read the cloud metadata service (169.254.169.254), an admin page on
localhost or a database on the private network. So `fetch`:

- takes http(s) only, with no user name or password in the address;
- resolves the host itself and refuses it when ANY of its addresses is private,
  loopback, link-local, multicast, reserved, unspecified or otherwise not public
  (IPv4-mapped, 6to4, Teredo and NAT64 forms are unwrapped first; odd spellings such
  as 2130706433 or 0x7f.1 resolve to what they mean and are judged by that);
- connects to the address it vetted, not to the name again, so a DNS answer that
  changes between the check and the connection (DNS rebinding) cannot move it; the
  Host header and TLS SNI/certificate check still use the name;
- follows at most MAX_REDIRECTS redirects, vetting every hop the same way;
- refuses a response that is not an image, a video or generic bytes before reading it;
- reads with a byte cap and one deadline for the whole exchange (DNS, connect,
  every read), so a server that drips one byte a second is cut off too.

Loopback stays refused unless the caller passes `allow_loopback=True` or the
setting MEDIA_IMPORT_ALLOW_LOOPBACK is on (tests, with a local server). Nothing
turns on private, link-local or metadata addresses.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import certifi
import urllib3
from django.conf import settings
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import MaxRetryError, NewConnectionError, SSLError
from urllib3.exceptions import TimeoutError as Urllib3Timeout

MAX_REDIRECTS = 3
MAX_URL_LENGTH = 2000
READ_CHUNK = 64 * 1024
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Servers (S3, many CDNs) label media as generic bytes; the caller checks the bytes themselves.
GENERIC_CONTENT_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})
USER_AGENT = "LetsGrow-media-import/1.0"

PRIVATE_MESSAGE = "That address points inside a private network; LetsGrow only imports from public web addresses."

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# A lookup that hangs must not hang the request: it runs here and is abandoned at the deadline.
_RESOLVER = ThreadPoolExecutor(max_workers=4, thread_name_prefix="safe-fetch-dns")


class FetchRefused(Exception):
    """The address or the answer was refused; `message` says why, in plain words."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Fetched:
    content: bytes
    content_type: str  # the server's, lower-case, without parameters ("" when it sent none)
    final_url: str  # after redirects


@dataclass(frozen=True)
class _Target:
    url: str
    scheme: str
    host: str  # IDNA-encoded, without brackets
    port: int
    path: str  # path and query, as sent
    host_header: str


def fetch(
    url: str,
    *,
    max_bytes: int,
    timeout_seconds: float,
    allowed_schemes: tuple[str, ...] = ("http", "https"),
    content_type_prefixes: tuple[str, ...] = ("image/", "video/"),
    allow_loopback: bool | None = None,
) -> Fetched:
    """Download `url` (GET) within `max_bytes` and `timeout_seconds`, refusing non-public addresses.

    Raises FetchRefused with a message a person can act on; never another exception
    for a bad address, a bad server or a slow one.
    """
    if allow_loopback is None:
        allow_loopback = bool(getattr(settings, "MEDIA_IMPORT_ALLOW_LOOPBACK", False))
    deadline = time.monotonic() + timeout_seconds
    current = url
    for _hop in range(MAX_REDIRECTS + 1):
        target = _parse(current, allowed_schemes)
        address = _vetted_address(target, deadline=deadline, allow_loopback=allow_loopback)
        pool, response = _open(target, address, deadline=deadline)
        try:
            if response.status in REDIRECT_STATUSES:
                location = response.headers.get("Location", "")
                if not location:
                    raise FetchRefused("The server sent a redirect without saying where to.")
                current = urljoin(target.url, location.strip())
                continue
            if response.status != 200:
                raise FetchRefused(
                    f"The server answered {response.status} {response.reason or ''}".rstrip()
                    + " instead of the file. Check the address."
                )
            content_type = _content_type(response.headers.get("Content-Type", ""))
            _check_headers(response, content_type, max_bytes=max_bytes, prefixes=content_type_prefixes)
            content = _read_body(response, max_bytes=max_bytes, deadline=deadline)
            return Fetched(content=content, content_type=content_type, final_url=target.url)
        finally:
            response.release_conn()
            pool.close()
    raise FetchRefused(f"The address redirected more than {MAX_REDIRECTS} times; use the file's own address.")


# --------------------------------------------------------------------------- the address


def _parse(url: str, allowed_schemes: tuple[str, ...]) -> _Target:
    text = (url or "").strip()
    if not text:
        raise FetchRefused("Enter the address of an image or a video.")
    if len(text) > MAX_URL_LENGTH:
        raise FetchRefused(f"That address is longer than {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise FetchRefused("That is not a valid web address.") from exc
    scheme = parts.scheme.lower()
    if scheme not in allowed_schemes:
        shown = " and ".join(f"{name}://" for name in allowed_schemes)
        raise FetchRefused(f"Only {shown} addresses can be imported.")
    if parts.username is not None or parts.password is not None:
        raise FetchRefused("Addresses with a user name or password in them cannot be imported.")
    hostname = parts.hostname
    if not hostname:
        raise FetchRefused("That address has no server name.")
    try:
        host = hostname.rstrip(".").encode("idna").decode("ascii").lower() if not _is_ip(hostname) else hostname
    except UnicodeError as exc:
        raise FetchRefused("That address has a server name that is not valid.") from exc
    if not host:
        raise FetchRefused("That address has no server name.")
    default_port = 443 if scheme == "https" else 80
    port = port or default_port
    shown_host = f"[{host}]" if ":" in host else host
    host_header = shown_host if port == default_port else f"{shown_host}:{port}"
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return _Target(url=text, scheme=scheme, host=host, port=port, path=path, host_header=host_header)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_public_address(address: str, *, allow_loopback: bool = False) -> bool:
    """Whether `address` (an IP in text form) is a public internet address we may connect to."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    for inner in _embedded_ipv4(ip):
        if not is_public_address(str(inner), allow_loopback=allow_loopback):
            return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return is_public_address(str(ip.ipv4_mapped), allow_loopback=allow_loopback)
    if ip.is_loopback:
        return allow_loopback
    if ip.is_private or ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return False
    return ip.is_global


def _embedded_ipv4(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries (6to4, Teredo, NAT64): a relay would take us there."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    inner: list[ipaddress.IPv4Address] = []
    if ip.sixtofour is not None:
        inner.append(ip.sixtofour)
    if ip.teredo is not None:
        inner.extend(ip.teredo)
    if ip in _NAT64:
        inner.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return inner


def _resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (patched in tests: they have no DNS)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _vetted_address(target: _Target, *, deadline: float, allow_loopback: bool) -> str:
    """The address to connect to: every address of the host must be public, else refuse."""
    if _is_ip(target.host):
        addresses = [target.host]
    else:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _too_slow()
        future = _RESOLVER.submit(_resolve, target.host, target.port)
        try:
            addresses = future.result(timeout=remaining)
        except FutureTimeout as exc:
            raise _too_slow() from exc
        except (OSError, UnicodeError) as exc:
            raise FetchRefused(f"We could not find the server “{target.host}”. Check the address.") from exc
    if not addresses:
        raise FetchRefused(f"We could not find the server “{target.host}”. Check the address.")
    # All of them, not the first: a name with one public and one private address must not pass.
    if not all(is_public_address(address, allow_loopback=allow_loopback) for address in addresses):
        raise FetchRefused(PRIVATE_MESSAGE)
    return addresses[0]


# --------------------------------------------------------------------------- the exchange


def _open(target: _Target, address: str, *, deadline: float):
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _too_slow()
    timeout = urllib3.Timeout(connect=remaining, read=remaining)
    if target.scheme == "https":
        pool: urllib3.HTTPConnectionPool = urllib3.HTTPSConnectionPool(
            address,
            target.port,
            timeout=timeout,
            maxsize=1,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
            # The connection goes to the vetted IP; the certificate and SNI are still the name's.
            server_hostname=target.host,
            assert_hostname=target.host,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, target.port, timeout=timeout, maxsize=1, retries=False)
    headers = {
        "Host": target.host_header,
        "User-Agent": USER_AGENT,
        "Accept": "image/*, video/*;q=0.9, */*;q=0.1",
        # Compressed bodies could expand past the byte cap after we counted them.
        "Accept-Encoding": "identity",
    }
    try:
        response = pool.urlopen(
            "GET",
            target.path,
            headers=headers,
            redirect=False,
            retries=False,
            preload_content=False,
            decode_content=False,
            assert_same_host=False,
        )
    except Exception as exc:
        pool.close()
        raise _connection_error(exc, target) from exc
    return pool, response


def _connection_error(exc: Exception, target: _Target) -> FetchRefused:
    if isinstance(exc, MaxRetryError) and exc.reason is not None:
        exc = exc.reason  # type: ignore[assignment]
    if isinstance(exc, SSLError):
        return FetchRefused(f"The secure connection to {target.host} failed (its certificate is not valid).")
    # NewConnectionError is a kind of timeout error in urllib3: test it first.
    if isinstance(exc, NewConnectionError | ConnectionError):
        return FetchRefused(f"We could not connect to {target.host}. Check the address, or try again later.")
    if isinstance(exc, Urllib3Timeout | socket.timeout):
        return _too_slow()
    return FetchRefused(f"The download from {target.host} failed. Check the address, or try again later.")


def _content_type(header: str) -> str:
    return header.split(";", 1)[0].strip().lower()


def _check_headers(response, content_type: str, *, max_bytes: int, prefixes: tuple[str, ...]) -> None:
    if content_type not in GENERIC_CONTENT_TYPES and not content_type.startswith(prefixes):
        what = "a web page" if content_type in ("text/html", "application/xhtml+xml") else content_type
        raise FetchRefused(
            f"That address returned {what}, not an image or a video. "
            "Use the address of the file itself (right-click the image, then “Copy image address”)."
        )
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in ("", "identity"):
        raise FetchRefused("The server sent the file compressed, which LetsGrow does not import. Upload it instead.")
    length = response.headers.get("Content-Length", "")
    if length.strip().isdigit() and int(length) > max_bytes:
        raise FetchRefused(_too_big(max_bytes))


def _read_body(response, *, max_bytes: int, deadline: float) -> bytes:
    chunks: list[bytes] = []
    total = 0
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _too_slow()
            sock = getattr(getattr(response, "connection", None), "sock", None)
            if sock is not None:
                # Each read may wait only for what is left of the one deadline.
                sock.settimeout(remaining)
            # read1: one receive at most, so a slow drip returns control here between bytes.
            chunk = response.read1(READ_CHUNK)
            if not chunk:
                break
            total += len(chunk)
            if total > max_bytes:
                raise FetchRefused(_too_big(max_bytes))
            chunks.append(chunk)
    except FetchRefused:
        raise
    except (Urllib3Error, OSError) as exc:
        if isinstance(exc, Urllib3Timeout | socket.timeout) or time.monotonic() >= deadline:
            raise _too_slow() from exc
        raise FetchRefused("The server stopped sending the file halfway. Try again later.") from exc
    return b"".join(chunks)


def _too_slow() -> FetchRefused:
    return FetchRefused("The server took too long to send the file, so the import was stopped. Try again later.")


def _too_big(max_bytes: int) -> str:
    return f"The file is larger than {_megabytes(max_bytes)}, the most LetsGrow imports from an address."


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MB" if size >= 1024 * 1024 else f"{size:,} bytes"

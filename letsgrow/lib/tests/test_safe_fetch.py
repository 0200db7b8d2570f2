"""safe_fetch: public addresses only, every hop vetted, pinned to the vetted IP, capped in bytes and time."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from letsgrow.lib import safe_fetch
from letsgrow.lib.safe_fetch import PRIVATE_MESSAGE, FetchRefused, fetch, is_public_address

PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100


class _Handler(BaseHTTPRequestHandler):
    routes: dict = {}
    seen_hosts: list[str] = []

    def do_GET(self):
        type(self).seen_hosts.append(self.headers.get("Host", ""))
        route = type(self).routes.get(self.path)
        if route is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        route(self)

    def log_message(self, *args):  # keep the test output clean
        pass


def _send(handler, body: bytes, content_type: str = "image/png", *, length: bool = True, status: int = 200):
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    if length:
        handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def _redirect(location: str):
    def route(handler):
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return route


def _drip(handler):
    handler.send_response(200)
    handler.send_header("Content-Type", "image/png")
    handler.send_header("Content-Length", "1000")
    handler.end_headers()
    try:
        for _ in range(1000):
            handler.wfile.write(b"x")
            handler.wfile.flush()
            time.sleep(0.1)
    except (BrokenPipeError, ConnectionResetError):
        pass


def _unbounded(handler):
    # No Content-Length: the cap must hold while streaming, not only from the header.
    handler.send_response(200)
    handler.send_header("Content-Type", "video/mp4")
    handler.end_headers()
    try:
        for _ in range(64):
            handler.wfile.write(b"y" * 65536)
    except (BrokenPipeError, ConnectionResetError):
        pass
    handler.close_connection = True


@pytest.fixture
def server():
    routes: dict = {}
    handler = type("Handler", (_Handler,), {"routes": routes, "seen_hosts": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_port}"
    yield base, routes, handler
    httpd.shutdown()
    httpd.server_close()


# --------------------------------------------------------------------------- refused addresses


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/image.png",
        "http://localhost/image.png",
        "http://[::1]/image.png",
        "http://10.0.0.5/image.png",
        "http://172.16.3.4/image.png",
        "http://192.168.1.10/image.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/image.png",
        "http://[fd00::1]/image.png",
        "http://0.0.0.0/image.png",
        "http://224.0.0.1/image.png",
        "http://100.64.0.1/image.png",
        "http://240.0.0.1/image.png",
        "http://2130706433/image.png",  # 127.0.0.1 as one decimal number
        "http://0x7f000001/image.png",  # hex
        "http://0177.0.0.1/image.png",  # octal
        "http://127.1/image.png",  # short form
        "http://[::ffff:127.0.0.1]/image.png",  # IPv4-mapped
        "http://[::ffff:169.254.169.254]/",
        "http://[2002:a00:1::]/image.png",  # 6to4 of 10.0.0.1
        "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
        "https://127.0.0.1:8443/image.png",
    ],
)
def test_private_loopback_link_local_and_odd_spellings_are_refused(url):
    with pytest.raises(FetchRefused) as info:
        fetch(url, max_bytes=1000, timeout_seconds=2)

    assert info.value.message == PRIVATE_MESSAGE


def test_a_hostname_resolving_to_loopback_is_refused(monkeypatch):
    monkeypatch.setattr(safe_fetch, "_resolve", lambda host, port: ["127.0.0.1"])

    with pytest.raises(FetchRefused) as info:
        fetch("https://images.example.com/cat.jpg", max_bytes=1000, timeout_seconds=2)

    assert info.value.message == PRIVATE_MESSAGE


def test_one_private_address_among_public_ones_is_enough_to_refuse(monkeypatch):
    monkeypatch.setattr(safe_fetch, "_resolve", lambda host, port: ["93.184.216.34", "10.1.2.3"])

    with pytest.raises(FetchRefused) as info:
        fetch("https://images.example.com/cat.jpg", max_bytes=1000, timeout_seconds=2)

    assert info.value.message == PRIVATE_MESSAGE


def test_allowing_loopback_never_allows_private_or_metadata_addresses():
    for url in ("http://10.0.0.5/x.png", "http://169.254.169.254/", "http://[fe80::1]/x"):
        with pytest.raises(FetchRefused) as info:
            fetch(url, max_bytes=1000, timeout_seconds=2, allow_loopback=True)
        assert info.value.message == PRIVATE_MESSAGE


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file:///etc/passwd", "Only http:// and https:// addresses can be imported."),
        ("ftp://example.com/a.png", "Only http:// and https:// addresses can be imported."),
        ("gopher://example.com/", "Only http:// and https:// addresses can be imported."),
        ("http://user:secret@example.com/a.png", "Addresses with a user name or password in them cannot be imported."),
        ("http://example.com:99999/a.png", "That is not a valid web address."),
        ("http:///a.png", "That address has no server name."),
        ("", "Enter the address of an image or a video."),
    ],
)
def test_bad_addresses_are_refused_with_a_reason(url, message):
    with pytest.raises(FetchRefused) as info:
        fetch(url, max_bytes=1000, timeout_seconds=2)

    assert info.value.message == message


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("::1", False),
        ("::ffff:10.0.0.1", False),
        ("169.254.169.254", False),
        ("fe80::1%eth0", False),
        ("not-an-ip", False),
    ],
)
def test_is_public_address(address, expected):
    assert is_public_address(address) is expected


def test_is_public_address_lets_loopback_through_only_when_asked():
    assert is_public_address("127.0.0.1", allow_loopback=True) is True
    assert is_public_address("::1", allow_loopback=True) is True
    assert is_public_address("10.0.0.1", allow_loopback=True) is False


# --------------------------------------------------------------------------- against a local server


def test_loopback_is_refused_by_default_even_for_a_real_server(server):
    base, routes, _handler = server
    routes["/image.png"] = lambda h: _send(h, PNG_BYTES)

    with pytest.raises(FetchRefused) as info:
        fetch(f"{base}/image.png", max_bytes=1000, timeout_seconds=2)

    assert info.value.message == PRIVATE_MESSAGE


def test_the_setting_allows_loopback(server, settings):
    settings.MEDIA_IMPORT_ALLOW_LOOPBACK = True
    base, routes, _handler = server
    routes["/image.png"] = lambda h: _send(h, PNG_BYTES, "image/png; charset=binary")

    fetched = fetch(f"{base}/image.png", max_bytes=1000, timeout_seconds=2)

    assert fetched.content == PNG_BYTES
    assert fetched.content_type == "image/png"
    assert fetched.final_url == f"{base}/image.png"


def test_the_connection_goes_to_the_vetted_address_with_the_name_in_the_host_header(server, monkeypatch):
    base, routes, handler = server
    port = base.rsplit(":", 1)[1]
    routes["/image.png"] = lambda h: _send(h, PNG_BYTES)
    calls = []

    def resolve(host, port_):
        calls.append(host)
        # A rebinding server would answer differently the second time; we must not ask twice.
        return ["127.0.0.1"] if len(calls) == 1 else ["10.9.9.9"]

    monkeypatch.setattr(safe_fetch, "_resolve", resolve)

    fetched = fetch(f"http://media.example:{port}/image.png", max_bytes=1000, timeout_seconds=2, allow_loopback=True)

    assert fetched.content == PNG_BYTES
    assert calls == ["media.example"]
    assert handler.seen_hosts == [f"media.example:{port}"]


def test_redirects_are_followed_and_each_hop_vetted(server):
    base, routes, _handler = server
    routes["/a"] = _redirect("/b")
    routes["/b"] = _redirect(f"{base}/image.png")
    routes["/image.png"] = lambda h: _send(h, PNG_BYTES)

    fetched = fetch(f"{base}/a", max_bytes=1000, timeout_seconds=2, allow_loopback=True)

    assert fetched.content == PNG_BYTES
    assert fetched.final_url == f"{base}/image.png"


@pytest.mark.parametrize(
    "location",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/x.png",
        "http://[::ffff:192.168.0.1]/",
        "file:///etc",
    ],
)
def test_a_redirect_to_a_private_address_is_refused(server, location):
    base, routes, handler = server
    routes["/a"] = _redirect(location)

    with pytest.raises(FetchRefused) as info:
        fetch(f"{base}/a", max_bytes=1000, timeout_seconds=2, allow_loopback=True)

    assert info.value.message in (PRIVATE_MESSAGE, "Only http:// and https:// addresses can be imported.")
    assert handler.seen_hosts == [base.removeprefix("http://")]  # nothing else was asked


def test_more_than_three_redirects_are_refused(server):
    base, routes, handler = server
    for name, nxt in (("/1", "/2"), ("/2", "/3"), ("/3", "/4"), ("/4", "/image.png")):
        routes[name] = _redirect(nxt)
    routes["/image.png"] = lambda h: _send(h, PNG_BYTES)

    with pytest.raises(FetchRefused) as info:
        fetch(f"{base}/1", max_bytes=1000, timeout_seconds=2, allow_loopback=True)

    assert "redirected more than 3 times" in info.value.message
    assert len(handler.seen_hosts) == 4


def test_a_declared_oversize_body_is_refused_before_reading(server):
    base, routes, _handler = server
    routes["/big.png"] = lambda h: _send(h, b"z" * 5000)

    with pytest.raises(FetchRefused) as info:
        fetch(f"{base}/big.png", max_bytes=1000, timeout_seconds=2, allow_loopback=True)

    assert info.value.message == "The file is larger than 1,000 bytes, the most LetsGrow imports from an address."


def test_an_undeclared_oversize_body_is_cut_off_while_streaming(server):
    base, routes, _handler = server
    routes["/stream.mp4"] = _unbounded

    with pytest.raises(FetchRefused) as info:
        fetch(f"{base}/stream.mp4", max_bytes=1024 * 1024, timeout_seconds=5, allow_loopback=True)

    assert info.value.message == "The file is larger than 1 MB, the most LetsGrow imports from an address."


def test_a_slow_drip_is_stopped_by_the_overall_deadline(server):
    base, routes, _handler = server
    routes["/drip.png"] = _drip
    started = time.monotonic()

    with pytest.raises(FetchRefused) as info:
        fetch(f"{base}/drip.png", max_bytes=10_000, timeout_seconds=1.0, allow_loopback=True)

    assert "took too long" in info.value.message
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize(
    ("content_type", "fragment"),
    [("text/html; charset=utf-8", "returned a web page"), ("application/pdf", "returned application/pdf")],
)
def test_a_non_media_answer_is_refused_early(server, content_type, fragment):
    base, routes, _handler = server
    routes["/page"] = lambda h: _send(h, b"<html></html>", content_type)

    with pytest.raises(FetchRefused) as info:
        fetch(f"{base}/page", max_bytes=1000, timeout_seconds=2, allow_loopback=True)

    assert fragment in info.value.message


def test_generic_bytes_are_let_through_for_the_caller_to_check(server):
    base, routes, _handler = server
    routes["/blob"] = lambda h: _send(h, PNG_BYTES, "application/octet-stream")

    fetched = fetch(f"{base}/blob", max_bytes=1000, timeout_seconds=2, allow_loopback=True)

    assert fetched.content_type == "application/octet-stream"


def test_an_error_status_is_refused(server):
    base, _routes, _handler = server

    with pytest.raises(FetchRefused) as info:
        fetch(f"{base}/missing.png", max_bytes=1000, timeout_seconds=2, allow_loopback=True)

    assert info.value.message.startswith("The server answered 404 Not Found")


def test_a_closed_port_is_a_plain_error():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    with pytest.raises(FetchRefused) as info:
        fetch(f"http://127.0.0.1:{port}/x.png", max_bytes=1000, timeout_seconds=2, allow_loopback=True)

    assert info.value.message.startswith("We could not connect to 127.0.0.1")

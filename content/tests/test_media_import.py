"""Import from an address: the download is safe_fetch's (public addresses only), the checks are an upload's."""

from __future__ import annotations

import dataclasses
import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from PIL import Image

from accounts.models import Membership
from content import media
from content.media import import_media_from_url
from content.models import MediaAsset
from content.tests.fixtures_media import PDF_BYTES, jpeg_bytes, mp4_bytes
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

FILES: dict[str, tuple[bytes, str]] = {
    "/photos/holiday%20snap.jpg": (jpeg_bytes(120, 80, gps=True), "image/jpeg"),
    "/clip.mp4": (mp4_bytes(), "video/mp4"),
    "/disguised.jpg": (PDF_BYTES, "image/jpeg"),
    "/page.html": (b"<html><body>hello</body></html>", "text/html"),
}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/go":
            self.send_response(302)
            self.send_header("Location", "/photos/holiday%20snap.jpg")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body, content_type = FILES.get(self.path, (b"", ""))
        self.send_response(200 if content_type else 404)
        self.send_header("Content-Type", content_type or "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_IMPORT_MAX_SECONDS = 5.0


@pytest.fixture
def allow_loopback(settings):
    settings.MEDIA_IMPORT_ALLOW_LOOPBACK = True


@pytest.fixture
def workspace():
    return WorkspaceFactory()


def test_an_image_is_imported_and_cleaned_like_an_upload(server, allow_loopback, workspace):
    url = f"{server}/go"

    asset = import_media_from_url(workspace=workspace, actor=None, url=url, alt_text="Beach")

    assert asset.kind == "image" and asset.content_type == "image/jpeg"
    assert asset.source_url == url
    assert asset.original_name == "holiday snap.jpg"
    assert asset.alt_text == "Beach"
    stored = Image.open(io.BytesIO(asset.file.open("rb").read()))
    assert stored.getexif().get_ifd(0x8825) == {} and dict(stored.getexif()) == {}


def test_a_video_is_imported(server, allow_loopback, workspace):
    asset = import_media_from_url(workspace=workspace, actor=None, url=f"{server}/clip.mp4")

    assert (asset.kind, asset.width, asset.height, asset.duration_seconds) == ("video", 1280, 720, 12.5)


def test_without_the_allowance_the_local_server_is_refused(server, workspace):
    with pytest.raises(ValidationError) as info:
        import_media_from_url(workspace=workspace, actor=None, url=f"{server}/clip.mp4")

    assert info.value.messages == [
        "That address points inside a private network; LetsGrow only imports from public web addresses."
    ]


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("/disguised.jpg", "This file is a PDF document (application/pdf), whatever its name says."),
        ("/page.html", "That address returned a web page, not an image or a video."),
        ("/missing.png", "The server answered 404 Not Found instead of the file."),
    ],
)
def test_what_is_not_media_is_refused(server, allow_loopback, workspace, path, fragment):
    with pytest.raises(ValidationError) as info:
        import_media_from_url(workspace=workspace, actor=None, url=f"{server}{path}")

    assert fragment in info.value.messages[0]
    assert MediaAsset.objects.count() == 0


def test_the_download_is_capped_by_the_plan(server, allow_loopback, workspace, monkeypatch):
    tiny = dataclasses.replace(media.PLANS["free"], max_image_bytes=500, max_video_bytes=600)
    monkeypatch.setattr(media, "plan_for", lambda ws: tiny)

    with pytest.raises(ValidationError) as info:
        import_media_from_url(workspace=workspace, actor=None, url=f"{server}/clip.mp4")

    assert info.value.messages == ["The file is larger than 600 bytes, the most LetsGrow imports from an address."]


def test_the_import_page_adds_the_file(client, server, allow_loopback, workspace):
    user = UserFactory()
    MembershipFactory(user=user, workspace=workspace, role=Membership.Role.EDITOR)
    client.force_login(user)

    response = client.post(
        reverse("content_media:import", kwargs={"workspace_slug": workspace.slug}),
        {"url": f"{server}/clip.mp4", "alt_text": ""},
        follow=True,
    )

    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] == [
        f"clip.mp4: added (1280 x 720, MP4, {media.human_size(len(mp4_bytes()))})."
    ]
    assert MediaAsset.objects.get().uploaded_by == user

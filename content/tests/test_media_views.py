"""Media library pages and the public signed file URL: good input works, bad input gets a clear answer, never a 500."""

from __future__ import annotations

import io
import time
from datetime import timedelta

import pytest
from django.core import signing
from django.urls import reverse
from PIL import Image

from accounts.models import Membership
from content import media
from content.models import MediaAsset, Post, PostMedia
from content.tests.fixtures_media import PDF_BYTES, gif_bytes, jpeg_bytes, mp4_bytes, png_bytes, upload
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def workspace():
    return WorkspaceFactory()


def _member(workspace, role=Membership.Role.EDITOR):
    user = UserFactory()
    MembershipFactory(user=user, workspace=workspace, role=role)
    return user


@pytest.fixture
def editor_client(client, workspace):
    client.force_login(_member(workspace))
    return client


def _url(name, workspace, **kwargs):
    return reverse(f"content_media:{name}", kwargs={"workspace_slug": workspace.slug, **kwargs})


def _asset(workspace, name="a.png", data=None, **kwargs) -> MediaAsset:
    return media.upload_media(
        workspace=workspace, actor=None, uploaded_file=upload(name, data or png_bytes()), **kwargs
    )


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --------------------------------------------------------------------------- library and upload


def test_the_library_shows_each_asset_with_its_facts(editor_client, workspace):
    asset = _asset(workspace, "logo.png", png_bytes(40, 30), alt_text="Our logo")
    post = Post.objects.create(workspace=workspace, text="Hello")
    PostMedia.objects.create(workspace=workspace, post=post, asset=asset)
    video = _asset(workspace, "clip.mp4", mp4_bytes())

    response = editor_client.get(_url("library", workspace))

    assert response.status_code == 200
    body = response.content.decode()
    assert "logo.png" in body and "PNG" in body and "40 x 30" in body and "Alt: Our logo" in body
    assert "Used in 1 post" in body
    assert "clip.mp4" in body and "bi-film" in body and "12.5 s" in body
    assert f'data-testid="asset-{video.pk}"' in body
    assert "/m/" in body  # thumbnails through signed links, not /media/


def test_uploading_several_files_reports_each_one(editor_client, workspace):
    files = [
        upload("good.jpg", jpeg_bytes(64, 48)),
        upload("fake.jpg", PDF_BYTES),
        upload("anim.gif", gif_bytes()),
        upload("empty.png", b""),
    ]

    response = editor_client.post(_url("upload", workspace), {"files": files, "alt_text": "Shared words"}, follow=True)

    assert response.status_code == 200
    notes = _messages(response)
    assert (
        notes[0]
        == "good.jpg: added (64 x 48, JPEG, "
        + media.human_size(MediaAsset.objects.get(original_name="good.jpg").size_bytes)
        + ")."
    )
    assert notes[1].startswith("fake.jpg: This file is a PDF document (application/pdf)")
    assert notes[2].startswith("anim.gif: added (32 x 32, GIF")
    assert notes[3] == "empty.png: This file is empty (0 bytes)."
    assert sorted(MediaAsset.objects.values_list("original_name", flat=True)) == ["anim.gif", "good.jpg"]
    assert set(MediaAsset.objects.values_list("alt_text", flat=True)) == {"Shared words"}


def test_uploading_the_same_image_twice_says_it_is_already_there(editor_client, workspace):
    data = jpeg_bytes(64, 48)
    editor_client.post(_url("upload", workspace), {"files": [upload("a.jpg", data)]}, follow=True)

    response = editor_client.post(_url("upload", workspace), {"files": [upload("b.jpg", data)]}, follow=True)

    assert _messages(response) == ["b.jpg: already in your library, so the existing copy was kept."]
    assert MediaAsset.objects.count() == 1


def test_an_upload_without_files_is_a_form_error(editor_client, workspace):
    response = editor_client.post(_url("upload", workspace), {"alt_text": "x"})

    assert response.status_code == 400
    assert "Choose at least one image or video to upload." in response.content.decode()


def test_too_many_files_at_once_are_refused(editor_client, workspace):
    files = [upload(f"{index}.png", png_bytes(8 + index, 8)) for index in range(21)]

    response = editor_client.post(_url("upload", workspace), {"files": files})

    assert response.status_code == 400
    assert "Upload at most 20 files at a time (you chose 21)." in response.content.decode()
    assert MediaAsset.objects.count() == 0


def test_a_request_body_over_the_limit_is_refused_before_it_is_read(editor_client, workspace):
    # The Content-Length alone decides: the body is never parsed.
    response = editor_client.generic(
        "POST",
        _url("upload", workspace),
        data=b"x" * 100,
        content_type="multipart/form-data; boundary=BoUnDaRy",
        CONTENT_LENGTH=str(10 * 1024 * 1024 * 1024),
    )

    assert response.status_code == 413
    assert "one upload can carry up to" in response.content.decode()


def test_the_upload_checks_csrf_itself(workspace):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(_member(workspace))

    response = client.post(_url("upload", workspace), {"files": [upload("a.png", png_bytes())]})

    assert response.status_code == 403
    assert MediaAsset.objects.count() == 0


def test_a_viewer_sees_the_library_but_cannot_upload(client, workspace):
    client.force_login(_member(workspace, Membership.Role.VIEWER))

    page = client.get(_url("library", workspace))
    refused = client.post(_url("upload", workspace), {"files": [upload("a.png", png_bytes())]})

    assert page.status_code == 200 and 'data-testid="upload-form"' not in page.content.decode()
    assert refused.status_code == 403
    assert MediaAsset.objects.count() == 0


def test_the_kind_filter(editor_client, workspace):
    _asset(workspace, "a.png")
    _asset(workspace, "clip.mp4", mp4_bytes())

    videos = editor_client.get(_url("library", workspace) + "?kind=video")
    nonsense = editor_client.get(_url("library", workspace) + "?kind=<script>&page=abc")

    assert [card.asset.original_name for card in videos.context["cards"]] == ["clip.mp4"]
    assert nonsense.status_code == 200 and len(nonsense.context["cards"]) == 2


# --------------------------------------------------------------------------- import


def test_import_refuses_a_private_address_with_the_reason(editor_client, workspace):
    response = editor_client.post(_url("import", workspace), {"url": "http://169.254.169.254/latest/meta-data/"})

    assert response.status_code == 400
    assert "points inside a private network" in response.content.decode()
    assert MediaAsset.objects.count() == 0


@pytest.mark.parametrize("url", ["", "not a url", "javascript:alert(1)", "http://" + "a" * 2100])
def test_import_refuses_bad_addresses_without_a_500(editor_client, workspace, url):
    response = editor_client.post(_url("import", workspace), {"url": url})

    assert response.status_code == 400
    assert 'class="invalid-feedback d-block"' in response.content.decode()


# --------------------------------------------------------------------------- detail, alt text, delete


def test_the_asset_page_shows_the_preview_and_each_platform(editor_client, workspace):
    asset = _asset(workspace, "tall.jpg", jpeg_bytes(1080, 1920))

    response = editor_client.get(_url("detail", workspace, pk=asset.pk))

    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-testid="fit-instagram"' in body
    assert "Will be cropped to 4:5 (from the center)" in body
    assert "--bs-aspect-ratio: 125.0000%" in body
    assert "1080 x 1920 px" in body


def test_a_video_page_plays_it(editor_client, workspace):
    asset = _asset(workspace, "clip.mp4", mp4_bytes())

    response = editor_client.get(_url("detail", workspace, pk=asset.pk))

    assert "<video" in response.content.decode()
    assert "Videos are sent as uploaded." in response.content.decode()


def test_alt_text_is_edited(editor_client, workspace):
    asset = _asset(workspace)

    response = editor_client.post(_url("alt_text", workspace, pk=asset.pk), {"alt_text": "A blue square"}, follow=True)

    assert _messages(response) == ["Alt text saved."]
    assert MediaAsset.objects.get(pk=asset.pk).alt_text == "A blue square"


def test_alt_text_that_is_too_long_is_a_form_error(editor_client, workspace):
    asset = _asset(workspace)

    response = editor_client.post(_url("alt_text", workspace, pk=asset.pk), {"alt_text": "x" * 2000})

    assert response.status_code == 400
    assert "Ensure this value has at most 1500 characters" in response.content.decode()
    assert MediaAsset.objects.get(pk=asset.pk).alt_text == ""


def test_delete_is_refused_while_a_draft_uses_the_file(editor_client, workspace):
    asset = _asset(workspace)
    post = Post.objects.create(workspace=workspace, text="Draft with a picture")
    PostMedia.objects.create(workspace=workspace, post=post, asset=asset)

    response = editor_client.post(_url("delete", workspace, pk=asset.pk), follow=True)

    assert response.redirect_chain[-1][0] == _url("detail", workspace, pk=asset.pk)
    assert _messages(response)[0].startswith("This file is attached to 1 post not published yet")
    assert MediaAsset.objects.filter(pk=asset.pk).exists()


def test_delete_removes_an_unused_file(editor_client, workspace):
    asset = _asset(workspace, "old.png")

    response = editor_client.post(_url("delete", workspace, pk=asset.pk), follow=True)

    assert response.redirect_chain[-1][0] == _url("library", workspace)
    assert _messages(response) == ["Deleted old.png."]
    assert not MediaAsset.objects.filter(pk=asset.pk).exists()


def test_another_workspaces_asset_is_404(editor_client, workspace):
    theirs = _asset(WorkspaceFactory())

    assert editor_client.get(_url("detail", workspace, pk=theirs.pk)).status_code == 404
    assert editor_client.post(_url("delete", workspace, pk=theirs.pk)).status_code == 404
    assert MediaAsset.objects.filter(pk=theirs.pk).exists()


# --------------------------------------------------------------------------- signed public URLs


def test_a_signed_url_serves_the_file_without_a_session(client, workspace):
    asset = _asset(workspace, "a.jpg", jpeg_bytes(64, 48))

    url = media.signed_media_url(asset)
    response = client.get(url.removeprefix("http://letsgrow.test"))

    assert url.startswith("http://letsgrow.test/m/")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == f'inline; filename="{asset.storage_name}"'
    assert b"".join(response.streaming_content) == asset.file.open("rb").read()


def test_signed_thumbnails_and_renditions(client, workspace):
    asset = _asset(workspace, "wide.png", png_bytes(300, 100))
    rendition = media.rendition_for(asset, "1x1")

    thumbnail = client.get(media.signed_media_path(asset, thumbnail=True))
    cropped = client.get(media.signed_media_path(rendition))

    assert thumbnail.status_code == 200 and thumbnail["Content-Type"] == "image/jpeg"
    assert cropped.status_code == 200
    assert Image.open(io.BytesIO(b"".join(cropped.streaming_content))).size == (100, 100)


def test_a_tampered_token_is_404(client, workspace):
    asset = _asset(workspace)
    path = media.signed_media_path(asset)
    token = path.removeprefix("/m/").rstrip("/")
    forged = signing.TimestampSigner(salt="something else").sign_object(
        signing.TimestampSigner(salt=media.SIGNING_SALT).unsign_object(token)
    )
    other_pk = signing.TimestampSigner(salt=media.SIGNING_SALT).sign_object(
        {**signing.TimestampSigner(salt=media.SIGNING_SALT).unsign_object(token), "id": asset.pk + 1}
    )

    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), forged, "nonsense", "a:b:c", other_pk):
        assert client.get(reverse("content_media_public:file", kwargs={"token": bad})).status_code == 404


def test_a_token_signed_by_hand_for_another_file_is_404(client, workspace):
    # The token names the file it was made for: the right id with another file tag does not work.
    asset = _asset(workspace)
    token = signing.TimestampSigner(salt=media.SIGNING_SALT).sign_object(
        {"k": "a", "id": asset.pk, "f": "0" * 16, "e": int(time.time()) + 60}
    )

    assert client.get(reverse("content_media_public:file", kwargs={"token": token})).status_code == 404


def test_an_expired_link_is_404(client, workspace, monkeypatch):
    asset = _asset(workspace)
    path = media.signed_media_path(asset, expires_in=timedelta(seconds=30))
    assert client.get(path).status_code == 200

    later = time.time() + 31
    monkeypatch.setattr(media.time, "time", lambda: later)

    assert client.get(path).status_code == 404


def test_a_link_is_404_once_the_asset_is_deleted(client, workspace):
    asset = _asset(workspace)
    path = media.signed_media_path(asset)
    media.delete_media(asset=asset, actor=None)

    assert client.get(path).status_code == 404


def test_the_public_url_takes_no_writes(client, workspace):
    path = media.signed_media_path(_asset(workspace))

    assert client.post(path).status_code == 405


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'--BoUnDaRy\r\nContent-Disposition: form-data; name="files"; filename="a.png"\r\n\r\nabc', "BoUnDaRy"),
        (b"garbage without any boundary", "BoUnDaRy"),
        (b"", ""),
    ],
)
def test_a_malformed_upload_body_is_a_clear_error_not_a_500(editor_client, workspace, body, content_type):
    editor_client.raise_request_exception = False
    header = f"multipart/form-data; boundary={content_type}" if content_type else "multipart/form-data"

    response = editor_client.generic("POST", _url("upload", workspace), data=body, content_type=header)

    assert response.status_code == 400
    assert MediaAsset.objects.count() == 0

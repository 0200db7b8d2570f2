"""Document pages: list, upload (good, bad, too big, free plan, viewer), detail and its polling, delete."""

from __future__ import annotations

from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from accounts.models import Membership
from billing.models import Subscription
from content import documents, tasks
from content.models import Document
from content.tests.test_documents_samples import make_docx, make_pdf, make_png
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr(documents.shutil, "which", lambda name: None)
    monkeypatch.setattr(documents, "_ai_summariser", lambda: (None, None))


@pytest.fixture
def run_task(monkeypatch) -> mock.Mock:
    """The worker, in the test: the enqueued task runs right away."""
    sent = mock.Mock(side_effect=lambda document_id: tasks.extract_document_task(document_id))
    monkeypatch.setattr(tasks.extract_document_task, "delay", sent)
    return sent


@pytest.fixture
def workspace():
    workspace = WorkspaceFactory()
    Subscription.objects.create(workspace=workspace, plan="pro")
    return workspace


def _client(workspace, role: str = Membership.Role.EDITOR) -> Client:
    user = UserFactory()
    MembershipFactory(user=user, workspace=workspace, role=role)
    client = Client()
    client.force_login(user)
    return client


def _url(name: str, workspace, **kwargs) -> str:
    return reverse(f"content_documents:{name}", kwargs={"workspace_slug": workspace.slug, **kwargs})


def _post_file(client: Client, workspace, data: bytes, name: str):
    return client.post(_url("upload", workspace), {"file": SimpleUploadedFile(name, data)})


def test_an_editor_uploads_a_docx_and_sees_its_key_points(workspace, run_task, django_capture_on_commit_callbacks):
    client = _client(workspace)

    with django_capture_on_commit_callbacks(execute=True):
        response = _post_file(client, workspace, make_docx(), "launch.docx")
    document = Document.objects.get()
    page = client.get(response["Location"])

    assert response.status_code == 302
    assert response["Location"] == _url("detail", workspace, pk=document.pk)
    run_task.assert_called_once_with(document.pk)
    assert document.status == Document.Status.READY
    assert page.status_code == 200
    body = page.content.decode()
    assert "Reading your document" in body  # the flash message
    assert 'data-testid="key-points"' in body
    assert "espresso machine" in body
    assert "Offline extract" in body
    assert "data-document-poll" not in body


def test_a_document_still_processing_polls_for_its_status(workspace, monkeypatch):
    monkeypatch.setattr(tasks.extract_document_task, "delay", mock.Mock())
    client = _client(workspace)
    _post_file(client, workspace, make_pdf(), "report.pdf")
    document = Document.objects.get()

    page = client.get(_url("detail", workspace, pk=document.pk))
    poll = client.get(_url("detail", workspace, pk=document.pk) + "?poll=1")
    listing = client.get(_url("list", workspace) + "?poll=1")

    assert document.status == Document.Status.PROCESSING
    body = page.content.decode()
    assert 'data-testid="processing"' in body
    assert f'data-document-poll="{_url("detail", workspace, pk=document.pk)}?poll=1"' in body
    assert "js/document_status.js" in body
    assert poll.json() == {"value": "processing"}
    assert listing.json() == {"value": str(document.pk)}


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (
            b"MZ\x90\x00" + bytes(300),
            "setup.pdf",
            "This file is not a document LetsGrow can read (it looks like a .exe",
        ),
        (make_png(), "scan.pdf", "Text in images needs OCR, which is not installed on this server"),
        (make_docx()[:20_000], "cut.docx", "This file is damaged or not a real DOCX file."),
        (b"", "empty.txt", "The file is empty."),
    ],
    ids=["exe", "image-without-ocr", "truncated-docx", "empty"],
)
def test_a_bad_upload_is_refused_with_a_clear_message(workspace, run_task, data, name, message):
    client = _client(workspace)

    response = _post_file(client, workspace, data, name)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Document.objects.exists()
    run_task.assert_not_called()


def test_an_upload_without_a_file_asks_for_one(workspace, run_task):
    response = _client(workspace).post(_url("upload", workspace), {})

    assert response.status_code == 400
    assert "Choose a file to upload." in response.content.decode()


def test_an_oversized_upload_is_dropped_while_it_arrives(workspace, run_task, monkeypatch):
    monkeypatch.setattr(documents, "MAX_UPLOAD_BYTES", 10_000)

    response = _post_file(_client(workspace), workspace, b"a" * 50_000, "long.txt")

    assert response.status_code == 400
    assert "This file is larger than 20 MB" in response.content.decode()
    assert not Document.objects.exists()


def test_a_password_protected_pdf_shows_why_it_failed(workspace, run_task, django_capture_on_commit_callbacks):
    from content.tests.test_documents_samples import make_encrypted_pdf

    client = _client(workspace)
    with django_capture_on_commit_callbacks(execute=True):
        _post_file(client, workspace, make_encrypted_pdf(), "locked.pdf")
    document = Document.objects.get()

    detail = client.get(_url("detail", workspace, pk=document.pk)).content.decode()
    listing = client.get(_url("list", workspace)).content.decode()

    for body in (detail, listing):
        assert "This PDF is password-protected; remove the password and upload it again." in body


def test_the_free_plan_sees_an_upgrade_note_instead_of_the_form(run_task):
    free = WorkspaceFactory()
    client = _client(free, Membership.Role.OWNER)

    upload_page = client.get(_url("upload", free)).content.decode()
    list_page = client.get(_url("list", free)).content.decode()
    refused = _post_file(client, free, make_pdf(), "report.pdf")

    assert 'data-testid="plan-note"' in upload_page
    assert 'data-testid="upload-form"' not in upload_page
    assert 'data-testid="plan-note"' in list_page
    assert 'data-testid="upload-link"' not in list_page
    assert refused.status_code == 400
    assert "Pro plan" in refused.content.decode()
    assert not Document.objects.exists()


@pytest.mark.parametrize(("installed", "text"), [(False, "not installed on this server"), (True, "available")])
def test_the_upload_page_says_whether_ocr_is_available(workspace, monkeypatch, installed, text):
    monkeypatch.setattr(documents.shutil, "which", lambda name: "/usr/bin/tesseract" if installed else None)

    page = _client(workspace).get(_url("upload", workspace))

    assert page.status_code == 200
    assert 'data-testid="upload-form"' in page.content.decode()
    assert text in page.content.decode().split('data-testid="ocr-status"')[1][:400]


def test_a_viewer_reads_but_cannot_upload_or_delete(workspace, run_task):
    document = Document.objects.create(
        workspace=workspace,
        storage_name="a.txt",
        file=f"documents/{workspace.pk}/a.txt",
        original_name="Brief.txt",
        kind="txt",
        size_bytes=10,
        status=Document.Status.READY,
        extracted_text="Hello there.",
        key_points=["Hello there."],
    )
    viewer = _client(workspace, Membership.Role.VIEWER)

    listing = viewer.get(_url("list", workspace))
    detail = viewer.get(_url("detail", workspace, pk=document.pk))
    upload = _post_file(viewer, workspace, make_pdf(), "report.pdf")
    delete = viewer.post(_url("delete", workspace, pk=document.pk))

    assert listing.status_code == 200
    assert "Brief.txt" in listing.content.decode()
    assert 'data-testid="upload-link"' not in listing.content.decode()
    assert detail.status_code == 200
    assert 'data-testid="delete-form"' not in detail.content.decode()
    assert upload.status_code == 403
    assert delete.status_code == 403
    assert Document.objects.count() == 1


def test_an_editor_deletes_a_document(workspace, run_task, django_capture_on_commit_callbacks):
    client = _client(workspace)
    with django_capture_on_commit_callbacks(execute=True):
        _post_file(client, workspace, make_pdf(), "report.pdf")
    document = Document.objects.get()

    assert client.get(_url("delete", workspace, pk=document.pk))["Location"] == _url(
        "detail", workspace, pk=document.pk
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_url("delete", workspace, pk=document.pk))

    assert response.status_code == 302
    assert response["Location"] == _url("list", workspace)
    assert not Document.objects.exists()


def test_the_detail_preview_is_the_start_of_the_text(workspace):
    document = Document.objects.create(
        workspace=workspace,
        storage_name="a.txt",
        file=f"documents/{workspace.pk}/a.txt",
        original_name="Long.txt",
        kind="txt",
        size_bytes=10,
        status=Document.Status.READY,
        extracted_text="x" * 2_990 + "END-OF-PREVIEW" + "y" * 5_000,
        key_points=["A point."],
        summary_note="Offline extract: key sentences picked from the document.",
    )

    body = _client(workspace).get(_url("detail", workspace, pk=document.pk)).content.decode()

    assert "x" * 2_990 + "END-OF-PRE" in body
    assert "END-OF-PREV" not in body
    assert "The first 3000 of 8004 characters read." in body
    assert "Offline extract: key sentences picked from the document." in body


def test_the_upload_checks_csrf(workspace, run_task):
    user = UserFactory()
    MembershipFactory(user=user, workspace=workspace, role=Membership.Role.EDITOR)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    response = _post_file(client, workspace, make_pdf(), "report.pdf")

    assert response.status_code == 403
    assert not Document.objects.exists()


def test_another_workspaces_document_is_not_found(workspace):
    other = WorkspaceFactory()
    document = Document.objects.create(
        workspace=other, storage_name="a.txt", file="documents/x/a.txt", original_name="a", kind="txt", size_bytes=1
    )

    response = _client(workspace).get(_url("detail", workspace, pk=document.pk))

    assert response.status_code == 404

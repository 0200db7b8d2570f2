"""Uploading a document in a real browser: the page says it is reading, then shows the key points by itself."""

from __future__ import annotations

from unittest import mock

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from playwright.sync_api import expect

from accounts.models import Membership
from billing.models import Subscription
from content import documents, tasks
from content.models import Document
from content.tests.test_documents_samples import make_docx
from tests.factories import MembershipFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def editor(live_server, settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = tmp_path
    # No worker: the test plays the worker's part once the page shows it is waiting.
    monkeypatch.setattr(tasks.extract_document_task, "delay", mock.Mock())
    monkeypatch.setattr(documents, "_ai_summariser", lambda: (None, None))
    membership = MembershipFactory(role=Membership.Role.EDITOR)
    Subscription.objects.create(workspace=membership.workspace, plan="pro")
    return membership


def _log_in(page, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


def test_the_document_page_updates_itself_when_reading_ends(page, live_server, editor, offsite_requests):
    _log_in(page, live_server, editor.user)
    page.goto(live_server.url + reverse("content_documents:upload", kwargs={"workspace_slug": editor.workspace.slug}))

    page.set_input_files(
        "input[name=file]",
        {
            "name": "launch.docx",
            "mimeType": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "buffer": make_docx(),
        },
    )
    page.get_by_role("button", name="Upload").click()

    expect(page.get_by_test_id("processing")).to_contain_text("Reading your document")
    documents.process_document(document_id=Document.objects.get().pk)
    expect(page.get_by_test_id("key-points")).to_contain_text("espresso machine", timeout=10_000)
    expect(page.get_by_test_id("document-status")).to_have_text("Ready")
    assert offsite_requests == []

"""The composer in a real browser: the live per-platform counter, blocking issues, the emoji picker, posting.

The owner of a workspace with connected X and Bluesky accounts writes a post:
each platform's counter follows the text as the platform counts it, a text too
long for X turns X's counter red and disables the sending buttons, the emoji
picker inserts at the cursor, and once the text fits, "Post now" publishes it
on both platforms through the real dispatcher (the test runs the drain itself).
"""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from playwright.sync_api import expect

from accounts.models import Membership
from billing.models import Subscription
from content.models import Post
from publishing.dispatch import drain
from publishing.models import AutomationSettings, PostTarget
from publishing.tests.test_delivery import connected_account
from tests.factories import MembershipFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    # The test drains the due targets itself: no trigger message goes to the shared broker.
    from publishing import dispatch

    monkeypatch.setattr(dispatch, "request_dispatch", lambda **kwargs: False)


@pytest.fixture
def owner(live_server, emulator):
    membership = MembershipFactory(role=Membership.Role.OWNER)
    workspace = membership.workspace
    Subscription.objects.create(workspace=workspace, plan="agency")
    # Manual posts go out without review here, so "Post now" sends at once.
    AutomationSettings.objects.update_or_create(workspace=workspace, defaults={"review_before_posting": False})
    connected_account(workspace, "x", "composer_x")
    connected_account(workspace, "bluesky", "composersky")
    return membership


def _log_in(page, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


def test_the_live_counter_blocks_an_over_long_post_and_post_now_publishes(page, live_server, emulator, owner):
    workspace = owner.workspace
    _log_in(page, live_server, owner.user)
    page.goto(live_server.url + reverse("publishing:post_create", kwargs={"workspace_slug": workspace.slug}))

    for box in page.locator("input[name=accounts]").all():
        box.check()
    text = page.locator("textarea[name=text]")
    text.fill("Fresh loaves at https://example.com/bread today")
    checks = page.get_by_test_id("checks")
    # The link has 25 characters; X counts any link as 23 (16 + 23 + 6), Bluesky counts it as written.
    expect(checks).to_contain_text("45 / 280")
    expect(checks).to_contain_text("47 / 300")
    expect(page.locator("button[value=now]")).to_be_enabled()

    text.fill("x" * 290)
    expect(checks.locator("[data-testid=counter].text-danger").first).to_contain_text("290 / 280")
    expect(page.locator("button[value=now]")).to_be_disabled()

    text.fill("Fresh loaves today ")
    page.locator("[data-emoji-toggle]").click()
    page.locator("button[data-emoji]").first.click()
    expect(text).to_have_value(re.compile(r"^Fresh loaves today \S"))
    expect(page.locator("button[value=now]")).to_be_enabled()

    page.locator("button[value=now]").click()
    page.wait_for_url(re.compile(r"/posts/\d+/$"))
    post = Post.objects.get(workspace=workspace)
    assert drain(worker="browser-test/1")  # what a worker does at the due second
    page.reload()
    expect(page.locator("main")).to_contain_text("Published")
    assert set(post.targets.values_list("status", flat=True)) == {PostTarget.Status.PUBLISHED}

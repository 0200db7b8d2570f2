"""Connecting accounts in a real browser, through the platforms' authorize pages on the emulator.

The owner opens the connections page, connects an X account and then a Mastodon
account (naming the instance), each time on the emulated platform's consent page,
and comes back to the connections page with the account active. A denied consent
ends on a clear page, with nothing stored.
"""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from playwright.sync_api import expect

from accounts.models import Membership
from publishing.models import SocialAccount
from tests.factories import MembershipFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def owner(live_server, emulator, settings):
    # The platforms send the browser back to this live server.
    settings.OAUTH_REDIRECT_BASE_URL = live_server.url
    return MembershipFactory(role=Membership.Role.OWNER)


def _log_in(page, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


def _connections_url(live_server, membership) -> str:
    return live_server.url + reverse("publishing:connections", kwargs={"workspace_slug": membership.workspace.slug})


def _authorize_as(page, emulator, username: str) -> None:
    """On the emulated platform's consent page: sign in as `username` and authorize."""
    page.wait_for_url(f"{emulator.base_url}/**")
    expect(page.locator("body")).to_contain_text("Local platform emulator")
    page.fill("input[name=username]", username)
    page.click("button:has-text('Authorize app')")


def test_connecting_x_and_mastodon_through_their_authorize_pages(page, live_server, emulator, owner):
    _log_in(page, live_server, owner.user)
    connections = _connections_url(live_server, owner)

    page.goto(connections)

    expect(page.get_by_test_id("emulator-banner")).to_contain_text(
        "Platforms are emulated on this server: no real accounts are touched."
    )
    expect(page.get_by_test_id("plan-allowance")).to_contain_text("0 of 2 connected accounts on the Free plan.")

    page.click("button:has-text('Connect X')")
    _authorize_as(page, emulator, "grow_with_x")
    page.wait_for_url(connections)

    x_card = page.get_by_test_id("platform-x")
    expect(page.locator(".alert-success")).to_contain_text("Connected grow_with_x on X.")
    expect(x_card.get_by_test_id("handle")).to_have_text("grow_with_x")
    expect(x_card.get_by_test_id("status")).to_have_text("Active")

    mastodon_card = page.get_by_test_id("platform-mastodon")
    mastodon_card.get_by_label("Your Mastodon server").fill("mastodon.example")
    mastodon_card.get_by_role("button", name="Connect Mastodon").click()
    _authorize_as(page, emulator, "grow_on_mastodon")
    page.wait_for_url(connections)

    expect(mastodon_card.get_by_test_id("handle")).to_have_text("@grow_on_mastodon@mastodon.example")
    expect(mastodon_card.get_by_test_id("status")).to_have_text("Active")
    expect(page.get_by_test_id("plan-allowance")).to_contain_text("2 of 2 connected accounts on the Free plan.")

    saved = sorted(SocialAccount.objects.values_list("platform", "handle", "status"))
    assert saved == [
        ("mastodon", "@grow_on_mastodon@mastodon.example", "active"),
        ("x", "grow_with_x", "active"),
    ]


def test_a_denied_consent_ends_on_a_clear_page_and_stores_nothing(page, live_server, emulator, owner):
    _log_in(page, live_server, owner.user)
    connections = _connections_url(live_server, owner)
    page.goto(connections)

    page.click("button:has-text('Connect X')")
    page.wait_for_url(f"{emulator.base_url}/**")
    page.click("button:has-text('Cancel')")
    page.wait_for_url(re.compile(re.escape(live_server.url) + r"/connections/callback/x/.*"))

    expect(page.get_by_test_id("connection-error")).to_have_text(
        "You cancelled the connection on X, so nothing was connected."
    )
    assert SocialAccount.objects.count() == 0
    page.get_by_test_id("back-to-connections").click()
    page.wait_for_url(connections)
    expect(page.get_by_test_id("plan-allowance")).to_contain_text("0 of 2 connected accounts on the Free plan.")

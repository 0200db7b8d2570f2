"""Scheduling, the emergency stop and a failed target's retry, in a real browser.

The owner of a workspace in Berlin schedules an approved post for a wall-clock
time in New York (a time already past is refused with the reason), turns the
workspace's emergency stop on, sees nothing go out when the time comes, turns it
off and sees the post published. A second post fails on X and goes out on
Bluesky: the page says "Partially published", gives X's error in plain words and
offers Retry for X only; the retry publishes it. The test runs the drain itself,
as a worker would at the due second.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Membership
from billing.models import Subscription
from content.models import Post
from publishing import scheduling
from publishing.dispatch import drain
from publishing.models import PostTarget
from publishing.tests.test_delivery import connected_account, posts_made
from tests.factories import MembershipFactory
from tests.test_browser_composer import _log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TS = PostTarget.Status


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    # The test drains the due targets itself: no trigger message goes to the shared broker.
    from publishing import dispatch

    monkeypatch.setattr(dispatch, "request_dispatch", lambda **kwargs: False)


@pytest.fixture
def owner(live_server, emulator):
    membership = MembershipFactory(role=Membership.Role.OWNER, workspace__timezone="Europe/Berlin")
    Subscription.objects.create(workspace=membership.workspace, plan="agency")
    return membership


def _approved_post(membership, text: str, *accounts) -> Post:
    post = scheduling.create_post(
        workspace=membership.workspace,
        author=membership.user,
        text=text,
        account_ids=[account.pk for account in accounts],
    )
    scheduling.submit_for_review(post=post, actor=membership.user)
    return scheduling.approve_post(post=post, actor=membership.user)


def _post_url(live_server, post: Post) -> str:
    return live_server.url + reverse(
        "publishing:post_detail", kwargs={"workspace_slug": post.workspace.slug, "pk": post.pk}
    )


def _time_comes(post: Post) -> None:
    """Bring the post's scheduled time to now (the test does not wait minutes for it)."""
    post.targets.update(scheduled_at=timezone.now() - timedelta(seconds=1))


def test_schedule_in_another_zone_then_the_stop_holds_it_until_turned_off(page, live_server, emulator, owner):
    workspace = owner.workspace
    account = connected_account(workspace, "x", "stop_demo")
    post = _approved_post(owner, "Bread is out of the oven", account)
    _log_in(page, live_server, owner.user)
    page.goto(_post_url(live_server, post))
    card = page.get_by_test_id("schedule-card")

    # A time already past is refused, with the reason.
    new_york = ZoneInfo("America/New_York")
    past = datetime.now(new_york) - timedelta(hours=1)
    card.locator("input[name=scheduled_at]").fill(past.strftime("%Y-%m-%dT%H:%M"))
    card.locator("input[name=timezone]").fill("America/New_York")
    card.locator("button[value=at]").click()
    expect(page.locator(".alert-danger, .alert-error").first).to_contain_text("That time has already passed")
    post.refresh_from_db()
    assert post.status == Post.Status.APPROVED

    # Two hours ahead in New York: stored in UTC, shown in the workspace's zone (Berlin).
    local = (datetime.now(new_york) + timedelta(hours=2)).replace(second=0, microsecond=0)
    card.locator("input[name=scheduled_at]").fill(local.strftime("%Y-%m-%dT%H:%M"))
    card.locator("input[name=timezone]").fill("America/New_York")
    card.locator("button[value=at]").click()
    expect(page.get_by_test_id("post-status")).to_have_text("Scheduled")
    target = post.targets.get()
    assert target.scheduled_at == local.astimezone(ZoneInfo("UTC"))
    berlin = local.astimezone(ZoneInfo("Europe/Berlin"))
    expect(page.locator("main")).to_contain_text(f"{berlin:%H:%M}")
    expect(page.locator("main")).to_contain_text("set in America/New_York")

    # The owner turns the workspace's stop on; typing the name confirms it.
    page.goto(live_server.url + reverse("publishing:emergency_stop", kwargs={"workspace_slug": workspace.slug}))
    page.get_by_label("Why").fill("Checking a complaint before anything else goes out")
    page.get_by_label("Type the workspace's name to confirm").fill("not the name")
    page.get_by_role("button", name="Stop all publishing").click()
    expect(page.locator("main")).to_contain_text(f"Type “{workspace.name}” exactly to confirm")
    page.get_by_label("Type the workspace's name to confirm").fill(workspace.name)
    page.get_by_role("button", name="Stop all publishing").click()
    expect(page.get_by_test_id("stop-state")).to_contain_text("The emergency stop is on")

    # Its time comes: nothing goes out, the target keeps its place.
    _time_comes(post)
    drain(worker="browser-test/1")
    target.refresh_from_db()
    assert target.status == TS.SCHEDULED
    assert posts_made(emulator, account) == []
    page.goto(_post_url(live_server, post))
    expect(page.get_by_test_id("target-status")).to_have_text("Scheduled")
    expect(page.get_by_test_id("emergency-stop-banner")).to_contain_text("Checking a complaint")

    # Turned off, publishing resumes with what is due.
    page.goto(live_server.url + reverse("publishing:emergency_stop", kwargs={"workspace_slug": workspace.slug}))
    page.get_by_label("Type the workspace's name to confirm").fill(workspace.name)
    page.get_by_role("button", name="Turn the stop off and resume publishing").click()
    expect(page.get_by_test_id("stop-state")).to_contain_text("Publishing is running")
    assert drain(worker="browser-test/1")
    page.goto(_post_url(live_server, post))
    expect(page.get_by_test_id("post-status")).to_have_text("Published")
    assert len(posts_made(emulator, account)) == 1


def test_a_failed_target_shows_the_platform_error_and_its_retry_publishes_it(page, live_server, emulator, owner):
    x = connected_account(owner.workspace, "x", "retry_x")
    bluesky = connected_account(owner.workspace, "bluesky", "retrysky")
    post = _approved_post(owner, "Sourdough class on Saturday", x, bluesky)
    emulator.inject_fault("x", "invalid", operation="publish")
    _log_in(page, live_server, owner.user)
    page.goto(_post_url(live_server, post))
    page.get_by_test_id("schedule-card").locator("button[value=now]").click()
    assert drain(worker="browser-test/1")

    page.reload()
    expect(page.get_by_test_id("post-status")).to_have_text("Partially published")
    rows = page.get_by_test_id("targets").locator(":scope > .list-group-item")
    failed = rows.filter(has_text="X")
    expect(failed.get_by_test_id("target-status")).to_have_text("Failed")
    expect(failed.get_by_test_id("target-error")).to_contain_text("X said:")
    published = rows.filter(has_text="Bluesky")
    expect(published.get_by_test_id("target-status")).to_have_text("Published")
    expect(published.get_by_test_id("retry-form")).to_have_count(0)  # never for what went out
    expect(page.get_by_test_id("retry-form")).to_have_count(1)

    failed.get_by_role("button", name="Retry").click()
    expect(page.locator(".alert-success")).to_contain_text("Retrying now")
    expect(failed.get_by_test_id("target-status")).to_have_text("Scheduled")
    assert drain(worker="browser-test/1")
    page.reload()
    expect(page.get_by_test_id("post-status")).to_have_text("Published")
    expect(page.get_by_test_id("retry-form")).to_have_count(0)
    assert [entry["status"] for entry in posts_made(emulator, x)] == [400, 201]  # refused once, then made
    assert len(posts_made(emulator, bluesky)) == 1  # the retry did not send Bluesky's again
    assert re.search(r"/posts/\d+/$", page.url)

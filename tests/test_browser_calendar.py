"""The content calendar in a real browser.

The owner of a workspace in Berlin opens the calendar from the workspace nav: this
month holds today's post at its Berlin time, and a failed one on the same day. The
week view shows the same day; choosing the other account leaves an empty week with
the way to write a post; going back to every account and clicking an entry opens
its post. Nothing is published, so the platform emulator is not needed.
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from accounts.models import Membership
from content.models import Post
from publishing.models import PostTarget
from publishing.tests.factories import PostFactory, PostTargetFactory, SocialAccountFactory
from tests.factories import MembershipFactory
from tests.test_browser_composer import _log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TS = PostTarget.Status
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def owner(live_server):
    return MembershipFactory(role=Membership.Role.OWNER, workspace__timezone="Europe/Berlin")


def test_the_calendar_shows_todays_posts_by_month_and_week_and_filters_by_account(page, live_server, owner):
    workspace = owner.workspace
    x = SocialAccountFactory(workspace=workspace, platform="x", handle="bakery_x")
    bluesky = SocialAccountFactory(workspace=workspace, platform="bluesky", handle="bakery.bsky.social")
    # Noon in Berlin today is in this month and this week, whatever the hour the test runs.
    today = datetime.now(BERLIN).date()
    noon = datetime.combine(today, time(12, 0), tzinfo=BERLIN)
    post = PostFactory(workspace=workspace, text="Fresh loaves at noon", status=Post.Status.SCHEDULED)
    scheduled = PostTargetFactory(post=post, social_account=x, status=TS.SCHEDULED, scheduled_at=noon)
    failed = PostTargetFactory(
        post=PostFactory(workspace=workspace, text="Croissants", status=Post.Status.FAILED),
        social_account=x,
        status=TS.FAILED,
        scheduled_at=noon.replace(hour=8),
    )
    _log_in(page, live_server, owner.user)

    page.goto(live_server.url + reverse("publishing:posts", kwargs={"workspace_slug": workspace.slug}))
    page.get_by_role("navigation", name="Workspace").get_by_role("link", name="Calendar").click()

    calendar = page.get_by_test_id("calendar")
    expect(calendar).to_have_attribute("data-view", "month")
    expect(page.get_by_test_id("calendar-period")).to_have_text(f"{today:%B %Y}")
    day = page.get_by_test_id(f"day-{today.isoformat()}")
    expect(day).to_have_attribute("aria-current", "date")
    entry = day.get_by_test_id(f"entry-{scheduled.pk}")
    expect(entry).to_contain_text("12:00")
    expect(entry).to_contain_text("bakery_x")
    expect(entry.get_by_test_id("status")).to_have_text("Scheduled")
    expect(day.get_by_test_id(f"entry-{failed.pk}").get_by_test_id("status")).to_have_text("Failed")
    # In time order: the failed 08:00 before the 12:00.
    expect(day.locator("li")).to_have_count(2)
    expect(day.locator("li").first).to_have_attribute("data-testid", f"entry-{failed.pk}")

    page.get_by_test_id("calendar-week-view").click()
    expect(calendar).to_have_attribute("data-view", "week")
    expect(page.get_by_test_id(f"day-{today.isoformat()}").get_by_test_id(f"entry-{scheduled.pk}")).to_be_visible()

    page.get_by_label("Account").select_option(str(bluesky.pk))
    page.get_by_role("button", name="Show").click()
    expect(calendar).to_have_attribute("data-view", "week")
    expect(page.get_by_test_id("calendar-empty")).to_contain_text("Nothing for bakery.bsky.social in this week.")
    expect(page.get_by_test_id("calendar-empty").get_by_role("link", name="Write a post")).to_be_visible()
    expect(page.get_by_test_id(f"entry-{scheduled.pk}")).to_have_count(0)

    page.get_by_label("Account").select_option("")
    page.get_by_role("button", name="Show").click()
    page.get_by_test_id(f"entry-{scheduled.pk}").get_by_role("link", name="Fresh loaves at noon").click()
    expect(page.get_by_test_id("post-status")).to_have_text("Scheduled")
    assert page.url.endswith(
        reverse("publishing:post_detail", kwargs={"workspace_slug": workspace.slug, "pk": post.pk})
    )

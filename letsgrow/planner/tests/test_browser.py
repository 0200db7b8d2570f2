"""The planner's script in a real browser: the live mix total and the progress bar that follows the plan."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from playwright.sync_api import expect

from accounts.models import Membership
from billing.models import Subscription
from content.models import ContentPlan
from letsgrow.planner.tests.conftest import add_domains
from publishing.tests.factories import SocialAccountFactory
from tests.factories import MembershipFactory, WorkspaceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _log_in(page, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


@pytest.fixture
def setup(page, live_server):
    workspace = WorkspaceFactory(timezone="Europe/Berlin")
    Subscription.objects.create(workspace=workspace, plan="pro")
    add_domains(workspace)
    SocialAccountFactory(workspace=workspace, platform="x", handle="cafe_x")
    user = MembershipFactory(workspace=workspace, role=Membership.Role.EDITOR).user
    _log_in(page, live_server, user)
    return workspace, user


def test_the_mix_total_follows_the_inputs(page, live_server, setup, offsite_requests):
    workspace, _user = setup

    page.goto(live_server.url + reverse("planner:new", args=[workspace.slug]))

    assert page.inner_text("#mix-total") == "100%"
    page.fill("#id_mix_tech", "70")
    assert page.inner_text("#mix-total") == "120% (must be 100%)"
    page.fill("#id_mix_business", "30")
    assert page.inner_text("#mix-total") == "100%"
    assert offsite_requests == []


def test_the_progress_bar_follows_the_plan_and_the_page_reloads_when_it_is_done(
    page, live_server, setup, offsite_requests
):
    workspace, user = setup
    plan = ContentPlan.objects.create(
        workspace=workspace,
        created_by=user,
        start_date="2030-01-01",
        days=2,
        posts_per_day=2,
        domain_mix={"tech": 100},
        total=4,
        status=ContentPlan.Status.RUNNING,
    )

    page.goto(live_server.url + reverse("planner:detail", args=[workspace.slug, plan.pk]))
    expect(page.locator("[data-plan-bar]")).to_have_text("0%")

    ContentPlan.objects.filter(pk=plan.pk).update(done=1, failed=1, retries=2, error="One post failed.")
    expect(page.locator("[data-plan-bar]")).to_have_text("50%", timeout=5000)
    expect(page.locator("[data-plan-done]")).to_have_text("1")
    expect(page.locator("[data-plan-retries]")).to_have_text("2")
    expect(page.locator("[data-plan-error]")).to_have_text("One post failed.")

    ContentPlan.objects.filter(pk=plan.pk).update(status=ContentPlan.Status.DONE, done=3)
    expect(page.locator("[data-plan-status]")).to_have_text("Done", timeout=5000)
    expect(page.locator("[data-plan-progress]")).to_have_attribute("data-plan-finished", "1", timeout=5000)
    expect(page.locator("[data-testid=resume-form]")).to_be_visible()
    assert offsite_requests == []

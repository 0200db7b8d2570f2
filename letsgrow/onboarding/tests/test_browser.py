"""The automation step's small scripts in a real browser: time zone detection and the live mix total."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts.models import Workspace
from billing.models import Subscription
from content.services import set_workspace_domains
from publishing.models import AutomationSettings
from publishing.services import ensure_automation_settings
from tests.factories import MembershipFactory, WorkspaceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "timezone_id": "Asia/Tokyo"}


def _log_in(page, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


def test_the_automation_step_detects_the_time_zone_and_totals_the_mix(page, live_server, offsite_requests):
    workspace = WorkspaceFactory(onboarding_step="automation")
    Subscription.objects.create(workspace=workspace, plan="free")
    ensure_automation_settings(workspace=workspace)
    set_workspace_domains(workspace=workspace, built_in_keys=["memes", "tech"], custom_names=[])
    _log_in(page, live_server, MembershipFactory(workspace=workspace).user)

    page.goto(live_server.url + reverse("onboarding:step", args=[workspace.slug, "automation"]))

    assert page.input_value("#id_timezone") == "Asia/Tokyo"
    assert page.inner_text("#mix-total") == "100%"
    page.fill("#id_mix_memes", "40")
    assert page.inner_text("#mix-total") == "90% (must be 100%)"
    page.fill("#id_mix_memes", "60")
    page.fill("#id_mix_tech", "40")
    page.click("#spread-times")
    assert page.input_value("#id_posting_times") == "11:15, 15:45"

    page.click("button:has-text('Complete setup')")
    page.wait_for_url(f"**/w/{workspace.slug}/")

    assert "Setup complete" in page.inner_text("main")
    assert Workspace.objects.get(pk=workspace.pk).onboarding_step == "done"
    saved = AutomationSettings.objects.get(workspace=workspace)
    assert (saved.timezone, saved.posting_times, saved.content_mix) == (
        "Asia/Tokyo",
        ["11:15", "15:45"],
        {"memes": 60, "tech": 40},
    )
    assert offsite_requests == []

"""The onboarding wizard through the browser's eyes: pages, redirects, permissions, messages."""

from __future__ import annotations

from datetime import time

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from accounts.models import Membership, Workspace
from billing.models import Subscription
from content.models import ContentDomain
from content.services import set_workspace_domains
from publishing.models import AutomationSettings
from publishing.services import ensure_automation_settings
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

START = "/onboarding/"


def step_url(workspace, step: str) -> str:
    return reverse("onboarding:step", kwargs={"workspace_slug": workspace.slug, "step": step})


def resume_url(workspace) -> str:
    return reverse("onboarding:resume", kwargs={"workspace_slug": workspace.slug})


def dashboard_url(workspace) -> str:
    return reverse("analytics:dashboard", kwargs={"workspace_slug": workspace.slug})


def member(client, *, step: str = "platforms", role: str = "owner", plan: str = "free"):
    """A logged-in member of a workspace on `plan` whose setup is saved at `step`."""
    workspace = WorkspaceFactory(onboarding_step=step)
    Subscription.objects.create(workspace=workspace, plan=plan)
    ensure_automation_settings(workspace=workspace)
    user = MembershipFactory(workspace=workspace, role=role).user
    client.force_login(user)
    return workspace


def _automation_post(**overrides):
    data = {
        "timezone": "America/New_York",
        "active_from": "09:00",
        "active_until": "18:00",
        "posts_per_day": "2",
        "posting_times": "10:00, 15:30",
        "mix_memes": "60",
        "mix_tech": "40",
        "review_before_posting": "on",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


# ---------------------------------------------------------------- start and resume


def test_the_start_page_needs_a_login(client):
    response = client.get(START)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_start_page_prefills_a_name_and_lists_the_three_plans(client):
    client.force_login(UserFactory(name="Ann Lee"))

    response = client.get(START)

    html = response.content.decode()
    assert response.status_code == 200
    assert 'value="Ann&#x27;s workspace"' in html
    table = html.split('data-testid="plan-table"')[1].split("</table>")[0]
    for name in ("Free", "Pro", "Agency"):
        assert f"{name}\n" in table
    assert "$0/month" in table and "$29/month" in table and "$99/month" in table
    assert "Unlimited" in table
    assert "Your plan" in table
    assert "upgrading to Pro or Agency will be possible from the billing page later" in html


def test_a_user_without_workspace_lands_on_the_start_page_after_login(client):
    client.force_login(UserFactory())

    response = client.get("/app/")

    assert response.status_code == 302
    assert response["Location"] == START


def test_start_creates_one_workspace_with_owner_and_free_plan_and_goes_to_platforms(client):
    user = UserFactory()
    client.force_login(user)

    response = client.post(START, {"name": "  Acme   Coffee "})

    workspace = Workspace.objects.get()
    assert response.status_code == 302
    assert response["Location"] == step_url(workspace, "platforms")
    assert (workspace.name, workspace.onboarding_step) == ("Acme Coffee", "platforms")
    assert list(Membership.objects.values_list("user", "workspace", "role")) == [(user.pk, workspace.pk, "owner")]
    assert list(Subscription.objects.values_list("workspace", "plan", "status")) == [(workspace.pk, "free", "active")]
    assert AutomationSettings.objects.filter(workspace=workspace).count() == 1


def test_a_second_visit_resumes_instead_of_creating_a_duplicate(client):
    client.force_login(UserFactory())
    client.post(START, {"name": "Acme"})
    workspace = Workspace.objects.get()

    visit = client.get(START)
    resubmit = client.post(START, {"name": "Acme again"})

    assert visit.status_code == 302
    assert visit["Location"] == resume_url(workspace)
    assert resubmit["Location"] == step_url(workspace, "platforms")
    assert Workspace.objects.count() == 1
    assert Subscription.objects.count() == 1
    assert Membership.objects.count() == 1


def test_an_empty_name_is_explained_and_creates_nothing(client):
    client.force_login(UserFactory())

    response = client.post(START, {"name": "   "})

    assert response.status_code == 200
    assert "Give your workspace a name." in response.content.decode()
    assert Workspace.objects.count() == 0


@pytest.mark.parametrize("step", ["welcome", "platforms", "domains", "automation"])
def test_resume_redirects_to_the_saved_step(client, step):
    workspace = member(client, step=step)

    response = client.get(resume_url(workspace))

    assert response.status_code == 302
    assert response["Location"] == step_url(workspace, step)


def test_resume_of_a_finished_setup_goes_to_the_dashboard(client):
    workspace = member(client, step="done")

    response = client.get(resume_url(workspace))

    assert response["Location"] == dashboard_url(workspace)


def test_app_sends_a_member_of_an_unfinished_workspace_to_resume(client):
    workspace = member(client, step="domains")

    response = client.get("/app/", follow=True)

    assert response.redirect_chain == [(resume_url(workspace), 302), (step_url(workspace, "domains"), 302)]
    assert response.status_code == 200


def test_a_page_not_reached_yet_sends_you_back_to_where_you_were(client):
    workspace = member(client, step="platforms")

    response = client.get(step_url(workspace, "automation"), follow=True)

    assert response.redirect_chain[-1] == (step_url(workspace, "platforms"), 302)
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Finish this step first; you can go back to earlier ones at any time."
    ]


def test_a_page_not_reached_yet_does_not_save_on_post(client):
    workspace = member(client, step="platforms")

    response = client.post(step_url(workspace, "domains"), {"built_in": ["memes"]})

    assert response.status_code == 302
    assert ContentDomain.objects.count() == 0
    workspace.refresh_from_db()
    assert workspace.onboarding_step == "platforms"


def test_an_unknown_step_is_not_found(client):
    workspace = member(client)

    response = client.get(f"/w/{workspace.slug}/onboarding/billing/")

    assert response.status_code == 404


# ---------------------------------------------------------------- permissions


@pytest.mark.parametrize("path", ["", "welcome/", "platforms/", "domains/", "automation/"])
def test_a_non_member_gets_404(client, path):
    workspace = WorkspaceFactory(onboarding_step="automation")
    client.force_login(UserFactory())

    get = client.get(f"/w/{workspace.slug}/onboarding/{path}")
    post = client.post(f"/w/{workspace.slug}/onboarding/{path}", {"built_in": ["memes"]})

    assert (get.status_code, post.status_code) == (404, 404)
    workspace.refresh_from_db()
    assert workspace.onboarding_step == "automation"
    assert ContentDomain.objects.count() == 0


def test_a_viewer_sees_the_welcome_page_read_only(client):
    workspace = member(client, role="viewer", step="domains")

    resume = client.get(resume_url(workspace))
    response = client.get(step_url(workspace, "welcome"))

    html = response.content.decode()
    assert resume["Location"] == step_url(workspace, "welcome")
    assert response.status_code == 200
    assert 'data-testid="plan-table"' in html
    assert "its owner or an admin finishes the setup" in html
    assert '<form method="post">' not in html


@pytest.mark.parametrize("role", ["viewer", "editor", "approver"])
@pytest.mark.parametrize("step", ["welcome", "platforms", "domains"])
def test_only_owners_and_admins_may_submit_a_step(client, role, step):
    workspace = member(client, role=role, step="domains")

    response = client.post(step_url(workspace, step), {"built_in": ["memes"]})

    assert response.status_code == 403
    assert f"Your role ({role}) does not allow this (manage settings)." in response.content.decode()
    workspace.refresh_from_db()
    assert workspace.onboarding_step == "domains"
    assert ContentDomain.objects.count() == 0


def test_a_viewer_cannot_open_the_settings_steps(client):
    workspace = member(client, role="viewer", step="automation")

    response = client.get(step_url(workspace, "automation"))

    assert response.status_code == 403


def test_an_admin_may_submit_a_step(client):
    workspace = member(client, role="admin", step="platforms")

    response = client.post(step_url(workspace, "platforms"))

    assert response["Location"] == step_url(workspace, "domains")


# ---------------------------------------------------------------- welcome and platforms


def test_the_welcome_step_confirms_the_plan_and_continues(client):
    workspace = WorkspaceFactory()  # made elsewhere: no subscription, still at welcome
    client.force_login(MembershipFactory(workspace=workspace).user)

    response = client.post(step_url(workspace, "welcome"))

    workspace.refresh_from_db()
    assert response["Location"] == step_url(workspace, "platforms")
    assert workspace.onboarding_step == "platforms"
    assert Subscription.objects.get(workspace=workspace).plan == "free"


def test_the_platforms_step_lists_the_platforms_with_plan_gates(client):
    workspace = member(client, step="platforms")

    response = client.get(step_url(workspace, "platforms"))

    html = response.content.decode()
    assert response.status_code == 200
    for name in (
        "X (Twitter)",
        "LinkedIn",
        "Facebook Pages",
        "Instagram",
        "Threads",
        "Mastodon",
        "Bluesky",
        "Pinterest",
        "YouTube",
        "TikTok",
        "Reddit",
    ):
        assert name in html
    assert html.count('<span class="badge text-bg-warning"') == 2
    assert "The Free plan allows 2 connected accounts." in html
    assert 'data-testid="connections-link"' in html
    assert "Skip for now" in html


def test_the_platforms_step_shows_no_gates_on_pro(client):
    workspace = member(client, step="platforms", plan="pro")

    response = client.get(step_url(workspace, "platforms"))

    assert '<span class="badge text-bg-warning"' not in response.content.decode()


def test_skipping_platforms_moves_on_to_domains(client):
    workspace = member(client, step="platforms")

    response = client.post(step_url(workspace, "platforms"))

    workspace.refresh_from_db()
    assert response["Location"] == step_url(workspace, "domains")
    assert workspace.onboarding_step == "domains"


# ---------------------------------------------------------------- domains


def test_the_domains_step_shows_cards_with_gated_ones_disabled(client):
    workspace = member(client, step="domains")

    response = client.get(step_url(workspace, "domains"))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Funny content, trending memes, relatable posts." in html
    assert "Developers, tech enthusiasts" in html
    assert "5 proven ways to grow a small business" in html
    for key in ("business", "lifestyle", "finance"):
        assert f'value="{key}" id="domain-{key}" disabled>' in html
    for key in ("memes", "tech"):
        assert f'value="{key}" id="domain-{key}">' in html
    assert html.count("Upgrade to Pro") == 4  # three domains and the custom-domains field


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"built_in": ["memes", "business"]},
            "Business &amp; Entrepreneurship is not included in the Free plan, which offers "
            "Memes &amp; Humor and Technology &amp; Innovation. Upgrade to use it.",
        ),
        (
            {"built_in": ["memes", "tech"], "custom": "Coffee"},
            "You chose 3 content domains. The Free plan allows 2 content domains; upgrade to add more.",
        ),
        (
            {"built_in": ["memes"], "custom": "Coffee"},
            "Custom domains are not included in the Free plan. Upgrade to add your own.",
        ),
        ({}, "Choose at least one content domain."),
        ({"built_in": ["cooking"]}, "“cooking” is not a content domain we offer."),
    ],
)
def test_the_free_plan_refuses_domains_with_a_clear_message_and_saves_nothing(client, data, message):
    workspace = member(client, step="domains")

    response = client.post(step_url(workspace, "domains"), data)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert ContentDomain.objects.count() == 0
    workspace.refresh_from_db()
    assert workspace.onboarding_step == "domains"


def test_saving_domains_moves_on_to_automation_and_shows_them_on_return(client):
    workspace = member(client, step="domains")

    response = client.post(step_url(workspace, "domains"), {"built_in": ["tech", "memes"]})
    back = client.get(step_url(workspace, "domains"))

    workspace.refresh_from_db()
    assert response["Location"] == step_url(workspace, "automation")
    assert workspace.onboarding_step == "automation"
    assert sorted(ContentDomain.objects.values_list("key", flat=True)) == ["memes", "tech"]
    html = back.content.decode()
    assert 'value="memes" id="domain-memes" checked>' in html
    assert 'value="tech" id="domain-tech" checked>' in html


def test_the_pro_plan_accepts_every_domain_and_custom_ones(client):
    workspace = member(client, step="domains", plan="pro")

    response = client.post(
        step_url(workspace, "domains"),
        {"built_in": ["memes", "business", "lifestyle", "finance"], "custom": "Coffee, Local events"},
    )

    assert response.status_code == 302
    assert sorted(ContentDomain.objects.values_list("key", flat=True)) == [
        "business",
        "coffee",
        "finance",
        "lifestyle",
        "local-events",
        "memes",
    ]
    back = client.get(step_url(workspace, "domains")).content.decode()
    assert 'value="Coffee, Local events"' in back


# ---------------------------------------------------------------- automation


@pytest.fixture
def at_automation(client):
    workspace = member(client, step="automation")
    set_workspace_domains(workspace=workspace, built_in_keys=["memes", "tech"], custom_names=[])
    return workspace


def test_the_automation_step_is_prefilled_with_defaults(client, at_automation):
    response = client.get(step_url(at_automation, "automation"))

    html = response.content.decode()
    form = response.context["form"]
    assert response.status_code == 200
    assert form["timezone"].value() == ""  # the browser's zone is filled in by the page's script
    assert "Intl.DateTimeFormat().resolvedOptions().timeZone" in html
    assert (form["active_from"].value(), form["active_until"].value()) == (time(9, 0), time(18, 0))
    assert form["posts_per_day"].value() == 2
    assert form["posting_times"].value() == "10:00, 15:00"
    assert (form["mix_memes"].value(), form["mix_tech"].value()) == (50, 50)
    assert form["review_before_posting"].value() is True
    assert 'id="mix-total"' in html


def test_a_mix_not_adding_up_to_100_is_explained_with_its_sum(client, at_automation):
    response = client.post(step_url(at_automation, "automation"), _automation_post(mix_memes="50"))

    html = response.content.decode()
    assert response.status_code == 200
    assert "The content mix adds up to 90%; it must add up to exactly 100%." in html
    assert 'value="50"' in html  # what was typed is kept
    at_automation.refresh_from_db()
    assert at_automation.onboarding_step == "automation"
    assert AutomationSettings.objects.get(workspace=at_automation).content_mix == {}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"posting_times": "08:00, 19:00"},
            "Posting times must be inside the active hours (09:00 to 18:00); outside: 08:00, 19:00.",
        ),
        ({"posting_times": "10:00"}, "You chose 2 posts per day, so give 2 posting times (you gave 1)."),
        (
            {"timezone": "Atlantis/Capital"},
            "“Atlantis/Capital” is not a time zone we know. Choose one like Europe/Berlin or America/New_York.",
        ),
        (
            {"posts_per_day": "3", "posting_times": "10:00, 12:00, 14:00"},
            "You asked for 3 posts per day. The Free plan allows 2 posts per day; upgrade to add more.",
        ),
        ({"active_from": "19:00"}, "Active hours must start before they end (from 19:00 until 18:00 does not)"),
        ({"posts_per_day": "two"}, "Posts per day must be a whole number."),
        ({"mix_tech": None}, "Give Technology &amp; Innovation a share (0 if none)."),
        ({"active_until": "6pm"}, "Write times as HH:MM."),
    ],
)
def test_bad_automation_settings_are_explained_and_nothing_is_saved(client, at_automation, overrides, message):
    response = client.post(step_url(at_automation, "automation"), _automation_post(**overrides))

    assert response.status_code == 200
    assert message in response.content.decode()
    at_automation.refresh_from_db()
    assert (at_automation.onboarding_step, at_automation.timezone) == ("automation", "UTC")
    settings = AutomationSettings.objects.get(workspace=at_automation)
    assert (settings.timezone, settings.posting_times, settings.content_mix) == ("UTC", ["10:00", "15:00"], {})


def test_completing_setup_saves_marks_done_and_opens_the_dashboard(client, at_automation):
    response = client.post(step_url(at_automation, "automation"), _automation_post(), follow=True)

    at_automation.refresh_from_db()
    settings = AutomationSettings.objects.get(workspace=at_automation)
    assert response.redirect_chain == [(dashboard_url(at_automation), 302)]
    assert at_automation.onboarding_step == "done"
    assert at_automation.onboarding_completed_at is not None
    assert at_automation.timezone == "America/New_York"
    assert (settings.timezone, settings.posts_per_day, settings.posting_times) == (
        "America/New_York",
        2,
        ["10:00", "15:30"],
    )
    assert settings.content_mix == {"memes": 60, "tech": 40}
    assert settings.review_before_posting is True
    assert [str(m) for m in get_messages(response.wsgi_request)] == [f"Setup complete: {at_automation.name} is ready."]


def test_after_completion_the_automation_step_shows_the_saved_values(client, at_automation):
    client.post(step_url(at_automation, "automation"), _automation_post(review_before_posting=None))

    form = client.get(step_url(at_automation, "automation")).context["form"]

    assert form["timezone"].value() == "America/New_York"
    assert (form["mix_memes"].value(), form["mix_tech"].value()) == (60, 40)
    assert form["posting_times"].value() == "10:00, 15:30"
    assert form["review_before_posting"].value() is False


# ---------------------------------------------------------------- the whole way


def test_a_new_user_goes_through_every_step_to_the_dashboard(client):
    client.force_login(UserFactory(name="Ann Lee"))

    start = client.post(START, {"name": "Ann's workspace"})
    workspace = Workspace.objects.get()
    platforms = client.post(start["Location"])
    revisit_welcome = client.get(step_url(workspace, "welcome"))
    domains = client.post(platforms["Location"], {"built_in": ["memes", "tech"]})
    resumed = client.get(resume_url(workspace))
    done = client.post(domains["Location"], _automation_post(timezone="Europe/Lisbon"))

    workspace.refresh_from_db()
    assert start["Location"] == step_url(workspace, "platforms")
    assert platforms["Location"] == step_url(workspace, "domains")
    assert revisit_welcome.status_code == 200
    assert domains["Location"] == step_url(workspace, "automation")
    assert resumed["Location"] == step_url(workspace, "automation")
    assert done["Location"] == dashboard_url(workspace)
    assert workspace.onboarding_step == "done"
    assert workspace.timezone == "Europe/Lisbon"
    assert client.get("/app/")["Location"] == dashboard_url(workspace)
    assert client.get(dashboard_url(workspace)).status_code == 200


def test_revisiting_an_earlier_step_keeps_the_furthest_step(client, at_automation):
    response = client.post(step_url(at_automation, "platforms"))

    at_automation.refresh_from_db()
    assert response["Location"] == step_url(at_automation, "domains")
    assert at_automation.onboarding_step == "automation"

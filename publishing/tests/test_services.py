"""Automation settings: validated as a whole, saved only when every rule holds."""

from __future__ import annotations

from datetime import time

import pytest
from django.core.exceptions import ValidationError

from accounts.models import Workspace
from billing.models import Subscription
from content.services import set_workspace_domains
from publishing.models import AutomationSettings
from publishing.services import ensure_automation_settings, save_automation_settings
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def workspace():
    """A free workspace posting about memes and tech, with default automation settings."""
    workspace = WorkspaceFactory(timezone="UTC")
    Subscription.objects.create(workspace=workspace, plan="free")
    set_workspace_domains(workspace=workspace, built_in_keys=["memes", "tech"], custom_names=[])
    ensure_automation_settings(workspace=workspace)
    return workspace


def _valid(**overrides):
    values = {
        "timezone": "Europe/Berlin",
        "active_from": time(8, 0),
        "active_until": time(20, 0),
        "posts_per_day": 2,
        "posting_times": ["17:30", "09:15"],
        "content_mix": {"memes": 60, "tech": 40},
        "review_before_posting": True,
    }
    return {**values, **overrides}


def _unchanged(workspace) -> None:
    settings = AutomationSettings.objects.get(workspace=workspace)
    assert (settings.timezone, settings.posts_per_day, settings.posting_times, settings.content_mix) == (
        "UTC",
        2,
        ["10:00", "15:00"],
        {},
    )
    assert Workspace.objects.get(pk=workspace.pk).timezone == "UTC"


def test_ensure_automation_settings_creates_the_defaults_once_in_the_workspace_zone():
    workspace = WorkspaceFactory(timezone="Asia/Tokyo")

    first = ensure_automation_settings(workspace=workspace)
    second = ensure_automation_settings(workspace=workspace)

    assert first.pk == second.pk
    assert (first.timezone, first.posts_per_day, first.review_before_posting, first.is_enabled) == (
        "Asia/Tokyo",
        2,
        True,
        False,
    )


def test_valid_settings_are_saved_with_sorted_times_and_become_the_workspace_zone(workspace):
    settings = save_automation_settings(workspace=workspace, **_valid(review_before_posting=False))

    settings.refresh_from_db()
    assert settings.timezone == "Europe/Berlin"
    assert (settings.active_from, settings.active_until) == (time(8, 0), time(20, 0))
    assert settings.posts_per_day == 2
    assert settings.posting_times == ["09:15", "17:30"]
    assert settings.content_mix == {"memes": 60, "tech": 40}
    assert settings.review_before_posting is False
    assert Workspace.objects.get(pk=workspace.pk).timezone == "Europe/Berlin"
    assert workspace.timezone == "Europe/Berlin"


def test_a_mix_not_adding_up_to_100_names_the_sum(workspace):
    with pytest.raises(ValidationError) as excinfo:
        save_automation_settings(workspace=workspace, **_valid(content_mix={"memes": 50, "tech": 40}))

    assert excinfo.value.message_dict == {
        "content_mix": ["The content mix adds up to 90%; it must add up to exactly 100%."]
    }
    _unchanged(workspace)


@pytest.mark.parametrize(
    ("mix", "message"),
    [
        ({"memes": 100}, "Give a share for every selected domain; missing: Technology & Innovation."),
        ({"memes": 50, "tech": 40, "finance": 10}, "Not one of your content domains: finance."),
        (
            {"memes": 120, "tech": -20},
            "Each share must be a whole number from 0 to 100; check Memes & Humor, Technology & Innovation.",
        ),
        (
            {"memes": 50.5, "tech": 49.5},
            "Each share must be a whole number from 0 to 100; check Memes & Humor, Technology & Innovation.",
        ),
    ],
)
def test_a_mix_must_cover_exactly_the_chosen_domains_with_whole_percentages(workspace, mix, message):
    with pytest.raises(ValidationError) as excinfo:
        save_automation_settings(workspace=workspace, **_valid(content_mix=mix))

    assert excinfo.value.message_dict == {"content_mix": [message]}
    _unchanged(workspace)


def test_a_mix_may_give_a_domain_zero(workspace):
    settings = save_automation_settings(workspace=workspace, **_valid(content_mix={"memes": 100, "tech": 0}))

    assert settings.content_mix == {"memes": 100, "tech": 0}


def test_times_outside_the_active_hours_are_named(workspace):
    with pytest.raises(ValidationError) as excinfo:
        save_automation_settings(workspace=workspace, **_valid(posting_times=["07:59", "20:01"]))

    assert excinfo.value.message_dict == {
        "posting_times": ["Posting times must be inside the active hours (08:00 to 20:00); outside: 07:59, 20:01."]
    }
    _unchanged(workspace)


def test_the_edges_of_the_active_hours_are_inside(workspace):
    settings = save_automation_settings(workspace=workspace, **_valid(posting_times=["08:00", "20:00"]))

    assert settings.posting_times == ["08:00", "20:00"]


def test_the_number_of_times_must_match_posts_per_day(workspace):
    with pytest.raises(ValidationError) as excinfo:
        save_automation_settings(workspace=workspace, **_valid(posting_times=["10:00"]))

    assert excinfo.value.message_dict == {
        "posting_times": ["You chose 2 posts per day, so give 2 posting times (you gave 1)."]
    }
    _unchanged(workspace)


@pytest.mark.parametrize(
    ("times", "message"),
    [
        (["10:00", "10:00"], "Each posting time may appear only once; listed more than once: 10:00."),
        (["10:00", "3pm"], "Write posting times as HH:MM (24-hour), e.g. 09:30; these are not: “3pm”."),
        (["10:00", "24:00"], "Write posting times as HH:MM (24-hour), e.g. 09:30; these are not: “24:00”."),
    ],
)
def test_posting_times_must_be_distinct_hh_mm(workspace, times, message):
    with pytest.raises(ValidationError) as excinfo:
        save_automation_settings(workspace=workspace, **_valid(posting_times=times))

    assert excinfo.value.message_dict == {"posting_times": [message]}
    _unchanged(workspace)


@pytest.mark.parametrize(
    ("zone", "message"),
    [
        (
            "Mars/Olympus_Mons",
            "“Mars/Olympus_Mons” is not a time zone we know. Choose one like Europe/Berlin or America/New_York.",
        ),
        (
            "../../etc/passwd",
            "“../../etc/passwd” is not a time zone we know. Choose one like Europe/Berlin or America/New_York.",
        ),
        ("", "Choose your time zone, e.g. Europe/Berlin or America/New_York."),
    ],
)
def test_an_unknown_time_zone_is_rejected(workspace, zone, message):
    with pytest.raises(ValidationError) as excinfo:
        save_automation_settings(workspace=workspace, **_valid(timezone=zone))

    assert excinfo.value.message_dict == {"timezone": [message]}
    _unchanged(workspace)


def test_active_hours_must_start_before_they_end(workspace):
    with pytest.raises(ValidationError) as excinfo:
        save_automation_settings(
            workspace=workspace,
            **_valid(active_from=time(18, 0), active_until=time(9, 0), posting_times=["10:00", "11:00"]),
        )

    assert excinfo.value.message_dict == {
        "active_hours": [
            "Active hours must start before they end (from 18:00 until 09:00 does not); "
            "hours that run past midnight are not supported."
        ]
    }
    _unchanged(workspace)


def test_the_free_plan_allows_two_posts_per_day(workspace):
    with pytest.raises(ValidationError) as excinfo:
        save_automation_settings(
            workspace=workspace, **_valid(posts_per_day=3, posting_times=["09:00", "12:00", "15:00"])
        )

    assert excinfo.value.message_dict == {
        "posts_per_day": ["You asked for 3 posts per day. The Free plan allows 2 posts per day; upgrade to add more."]
    }
    _unchanged(workspace)


def test_posts_per_day_must_be_at_least_one(workspace):
    with pytest.raises(ValidationError) as excinfo:
        save_automation_settings(workspace=workspace, **_valid(posts_per_day=0, posting_times=[]))

    assert excinfo.value.message_dict == {"posts_per_day": ["Post at least once a day."]}
    _unchanged(workspace)


def test_the_pro_plan_allows_ten_posts_per_day(workspace):
    Subscription.objects.filter(workspace=workspace).update(plan="pro")
    times = [f"{hour:02d}:00" for hour in range(9, 19)]

    settings = save_automation_settings(workspace=workspace, **_valid(posts_per_day=10, posting_times=times))

    assert (settings.posts_per_day, settings.posting_times) == (10, times)


def test_unlimited_plans_are_capped_at_fifty_posts_per_day(workspace):
    Subscription.objects.filter(workspace=workspace).update(plan="agency")
    times = [f"{minute // 60:02d}:{minute % 60:02d}" for minute in range(0, 51 * 20, 20)]

    with pytest.raises(ValidationError) as excinfo:
        save_automation_settings(
            workspace=workspace,
            **_valid(active_from=time(0, 0), active_until=time(23, 59), posts_per_day=51, posting_times=times),
        )

    assert excinfo.value.message_dict == {"posts_per_day": ["Post at most 50 times a day; you asked for 51."]}
    _unchanged(workspace)


def test_a_workspace_without_domains_cannot_set_a_mix():
    workspace = WorkspaceFactory()

    with pytest.raises(ValidationError) as excinfo:
        save_automation_settings(workspace=workspace, **_valid(content_mix={}))

    assert excinfo.value.message_dict == {
        "content_mix": ["Choose at least one content domain before setting the content mix."]
    }
    assert not AutomationSettings.objects.filter(workspace=workspace).exists()


def test_every_problem_is_reported_at_once(workspace):
    with pytest.raises(ValidationError) as excinfo:
        save_automation_settings(
            workspace=workspace,
            **_valid(timezone="Nowhere", posting_times=["10:00"], content_mix={"memes": 10, "tech": 10}),
        )

    assert sorted(excinfo.value.message_dict) == ["content_mix", "posting_times", "timezone"]
    _unchanged(workspace)

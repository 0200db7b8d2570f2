"""The emergency stop's pages: the workspace page (owner switches, others see), the banner, the admin action."""

from __future__ import annotations

import copy

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages
from django.urls import reverse

from accounts.models import Membership
from publishing.models import EmergencyStop
from publishing.stop import set_emergency_stop
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

BANNER = 'data-testid="emergency-stop-banner"'
CONTEXT_PROCESSOR = "publishing.context_processors.emergency_stop"


@pytest.fixture
def with_banner(settings):
    """The emergency stop context processor, installed as the settings are meant to have it."""
    templates = copy.deepcopy(settings.TEMPLATES)
    processors = templates[0]["OPTIONS"]["context_processors"]
    if CONTEXT_PROCESSOR not in processors:
        processors.append(CONTEXT_PROCESSOR)
    settings.TEMPLATES = templates


@pytest.fixture
def workspace():
    return WorkspaceFactory(name="Acme", slug="acme")


@pytest.fixture
def owner(workspace):
    return MembershipFactory(workspace=workspace, role=Membership.Role.OWNER).user


@pytest.fixture
def staff():
    return UserFactory(is_staff=True)


def _url(workspace) -> str:
    return reverse("publishing:emergency_stop", kwargs={"workspace_slug": workspace.slug})


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _state(workspace) -> list[tuple[bool, str]]:
    return list(EmergencyStop.objects.filter(workspace=workspace).values_list("is_active", "reason"))


# --------------------------------------------------------------------------- the workspace page


def test_the_owner_turns_the_stop_on_with_the_workspace_name(client, workspace, owner):
    client.force_login(owner)

    response = client.post(_url(workspace), {"active": "on", "reason": "Wrong campaign", "confirm_name": "Acme"})

    assert response.status_code == 302
    assert response["Location"] == _url(workspace)
    assert _state(workspace) == [(True, "Wrong campaign")]
    assert list(LogEntry.objects.values_list("user_id", "change_message")) == [
        (owner.pk, "Turned the emergency stop on: Wrong campaign")
    ]
    assert _messages(response) == ["Emergency stop is on: nothing will be published. Scheduled posts keep their place."]


def test_the_owner_turns_it_off_and_the_page_shows_the_history(client, workspace, owner):
    set_emergency_stop(workspace=workspace, active=True, actor=owner, reason="pause")
    client.force_login(owner)

    response = client.post(_url(workspace), {"active": "off", "confirm_name": "Acme"}, follow=True)

    html = response.content.decode()
    assert _state(workspace) == [(False, "")]
    assert "Publishing is running" in html
    assert "Turned the emergency stop on: pause" in html
    assert "Turned the emergency stop off" in html


def test_posting_on_twice_keeps_it_on(client, workspace, owner):
    client.force_login(owner)
    form = {"active": "on", "reason": "", "confirm_name": "Acme"}

    client.post(_url(workspace), form)
    client.post(_url(workspace), form)

    assert _state(workspace) == [(True, "")]


def test_a_wrong_name_changes_nothing(client, workspace, owner):
    client.force_login(owner)

    response = client.post(_url(workspace), {"active": "on", "confirm_name": "acme"})

    assert response.status_code == 400
    assert response.context["form"].errors["confirm_name"] == ["Type “Acme” exactly to confirm."]
    assert _state(workspace) == []
    assert LogEntry.objects.count() == 0


@pytest.mark.parametrize("role", ["admin", "editor", "approver", "viewer"])
def test_other_members_see_the_state_but_cannot_change_it(client, workspace, owner, role):
    set_emergency_stop(workspace=workspace, active=True, actor=owner, reason="pause")
    client.force_login(MembershipFactory(workspace=workspace, role=role).user)

    page = client.get(_url(workspace))
    response = client.post(_url(workspace), {"active": "off", "confirm_name": "Acme"})

    html = page.content.decode()
    assert page.status_code == 200
    assert "The emergency stop is on" in html
    assert "Only the workspace owner can turn the emergency stop on or off." in html
    assert 'name="confirm_name"' not in html
    assert response.status_code == 403
    assert _state(workspace) == [(True, "pause")]


def test_the_page_shows_a_global_stop(client, workspace, owner, staff):
    set_emergency_stop(workspace=None, active=True, actor=staff, reason="X is down")
    client.force_login(owner)

    html = client.get(_url(workspace)).content.decode()

    assert "LetsGrow has paused publishing for every workspace.</strong> X is down" in html
    assert "Publishing is running" in html  # the workspace's own stop is off


# --------------------------------------------------------------------------- the banner


def test_the_banner_shows_on_the_stopped_workspaces_pages_only(client, with_banner, workspace, owner):
    other = WorkspaceFactory(name="Other", slug="other")
    MembershipFactory(workspace=other, user=owner, role=Membership.Role.OWNER)
    set_emergency_stop(workspace=workspace, active=True, actor=owner, reason="Checking a typo")
    client.force_login(owner)

    stopped = client.get(reverse("publishing:posts", kwargs={"workspace_slug": "acme"})).content.decode()
    running = client.get(reverse("publishing:posts", kwargs={"workspace_slug": "other"})).content.decode()
    elsewhere = client.get(reverse("accounts:profile")).content.decode()

    assert BANNER in stopped
    assert "Publishing is paused for this workspace.</strong>" in stopped
    assert "Checking a typo" in stopped
    assert f'<a class="alert-link" href="{_url(workspace)}">Emergency stop</a>' in stopped
    assert BANNER not in running
    assert BANNER not in elsewhere


def test_the_global_banner_shows_everywhere_for_everyone(client, with_banner, workspace, staff):
    set_emergency_stop(workspace=None, active=True, actor=staff, reason="Platform incident")
    member = MembershipFactory(workspace=workspace, role=Membership.Role.VIEWER).user
    client.force_login(member)

    pages = [
        client.get(reverse("publishing:posts", kwargs={"workspace_slug": "acme"})),
        client.get(reverse("accounts:profile")),
    ]

    for page in pages:
        html = page.content.decode()
        assert BANNER in html
        assert "Publishing is paused for every workspace.</strong>" in html
        assert "Platform incident" in html


def test_no_banner_while_nothing_is_stopped_or_for_visitors(client, with_banner, workspace, owner, staff):
    set_emergency_stop(workspace=None, active=False, actor=staff)
    client.force_login(owner)

    assert BANNER not in client.get(reverse("publishing:posts", kwargs={"workspace_slug": "acme"})).content.decode()
    set_emergency_stop(workspace=None, active=True, actor=staff)
    client.logout()
    assert BANNER not in client.get(reverse("home")).content.decode()


# --------------------------------------------------------------------------- the admin


@pytest.fixture
def _no_staff_2fa(settings):
    settings.STAFF_REQUIRE_2FA = False


@pytest.fixture
def changelist(_no_staff_2fa) -> str:
    return reverse("admin:publishing_emergencystop_changelist")


def _global_stop() -> EmergencyStop:
    return EmergencyStop.objects.get(workspace__isnull=True)


def test_the_admin_list_always_has_the_global_stop(admin_client, changelist, workspace, owner):
    set_emergency_stop(workspace=workspace, active=True, actor=owner, reason="ours")

    response = admin_client.get(changelist)

    html = response.content.decode()
    assert response.status_code == 200
    assert list(EmergencyStop.objects.order_by("pk").values_list("workspace_id", "is_active")) == [
        (workspace.pk, True),
        (None, False),
    ]
    assert "All workspaces (global)" in html
    assert "Turn the global emergency stop ON (stop all publishing)" in html


def test_the_admin_turns_the_global_stop_on_after_confirming(admin_client, admin_user, changelist):
    admin_client.get(changelist)
    stop = _global_stop()
    chosen = {"action": "turn_global_stop_on", "_selected_action": [str(stop.pk)]}

    asked = admin_client.post(changelist, {**chosen, "index": "0"})
    unconfirmed = admin_client.post(changelist, {**chosen, "confirm": "yes", "reason": "X outage"})
    stop.refresh_from_db()
    assert (asked.status_code, unconfirmed.status_code) == (200, 200)
    assert "While the global emergency stop is on, nothing is published for any workspace." in asked.content.decode()
    assert "Tick the box to confirm." in unconfirmed.content.decode()
    assert stop.is_active is False
    assert LogEntry.objects.count() == 0

    done = admin_client.post(changelist, {**chosen, "confirm": "yes", "reason": "X outage", "confirmed": "on"})

    stop.refresh_from_db()
    assert done.status_code == 302
    assert (stop.is_active, stop.reason, stop.changed_by) == (True, "X outage", admin_user)
    assert list(LogEntry.objects.values_list("user_id", "change_message")) == [
        (admin_user.pk, "Turned the global emergency stop on: X outage")
    ]
    assert _messages(done) == ["The global emergency stop is ON: nothing is published."]


def test_the_admin_turns_the_global_stop_off(admin_client, admin_user, changelist):
    set_emergency_stop(workspace=None, active=True, actor=admin_user, reason="X outage")
    stop = _global_stop()

    response = admin_client.post(
        changelist,
        {"action": "turn_global_stop_off", "_selected_action": [str(stop.pk)], "confirm": "yes", "confirmed": "on"},
    )

    stop.refresh_from_db()
    assert response.status_code == 302
    assert stop.is_active is False
    assert _messages(response) == ["The global emergency stop is OFF: publishing resumes."]


def test_the_admin_action_leaves_workspace_stops_to_their_owners(admin_client, changelist, workspace, owner):
    set_emergency_stop(workspace=workspace, active=True, actor=owner, reason="ours")
    stop = EmergencyStop.objects.get(workspace=workspace)

    response = admin_client.post(
        changelist,
        {"action": "turn_global_stop_off", "_selected_action": [str(stop.pk)], "confirm": "yes", "confirmed": "on"},
    )

    stop.refresh_from_db()
    assert response.status_code == 302
    assert stop.is_active is True
    assert LogEntry.objects.count() == 1
    assert _messages(response) == ["Select only the global stop: a workspace's stop is turned on and off by its owner."]


def test_the_admin_cannot_edit_add_or_delete_stops(admin_client, changelist, admin_user):
    set_emergency_stop(workspace=None, active=True, actor=admin_user)
    stop = _global_stop()

    change = admin_client.post(
        reverse("admin:publishing_emergencystop_change", args=[stop.pk]), {"is_active": "", "reason": "sneaky"}
    )
    add = admin_client.get(reverse("admin:publishing_emergencystop_add"))
    delete = admin_client.post(reverse("admin:publishing_emergencystop_delete", args=[stop.pk]), {"post": "yes"})

    stop.refresh_from_db()
    assert (change.status_code, add.status_code, delete.status_code) == (403, 403, 403)
    assert (stop.is_active, stop.reason) == (True, "")

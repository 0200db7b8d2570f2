"""Staff audit and control in admin: the read-only event log, workspace emergency stops, AI autopost, the banner."""

from __future__ import annotations

import logging

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import get_messages
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from accounts.models import Membership
from content.models import Post
from publishing.models import AutomationSettings, EmergencyStop, PostEvent, PostTarget
from publishing.stop import set_emergency_stop
from publishing.tests.factories import PostFactory, PostTargetFactory
from publishing.transitions import transition
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

BANNER = 'data-testid="emergency-stop-banner"'
TS = PostTarget.Status


@pytest.fixture(autouse=True)
def _no_staff_2fa(settings):
    # The two-factor gate in front of admin has its own tests; here we look at the pages.
    settings.STAFF_REQUIRE_2FA = False


@pytest.fixture
def workspace():
    return WorkspaceFactory(name="Acme", slug="acme")


@pytest.fixture
def owner(workspace):
    return MembershipFactory(workspace=workspace, role=Membership.Role.OWNER).user


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _staff_with(*codenames: str):
    """A staff user (not a superuser) holding exactly these publishing permissions."""
    user = UserFactory(is_staff=True)
    permissions = Permission.objects.filter(content_type__app_label="publishing", codename__in=codenames).values_list(
        "pk", flat=True
    )
    assert len(permissions) == len(codenames)
    user.user_permissions.set(permissions)
    return user


def _log(obj) -> list[tuple[int, int, str]]:
    content_type = ContentType.objects.get_for_model(type(obj))
    return list(
        LogEntry.objects.filter(content_type=content_type, object_id=str(obj.pk))
        .order_by("pk")
        .values_list("user_id", "action_flag", "change_message")
    )


# --------------------------------------------------------------------------- the event log


@pytest.fixture
def events(workspace, owner):
    post = PostFactory(workspace=workspace, author=owner, text="Launch day is here")
    transition(post, Post.Status.PENDING_REVIEW, actor=owner, reason="Ready for review")
    target = PostTargetFactory(post=post, status=TS.SCHEDULED)
    transition(target, TS.FAILED, actor_label="delivery", reason="X said the text is a duplicate")
    return PostEvent.objects.order_by("pk")


def test_the_event_log_lists_who_what_and_why(admin_client, events):
    response = admin_client.get(reverse("admin:publishing_postevent_changelist"))

    html = response.content.decode()
    assert response.status_code == 200
    first, _second = events
    assert first.actor.email in html
    assert "draft → pending_review" in html
    assert "Ready for review" in html
    assert "delivery" in html
    assert "scheduled → failed" in html
    assert "X said the text is a duplicate" in html
    assert f"#{first.post_id} Launch day is here" in html
    # No action menu at all: in particular no "delete selected".
    assert 'name="action"' not in html
    assert "delete_selected" not in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?q=duplicate", ["X said the text is a duplicate"]),
        ("?actor_kind=person", ["Ready for review"]),
        ("?actor_kind=system", ["X said the text is a duplicate"]),
        ("?to_status=failed", ["X said the text is a duplicate"]),
    ],
)
def test_the_event_log_searches_and_filters(admin_client, events, query, expected):
    response = admin_client.get(reverse("admin:publishing_postevent_changelist") + query)

    assert response.status_code == 200
    assert [event.reason for event in response.context["cl"].result_list] == expected


def test_an_events_page_is_read_only(admin_client, events):
    event = events.first()
    url = reverse("admin:publishing_postevent_change", args=[event.pk])

    page = admin_client.get(url)
    edit = admin_client.post(url, {"reason": "rewritten history", "_save": "Save"})

    html = page.content.decode()
    assert page.status_code == 200
    assert "Ready for review" in html
    assert 'name="reason"' not in html
    assert 'name="_save"' not in html
    assert "deletelink" not in html
    assert edit.status_code == 403
    event.refresh_from_db()
    assert event.reason == "Ready for review"


def test_events_cannot_be_added_or_deleted_in_admin(admin_client, events):
    event = events.first()
    changelist = reverse("admin:publishing_postevent_changelist")

    add = admin_client.get(reverse("admin:publishing_postevent_add"))
    delete_page = admin_client.get(reverse("admin:publishing_postevent_delete", args=[event.pk]))
    delete = admin_client.post(reverse("admin:publishing_postevent_delete", args=[event.pk]), {"post": "yes"})
    bulk = admin_client.post(
        changelist, {"action": "delete_selected", "_selected_action": [str(event.pk)], "post": "yes"}
    )

    assert (add.status_code, delete_page.status_code, delete.status_code) == (403, 403, 403)
    assert bulk.status_code in (200, 302)
    assert PostEvent.objects.count() == 2


def test_the_event_page_shows_what_an_edit_changed(admin_client, workspace):
    post = PostFactory(workspace=workspace)
    event = PostEvent.objects.create(
        workspace=workspace,
        post=post,
        actor_label="composer",
        reason="Edited",
        changes={"text": {"before": "Old <b>words</b>", "after": "New words"}},
    )

    html = admin_client.get(reverse("admin:publishing_postevent_change", args=[event.pk])).content.decode()

    assert "<tr><th>text</th><td>Old &lt;b&gt;words&lt;/b&gt;</td><td>New words</td></tr>" in html


def test_an_event_cannot_be_changed_or_deleted_in_code(events):
    event = events.first()
    event.reason = "rewritten history"

    with pytest.raises(PostEvent.Immutable, match="cannot be changed"):
        event.save()
    with pytest.raises(PostEvent.Immutable, match="cannot be deleted"):
        event.delete()

    assert PostEvent.objects.get(pk=event.pk).reason == "Ready for review"
    assert PostEvent.objects.count() == 2


def test_events_still_go_with_their_post(events):
    post = events.first().post

    post.delete()

    assert PostEvent.objects.count() == 0


# --------------------------------------------------------------------------- workspace emergency stops


WORKSPACE_STOP = "admin:publishing_emergencystop_workspace"


def test_staff_stop_a_workspace_from_admin_after_confirming(admin_client, admin_user, workspace, owner):
    url = reverse(WORKSPACE_STOP)

    form = admin_client.get(url, {"workspace": "acme", "active": "on"})
    unconfirmed = admin_client.post(url, {"workspace": "acme", "active": "on", "reason": "Spam wave"})

    assert form.status_code == 200
    assert 'value="acme"' in form.content.decode()
    assert unconfirmed.status_code == 400
    assert "Tick the box to confirm." in unconfirmed.content.decode()
    assert not EmergencyStop.objects.filter(workspace=workspace).exists()
    assert LogEntry.objects.count() == 0

    done = admin_client.post(url, {"workspace": "acme", "active": "on", "reason": "Spam wave", "confirmed": "on"})

    stop = EmergencyStop.objects.get(workspace=workspace)
    assert done.status_code == 302
    assert done.url == reverse("admin:publishing_emergencystop_changelist")
    assert (stop.is_active, stop.reason, stop.changed_by) == (True, "Spam wave", admin_user)
    assert _log(stop) == [(admin_user.pk, CHANGE, "Turned the emergency stop on: Spam wave")]
    assert _messages(done) == ["Emergency stop ON for Acme: nothing is published there."]

    resumed = admin_client.post(url, {"workspace": "acme", "active": "off", "confirmed": "on"})

    stop.refresh_from_db()
    assert resumed.status_code == 302
    assert (stop.is_active, stop.reason) == (False, "")
    assert _log(stop)[-1] == (admin_user.pk, CHANGE, "Turned the emergency stop off")


def test_an_unknown_workspace_is_refused_with_a_message(admin_client):
    response = admin_client.post(reverse(WORKSPACE_STOP), {"workspace": "nope", "active": "on", "confirmed": "on"})

    assert response.status_code == 400
    assert "There is no workspace &quot;nope&quot;." in response.content.decode()
    assert not EmergencyStop.objects.exists()


def test_staff_switch_selected_workspace_stops_with_a_confirmation(admin_client, admin_user, workspace, owner):
    other = WorkspaceFactory(name="Beta")
    set_emergency_stop(workspace=workspace, active=False, actor=owner)
    set_emergency_stop(workspace=other, active=False, actor=admin_user)
    stops = EmergencyStop.objects.filter(workspace__in=[workspace, other])
    chosen = {"action": "turn_workspace_stops_on", "_selected_action": [str(stop.pk) for stop in stops]}
    changelist = reverse("admin:publishing_emergencystop_changelist")

    asked = admin_client.post(changelist, {**chosen, "index": "0"})

    assert asked.status_code == 200
    assert (
        "While a workspace's emergency stop is on, nothing is published for that workspace." in asked.content.decode()
    )
    assert not stops.filter(is_active=True).exists()

    done = admin_client.post(changelist, {**chosen, "confirm": "yes", "reason": "Bad batch", "confirmed": "on"})

    assert done.status_code == 302
    assert sorted(stops.values_list("is_active", "reason")) == [(True, "Bad batch"), (True, "Bad batch")]
    assert _messages(done) == ["Emergency stop ON for: Acme, Beta. Nothing is published there."]
    assert (
        LogEntry.objects.filter(user=admin_user, change_message="Turned the emergency stop on: Bad batch").count() == 2
    )


def test_the_workspace_actions_leave_the_global_stop_alone(admin_client):
    admin_client.get(reverse("admin:publishing_emergencystop_changelist"))
    global_stop = EmergencyStop.objects.get(workspace__isnull=True)

    response = admin_client.post(
        reverse("admin:publishing_emergencystop_changelist"),
        {
            "action": "turn_workspace_stops_on",
            "_selected_action": [str(global_stop.pk)],
            "confirm": "yes",
            "confirmed": "on",
        },
    )

    global_stop.refresh_from_db()
    assert global_stop.is_active is False
    assert _messages(response) == ["Select only workspace stops: the global stop has its own actions."]


def test_the_stop_list_offers_the_workspace_form(admin_client, workspace, owner):
    set_emergency_stop(workspace=workspace, active=True, actor=owner)

    html = admin_client.get(reverse("admin:publishing_emergencystop_changelist")).content.decode()

    assert reverse(WORKSPACE_STOP) in html
    assert f"{reverse(WORKSPACE_STOP)}?workspace=acme&amp;active=off" in html
    assert "Turn the selected workspaces&#x27; stops ON" in html


def test_staff_with_the_permission_may_switch_any_workspace(client, workspace, owner):
    staff = _staff_with("view_emergencystop", "change_emergencystop")
    client.force_login(staff)

    response = client.post(reverse(WORKSPACE_STOP), {"workspace": "acme", "active": "on", "confirmed": "on"})

    assert response.status_code == 302
    assert EmergencyStop.objects.get(workspace=workspace).is_active is True
    # The service itself allows it too, and audits it.
    stop = set_emergency_stop(workspace=workspace, active=False, actor=staff, reason="false alarm")
    assert _log(stop)[-1] == (staff.pk, CHANGE, "Turned the emergency stop off: false alarm")


def test_staff_without_the_permission_cannot(client, workspace, owner):
    staff = _staff_with("view_emergencystop")
    client.force_login(staff)
    set_emergency_stop(workspace=workspace, active=False, actor=owner)
    stop = EmergencyStop.objects.get(workspace=workspace)

    form = client.get(reverse(WORKSPACE_STOP))
    posted = client.post(reverse(WORKSPACE_STOP), {"workspace": "acme", "active": "on", "confirmed": "on"})
    action = client.post(
        reverse("admin:publishing_emergencystop_changelist"),
        {"action": "turn_workspace_stops_on", "_selected_action": [str(stop.pk)], "confirm": "yes", "confirmed": "on"},
    )
    listing = client.get(reverse("admin:publishing_emergencystop_changelist")).content.decode()

    assert (form.status_code, posted.status_code) == (403, 403)
    assert action.status_code in (200, 302)
    stop.refresh_from_db()
    assert stop.is_active is False
    assert "turn_workspace_stops_on" not in listing
    assert reverse(WORKSPACE_STOP) not in listing
    with pytest.raises(PermissionDenied, match="Only the workspace owner"):
        set_emergency_stop(workspace=workspace, active=True, actor=staff)
    assert LogEntry.objects.filter(user=staff).count() == 0


def test_non_staff_never_reach_the_form(client, workspace, owner):
    member = MembershipFactory(workspace=workspace, role=Membership.Role.ADMIN).user
    client.force_login(member)

    response = client.post(reverse(WORKSPACE_STOP), {"workspace": "acme", "active": "on", "confirmed": "on"})

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))
    assert not EmergencyStop.objects.filter(workspace=workspace).exists()
    with pytest.raises(PermissionDenied):
        set_emergency_stop(workspace=workspace, active=True, actor=member)


# --------------------------------------------------------------------------- the banner


def test_the_banner_shows_on_admin_pages_while_the_global_stop_is_on(admin_client, admin_user):
    pages = [
        reverse("admin:index"),
        reverse("admin:publishing_emergencystop_changelist"),
        reverse("admin:publishing_postevent_changelist"),
        reverse(WORKSPACE_STOP),
    ]
    assert all(BANNER not in admin_client.get(page).content.decode() for page in pages)

    set_emergency_stop(workspace=None, active=True, actor=admin_user, reason="Platform incident")

    for page in pages:
        html = admin_client.get(page).content.decode()
        assert BANNER in html, page
        assert "Publishing is paused for every workspace (global emergency stop)." in html
        assert "Why: Platform incident" in html


def test_the_banner_shows_on_site_pages_while_a_stop_is_on(client, admin_user, workspace, owner):
    client.force_login(owner)
    posts = reverse("publishing:posts", kwargs={"workspace_slug": "acme"})
    assert BANNER not in client.get(posts).content.decode()

    # A stop staff set in admin shows to the workspace's people, with its reason.
    set_emergency_stop(workspace=workspace, active=True, actor=admin_user, reason="Spam wave")
    html = client.get(posts).content.decode()
    assert BANNER in html
    assert "Publishing is paused for this workspace." in html
    assert "Why: Spam wave" in html

    set_emergency_stop(workspace=workspace, active=False, actor=admin_user)
    set_emergency_stop(workspace=None, active=True, actor=admin_user)
    assert "Publishing is paused for every workspace." in client.get(reverse("accounts:profile")).content.decode()


# --------------------------------------------------------------------------- AI autopost (staff only)


@pytest.fixture
def automation(workspace):
    return AutomationSettings.objects.create(workspace=workspace, posts_per_day=2)


def test_staff_allow_ai_autopost_and_it_is_audited(admin_client, admin_user, automation, caplog):
    url = reverse("admin:publishing_automationsettings_change", args=[automation.pk])

    page = admin_client.get(url)
    with caplog.at_level(logging.WARNING, logger="publishing.admin"):
        response = admin_client.post(url, {"ai_autopost_allowed": "on", "posts_per_day": "9", "_save": "Save"})

    automation.refresh_from_db()
    assert page.status_code == 200
    assert 'name="ai_autopost_allowed"' in page.content.decode()
    assert 'name="posts_per_day"' not in page.content.decode()
    assert response.status_code == 302
    assert (automation.ai_autopost_allowed, automation.posts_per_day) == (True, 2)
    assert _log(automation) == [
        (admin_user.pk, CHANGE, "Allowed AI-generated posts to skip review (ai_autopost_allowed off → on)")
    ]
    assert caplog.messages == [
        f"AI autopost allowed for workspace {automation.workspace_id} by user {admin_user.pk} (was off)."
    ]

    admin_client.post(url, {"_save": "Save"})  # the box unticked

    automation.refresh_from_db()
    assert automation.ai_autopost_allowed is False
    assert _log(automation)[-1] == (
        admin_user.pk,
        CHANGE,
        "Forbade AI-generated posts to skip review (ai_autopost_allowed on → off)",
    )


def test_saving_without_a_change_writes_nothing(admin_client, automation):
    url = reverse("admin:publishing_automationsettings_change", args=[automation.pk])

    response = admin_client.post(url, {"_save": "Save"})

    assert response.status_code == 302
    assert _log(automation) == []


def test_automation_settings_cannot_be_added_or_deleted_in_admin(admin_client, automation):
    add = admin_client.get(reverse("admin:publishing_automationsettings_add"))
    delete = admin_client.post(
        reverse("admin:publishing_automationsettings_delete", args=[automation.pk]), {"post": "yes"}
    )

    assert (add.status_code, delete.status_code) == (403, 403)
    assert AutomationSettings.objects.filter(pk=automation.pk).exists()


def test_the_automation_list_filters_on_ai_autopost(admin_client, automation):
    AutomationSettings.objects.create(workspace=WorkspaceFactory(name="Beta"), ai_autopost_allowed=True)

    response = admin_client.get(
        reverse("admin:publishing_automationsettings_changelist") + "?ai_autopost_allowed__exact=1"
    )

    assert [row.workspace.name for row in response.context["cl"].result_list] == ["Beta"]

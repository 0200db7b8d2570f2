"""Feature toggles for risky automation: created off, flipped by staff in admin with a confirmation, audited."""

from __future__ import annotations

import importlib
import logging

import pytest
from django.apps import apps as django_apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.urls import reverse
from waffle.models import Switch

from letsgrow import features
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:waffle_switch_changelist"


@pytest.fixture(autouse=True)
def _no_staff_2fa(settings):
    settings.STAFF_REQUIRE_2FA = False


MIGRATION = importlib.import_module("publishing.migrations.0007_feature_switches")


@pytest.fixture(autouse=True)
def _switches_as_deployed():
    # A test that flushes the database (transaction=True, e.g. the browser tests) also removes the
    # rows migrations created: put back what a fresh deploy has, with the migration's own function.
    MIGRATION.create_switches(django_apps, None)


@pytest.fixture(autouse=True)
def _fresh_cache():
    # waffle caches switches (and their absence) in the default cache, which outlives a test's transaction.
    cache.clear()
    yield
    cache.clear()


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _log(switch: Switch) -> list[tuple[int, int, str]]:
    content_type = ContentType.objects.get_for_model(Switch)
    return list(
        LogEntry.objects.filter(content_type=content_type, object_id=str(switch.pk))
        .order_by("pk")
        .values_list("user_id", "action_flag", "change_message")
    )


def _flip(client, names: list[str], *, on: bool, **extra):
    chosen = {
        "action": "turn_switches_on" if on else "turn_switches_off",
        "_selected_action": [str(Switch.objects.get(name=name).pk) for name in names],
    }
    return client.post(reverse(CHANGELIST), {**chosen, **extra})


def test_the_migration_creates_every_known_switch_off():
    Switch.objects.all().delete()

    MIGRATION.create_switches(django_apps, None)

    assert dict(Switch.objects.filter(name__in=features.SWITCHES).values_list("name", "active")) == dict.fromkeys(
        features.SWITCHES, False
    )


def test_the_migration_copies_the_names_of_the_switches_and_never_turns_one_on():
    migration = MIGRATION
    assert migration.SWITCHES == features.SWITCHES

    Switch.objects.filter(name=features.AI_AUTOPOST).update(active=True)
    Switch.objects.filter(name=features.PLANNER_AUTOSCHEDULE).delete()
    migration.create_switches(django_apps, None)

    assert dict(Switch.objects.filter(name__in=features.SWITCHES).values_list("name", "active")) == {
        features.AI_AUTOPOST: True,  # left as staff set it
        features.PLANNER_AUTOSCHEDULE: False,  # re-created, off
    }


def test_every_switch_is_off_by_default_even_without_its_row():
    Switch.objects.all().delete()

    assert [features.is_enabled(name) for name in features.SWITCHES] == [False, False]
    assert features.is_enabled("no_such_switch") is False


def test_the_list_shows_each_known_switch_with_what_it_does(admin_client):
    Switch.objects.filter(name=features.PLANNER_AUTOSCHEDULE).delete()

    response = admin_client.get(reverse(CHANGELIST))

    html = response.content.decode()
    assert response.status_code == 200
    for name, description in features.SWITCHES.items():
        assert name in html
        assert description in html
    # A missing row is put back, off: every known switch is always there to flip.
    assert Switch.objects.get(name=features.PLANNER_AUTOSCHEDULE).active is False
    assert "Turn the selected feature switches ON" in html


def test_staff_turn_a_switch_on_after_confirming_with_a_reason(
    admin_client, admin_user, caplog, django_capture_on_commit_callbacks
):
    switch = Switch.objects.get(name=features.AI_AUTOPOST)
    assert features.is_enabled(features.AI_AUTOPOST) is False  # cached now: the flip must clear it

    asked = _flip(admin_client, [features.AI_AUTOPOST], on=True, index="0")
    no_reason = _flip(admin_client, [features.AI_AUTOPOST], on=True, confirm="yes", confirmed="on")
    unticked = _flip(admin_client, [features.AI_AUTOPOST], on=True, confirm="yes", reason="Pilot with Acme")

    assert (asked.status_code, no_reason.status_code, unticked.status_code) == (200, 200, 200)
    assert features.SWITCHES[features.AI_AUTOPOST] in asked.content.decode()
    assert "Give a reason to turn automation on." in no_reason.content.decode()
    assert "Tick the box to confirm." in unticked.content.decode()
    switch.refresh_from_db()
    assert switch.active is False
    assert _log(switch) == []

    with (
        caplog.at_level(logging.WARNING, logger="publishing.admin"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        done = _flip(
            admin_client, [features.AI_AUTOPOST], on=True, confirm="yes", reason="Pilot with Acme", confirmed="on"
        )

    switch.refresh_from_db()
    assert done.status_code == 302
    assert switch.active is True
    assert features.is_enabled(features.AI_AUTOPOST) is True
    assert features.is_enabled(features.PLANNER_AUTOSCHEDULE) is False
    assert _log(switch) == [(admin_user.pk, CHANGE, "Turned the feature switch ai_autopost on: Pilot with Acme")]
    assert caplog.messages == [
        f"Feature switch ai_autopost on by user {admin_user.pk} (was off). Reason: Pilot with Acme"
    ]
    assert _messages(done) == ["Turned on: ai_autopost."]


def test_staff_turn_switches_off_without_needing_a_reason(admin_client, admin_user, django_capture_on_commit_callbacks):
    Switch.objects.filter(name__in=features.SWITCHES).update(active=True)
    assert features.is_enabled(features.PLANNER_AUTOSCHEDULE) is True

    with django_capture_on_commit_callbacks(execute=True):
        done = _flip(admin_client, list(features.SWITCHES), on=False, confirm="yes", confirmed="on")

    assert done.status_code == 302
    assert not Switch.objects.filter(name__in=features.SWITCHES, active=True).exists()
    assert [features.is_enabled(name) for name in features.SWITCHES] == [False, False]
    assert sorted(LogEntry.objects.values_list("change_message", flat=True)) == [
        "Turned the feature switch ai_autopost off",
        "Turned the feature switch planner_autoschedule off",
    ]
    assert _messages(done) == ["Turned off: ai_autopost, planner_autoschedule."]


def test_switches_cannot_be_edited_added_or_deleted_by_hand(admin_client):
    switch = Switch.objects.get(name=features.AI_AUTOPOST)
    change_url = reverse("admin:waffle_switch_change", args=[switch.pk])

    page = admin_client.get(change_url)
    edit = admin_client.post(change_url, {"name": switch.name, "active": "on", "_save": "Save"})
    add = admin_client.get(reverse("admin:waffle_switch_add"))
    delete = admin_client.post(reverse("admin:waffle_switch_delete", args=[switch.pk]), {"post": "yes"})

    assert page.status_code == 200
    assert 'name="active"' not in page.content.decode()
    assert (edit.status_code, add.status_code, delete.status_code) == (403, 403, 403)
    switch.refresh_from_db()
    assert switch.active is False
    assert LogEntry.objects.count() == 0


def test_staff_without_the_permission_cannot_flip(client):
    staff = UserFactory(is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="waffle", codename="view_switch"))
    client.force_login(staff)

    listing = client.get(reverse(CHANGELIST))
    flipped = _flip(client, [features.AI_AUTOPOST], on=True, confirm="yes", reason="why not", confirmed="on")

    assert listing.status_code == 200
    assert "turn_switches_on" not in listing.content.decode()
    assert flipped.status_code in (200, 302)
    assert Switch.objects.get(name=features.AI_AUTOPOST).active is False
    assert LogEntry.objects.count() == 0


def test_non_staff_never_reach_the_switches(client):
    client.force_login(UserFactory())

    response = _flip(client, [features.AI_AUTOPOST], on=True, confirm="yes", reason="x", confirmed="on")

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))
    assert Switch.objects.get(name=features.AI_AUTOPOST).active is False

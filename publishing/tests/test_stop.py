"""The emergency stop service: who may turn it on and off, what it reports, and the audit record."""

from __future__ import annotations

import logging

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied

from accounts.models import Membership
from publishing.models import EmergencyStop
from publishing.stop import (
    GLOBAL_STOP_REASON,
    WORKSPACE_STOP_REASON,
    is_publishing_stopped,
    set_emergency_stop,
)
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def workspace():
    return WorkspaceFactory(name="Acme", slug="acme")


@pytest.fixture
def owner(workspace):
    return MembershipFactory(workspace=workspace, role=Membership.Role.OWNER).user


@pytest.fixture
def staff():
    return UserFactory(is_staff=True)


def _log_messages() -> list[str]:
    return list(LogEntry.objects.order_by("pk").values_list("change_message", flat=True))


def test_nothing_is_stopped_by_default(workspace):
    assert is_publishing_stopped(workspace) == ""
    assert is_publishing_stopped(None) == ""


def test_the_owner_stops_their_workspace_only(workspace, owner):
    other = WorkspaceFactory()

    stop = set_emergency_stop(workspace=workspace, active=True, actor=owner, reason="Wrong campaign went out")

    assert (stop.workspace, stop.is_active, stop.reason, stop.changed_by) == (
        workspace,
        True,
        "Wrong campaign went out",
        owner,
    )
    assert is_publishing_stopped(workspace) == "Wrong campaign went out"
    assert is_publishing_stopped(workspace.pk) == "Wrong campaign went out"
    assert is_publishing_stopped(other) == ""
    assert is_publishing_stopped(None) == ""


def test_a_stop_without_a_reason_still_reports_one(workspace, owner, staff):
    set_emergency_stop(workspace=workspace, active=True, actor=owner)

    assert is_publishing_stopped(workspace) == WORKSPACE_STOP_REASON

    set_emergency_stop(workspace=None, active=True, actor=staff)

    assert is_publishing_stopped(WorkspaceFactory()) == GLOBAL_STOP_REASON


def test_the_global_stop_wins_over_a_workspace_stop(workspace, owner, staff):
    set_emergency_stop(workspace=workspace, active=True, actor=owner, reason="ours")
    set_emergency_stop(workspace=None, active=True, actor=staff, reason="platform incident")

    assert is_publishing_stopped(workspace) == "platform incident"
    assert is_publishing_stopped(WorkspaceFactory()) == "platform incident"
    assert is_publishing_stopped(None) == "platform incident"


def test_turning_it_off_resumes_and_keeps_one_row_per_scope(workspace, owner):
    set_emergency_stop(workspace=workspace, active=True, actor=owner, reason="pause")

    set_emergency_stop(workspace=workspace, active=False, actor=owner, reason="all clear")

    assert is_publishing_stopped(workspace) == ""
    assert list(EmergencyStop.objects.values_list("workspace_id", "is_active", "reason")) == [
        (workspace.pk, False, "all clear")
    ]


def test_a_global_stop_is_one_row_however_often_it_is_set(staff):
    set_emergency_stop(workspace=None, active=True, actor=staff)
    set_emergency_stop(workspace=None, active=False, actor=staff)
    set_emergency_stop(workspace=None, active=True, actor=staff)

    assert list(EmergencyStop.objects.values_list("workspace_id", "is_active")) == [(None, True)]


def test_the_check_costs_one_query(workspace, owner, django_assert_num_queries):
    set_emergency_stop(workspace=workspace, active=True, actor=owner, reason="r")

    with django_assert_num_queries(1):
        assert is_publishing_stopped(workspace) == "r"
    with django_assert_num_queries(1):
        assert is_publishing_stopped(WorkspaceFactory.build(pk=999_999)) == ""


@pytest.mark.parametrize("role", ["admin", "editor", "approver", "viewer"])
def test_only_the_owner_may_stop_a_workspace(workspace, role):
    member = MembershipFactory(workspace=workspace, role=role).user

    with pytest.raises(PermissionDenied, match="Only the workspace owner"):
        set_emergency_stop(workspace=workspace, active=True, actor=member)

    assert EmergencyStop.objects.count() == 0
    assert LogEntry.objects.count() == 0


def test_staff_who_do_not_own_a_workspace_may_not_stop_it(workspace, staff):
    with pytest.raises(PermissionDenied, match="Only the workspace owner"):
        set_emergency_stop(workspace=workspace, active=True, actor=staff)

    assert EmergencyStop.objects.count() == 0


def test_an_owner_of_another_workspace_may_not_stop_this_one(workspace):
    stranger = MembershipFactory(role=Membership.Role.OWNER).user

    with pytest.raises(PermissionDenied):
        set_emergency_stop(workspace=workspace, active=True, actor=stranger)

    assert EmergencyStop.objects.count() == 0


def test_only_staff_may_use_the_global_stop(workspace, owner):
    with pytest.raises(PermissionDenied, match="Only staff"):
        set_emergency_stop(workspace=None, active=True, actor=owner)

    assert EmergencyStop.objects.count() == 0
    assert LogEntry.objects.count() == 0


def test_an_inactive_staff_user_may_not_use_the_global_stop():
    former = UserFactory(is_staff=True, is_active=False)

    with pytest.raises(PermissionDenied):
        set_emergency_stop(workspace=None, active=True, actor=former)

    assert EmergencyStop.objects.count() == 0


def test_every_change_is_audited(workspace, owner, staff, caplog):
    caplog.set_level(logging.WARNING, logger="publishing.stop")

    workspace_stop = set_emergency_stop(workspace=workspace, active=True, actor=owner, reason="typo in a post")
    set_emergency_stop(workspace=workspace, active=True, actor=owner)
    global_stop = set_emergency_stop(workspace=None, active=True, actor=staff, reason="X outage")
    set_emergency_stop(workspace=None, active=False, actor=staff)

    assert _log_messages() == [
        "Turned the emergency stop on: typo in a post",
        "Turned the emergency stop on (it already was)",
        "Turned the global emergency stop on: X outage",
        "Turned the global emergency stop off",
    ]
    content_type = ContentType.objects.get_for_model(EmergencyStop)
    assert list(
        LogEntry.objects.order_by("pk").values_list("user_id", "content_type_id", "object_id", "action_flag")
    ) == [
        (owner.pk, content_type.pk, str(workspace_stop.pk), CHANGE),
        (owner.pk, content_type.pk, str(workspace_stop.pk), CHANGE),
        (staff.pk, content_type.pk, str(global_stop.pk), CHANGE),
        (staff.pk, content_type.pk, str(global_stop.pk), CHANGE),
    ]
    assert [r.getMessage() for r in caplog.records] == [
        f"Emergency stop on for workspace acme ({workspace.pk}) by user {owner.pk} (was off). Reason: typo in a post",
        f"Emergency stop on for workspace acme ({workspace.pk}) by user {owner.pk} (was on). Reason: -",
        f"Emergency stop on for global by user {staff.pk} (was off). Reason: X outage",
        f"Emergency stop off for global by user {staff.pk} (was on). Reason: -",
    ]

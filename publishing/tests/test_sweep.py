"""The safety sweep: dispatch what is due, mark missed, recover leases, reconcile; skip stopped workspaces."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from letsgrow.periodic_tasks import PERIODIC_TASKS, Every
from publishing.models import EmergencyStop, PostTarget
from publishing.sweep import sweep
from publishing.tasks import deliver_target_task, reconcile_target_task, sweep_task
from publishing.tests.factories import SocialAccountFactory
from publishing.tests.test_delivery import _fresh_cache, due_target  # noqa: F401 (autouse fixture)
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db

TS = PostTarget.Status


@pytest.fixture
def sent(monkeypatch):
    calls = {"deliver": mock.Mock(), "reconcile": mock.Mock()}
    monkeypatch.setattr(deliver_target_task, "apply_async", calls["deliver"])
    monkeypatch.setattr(reconcile_target_task, "apply_async", calls["reconcile"])
    return calls


@pytest.fixture
def run_sweep(django_capture_on_commit_callbacks):
    def run(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return sweep(**kwargs)

    return run


def dispatched(mocked: mock.Mock) -> list[int]:
    return [call.kwargs["args"][0] for call in mocked.call_args_list]


def test_due_targets_are_dispatched_oldest_first(sent, run_sweep):
    account = SocialAccountFactory()
    newer = due_target(account, ago=timedelta(seconds=10))
    older = due_target(account, ago=timedelta(minutes=5))
    retry_due = due_target(account, ago=timedelta(minutes=1), next_attempt_at=timezone.now() - timedelta(seconds=1))
    due_target(account, ago=timedelta(seconds=-30))  # not yet
    due_target(account, next_attempt_at=timezone.now() + timedelta(minutes=1))  # a retry that waits
    due_target(account, status=TS.PUBLISHING, lease_expires_at=timezone.now() + timedelta(minutes=1))
    due_target(account, status=TS.PENDING)
    due_target(account, status=TS.FAILED)

    report = run_sweep()

    assert report.dispatched == [older.pk, retry_due.pk, newer.pk]
    assert dispatched(sent["deliver"]) == [older.pk, retry_due.pk, newer.pk]
    assert (report.missed, report.recovered, report.reconciling) == ([], [], [])
    for target in (newer, older, retry_due):
        target.refresh_from_db()
        assert target.status == TS.SCHEDULED  # the sweep only sends messages; the worker claims


def test_the_batch_is_bounded(settings, sent, run_sweep):
    settings.PUBLISH_SWEEP_BATCH = 2
    account = SocialAccountFactory()
    targets = [due_target(account, ago=timedelta(minutes=n)) for n in (1, 2, 3)]

    assert run_sweep().dispatched == [targets[2].pk, targets[1].pk]
    assert run_sweep().dispatched == [targets[0].pk]


def test_a_target_is_not_dispatched_again_until_its_message_may_be_lost(settings, sent, run_sweep):
    settings.PUBLISH_SWEEP_REDISPATCH_SECONDS = 60
    target = due_target(SocialAccountFactory())

    assert run_sweep().dispatched == [target.pk]
    assert run_sweep().dispatched == []

    # A new due time (a retry) is a new dispatch.
    PostTarget.objects.filter(pk=target.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=2))
    assert run_sweep().dispatched == [target.pk]
    assert dispatched(sent["deliver"]) == [target.pk, target.pk]


def test_targets_later_than_the_cutoff_are_missed_not_dispatched(settings, sent, run_sweep):
    settings.PUBLISH_MISSED_CUTOFF_SECONDS = 2 * 60 * 60
    account = SocialAccountFactory()
    late = due_target(account, ago=timedelta(hours=2, seconds=1))
    in_time = due_target(account, ago=timedelta(hours=1, minutes=59))

    report = run_sweep()

    assert (report.missed, report.dispatched) == ([late.pk], [in_time.pk])
    late.refresh_from_db()
    assert (late.status, late.error_kind) == (TS.MISSED, "missed")
    assert "is more than 2 hours late" in late.last_error
    assert late.events.get().actor_label == "sweep"
    late.post.refresh_from_db()
    assert late.post.status == "failed"


def test_a_stopped_workspace_is_skipped(settings, sent, run_sweep):
    settings.PUBLISH_MISSED_CUTOFF_SECONDS = 600
    stopped = SocialAccountFactory()
    EmergencyStop.objects.create(workspace=stopped.workspace, is_active=True)
    held = due_target(stopped)
    held_late = due_target(stopped, ago=timedelta(hours=1))
    EmergencyStop.objects.create(workspace=WorkspaceFactory(), is_active=False)
    going = due_target(SocialAccountFactory())

    report = run_sweep()

    assert (report.dispatched, report.missed) == ([going.pk], [])
    for target in (held, held_late):
        target.refresh_from_db()
        assert target.status == TS.SCHEDULED


def test_the_global_stop_holds_everything_but_recovery(sent, run_sweep):
    EmergencyStop.objects.create(workspace=None, is_active=True, reason="Platform incident")
    account = SocialAccountFactory()
    held = due_target(account)
    stuck = due_target(account, status=TS.PUBLISHING, lease_expires_at=timezone.now() - timedelta(seconds=1))

    report = run_sweep()

    assert report.is_stopped_globally
    assert (report.dispatched, report.missed, report.recovered) == ([], [], [stuck.pk])
    sent["deliver"].assert_not_called()
    held.refresh_from_db()
    assert held.status == TS.SCHEDULED


def test_expired_leases_are_recovered_and_reconciled(sent, run_sweep):
    account = SocialAccountFactory()
    expired = due_target(
        account, status=TS.PUBLISHING, claimed_by="w/1", lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    live = due_target(account, status=TS.PUBLISHING, claimed_by="w/2", lease_expires_at=timezone.now() + timedelta(1))
    no_lease = due_target(account, status=TS.PUBLISHING)
    PostTarget.objects.filter(pk=no_lease.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    fresh_no_lease = due_target(account, status=TS.PUBLISHING)

    report = run_sweep()

    assert sorted(report.recovered) == sorted([expired.pk, no_lease.pk])
    assert sorted(dispatched(sent["reconcile"])) == sorted([expired.pk, no_lease.pk])
    expired.refresh_from_db()
    assert (expired.status, expired.attempts, expired.claimed_by, expired.lease_expires_at) == (
        TS.UNCONFIRMED,
        1,
        "",
        None,
    )
    assert "stopped before finishing" in expired.last_error
    for untouched in (live, fresh_no_lease):
        untouched.refresh_from_db()
        assert untouched.status == TS.PUBLISHING


def test_unconfirmed_targets_are_reconciled_when_their_check_is_due(sent, run_sweep):
    account = SocialAccountFactory()
    now = timezone.now()
    due = due_target(account, status=TS.UNCONFIRMED, next_attempt_at=now - timedelta(seconds=1))
    due_target(account, status=TS.UNCONFIRMED, next_attempt_at=now + timedelta(minutes=1))
    due_target(account, status=TS.UNCONFIRMED, next_attempt_at=None)  # we stopped checking

    report = run_sweep()

    assert report.reconciling == [due.pk]
    sent["reconcile"].assert_called_once_with(args=[due.pk])
    sent["deliver"].assert_not_called()


def test_the_sweep_task_reports_counts(sent, django_capture_on_commit_callbacks):
    due_target(SocialAccountFactory())

    with django_capture_on_commit_callbacks(execute=True):
        counts = sweep_task()

    assert counts == {"dispatched": 1, "missed": 0, "recovered": 0, "reconciling": 0}


def test_the_sweep_runs_every_five_seconds():
    spec = next(spec for spec in PERIODIC_TASKS if spec.name == "Publishing sweep")

    assert (spec.task, spec.schedule) == ("publishing.sweep", Every(seconds=5))
    assert sweep_task.name == "publishing.sweep"
    assert deliver_target_task.name == "publishing.deliver_target"

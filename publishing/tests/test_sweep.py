"""The safety sweep: dispatch what is due, mark missed, recover leases, reconcile; skip stopped workspaces."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from letsgrow.periodic_tasks import PERIODIC_TASKS, Every
from publishing.models import EmergencyStop, PostTarget
from publishing.sweep import sweep
from publishing.tasks import dispatch_due_task, drain_due_task, reconcile_target_task, sweep_task
from publishing.tests.factories import SocialAccountFactory
from publishing.tests.test_delivery import _fresh_cache, due_target  # noqa: F401 (autouse fixture)
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db

TS = PostTarget.Status


@pytest.fixture
def sent(monkeypatch):
    # "deliver": drain tasks fanned out; "trigger": precise per-second triggers (ETA) for what is due soon.
    calls = {"deliver": mock.Mock(), "reconcile": mock.Mock(), "trigger": mock.Mock()}
    monkeypatch.setattr(drain_due_task, "apply_async", calls["deliver"])
    monkeypatch.setattr(dispatch_due_task, "apply_async", calls["trigger"])
    monkeypatch.setattr(reconcile_target_task, "apply_async", calls["reconcile"])
    return calls


def dispatched(mocked: mock.Mock) -> list[int]:
    return [call.kwargs["args"][0] for call in mocked.call_args_list]


@pytest.fixture
def run_sweep(django_capture_on_commit_callbacks):
    def run(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return sweep(**kwargs)

    return run


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
    assert sent["deliver"].call_count == 3  # a small burst: a drain per target
    assert (report.missed, report.recovered, report.reconciling) == ([], [], [])
    for target in (newer, older, retry_due):
        target.refresh_from_db()
        assert target.status == TS.SCHEDULED  # the sweep only sends messages; the worker claims


def test_the_fan_out_is_bounded(settings, sent, run_sweep):
    settings.PUBLISH_BATCH_SIZE = 2
    settings.PUBLISH_MAX_DRAINS = 2
    account = SocialAccountFactory()
    targets = [due_target(account, ago=timedelta(minutes=n)) for n in (1, 2, 3, 4, 5)]

    # Two drains of two: each drain goes on claiming until nothing is due, so the fifth is not left behind.
    assert run_sweep().dispatched == [t.pk for t in reversed(targets)][:4]
    assert sent["deliver"].call_count == 2


def test_every_sweep_sends_drains_while_targets_are_due(sent, run_sweep):
    target = due_target(SocialAccountFactory())

    assert run_sweep().dispatched == [target.pk]
    # Still due (its drain has not run, or its message was lost): the next sweep sends another drain.
    assert run_sweep().dispatched == [target.pk]
    assert sent["deliver"].call_count == 2


def test_targets_due_soon_get_a_trigger_for_their_second(settings, sent, run_sweep):
    settings.PUBLISH_DISPATCH_HORIZON_SECONDS = 300
    account = SocialAccountFactory()
    soon = due_target(account, ago=timedelta(seconds=-30))
    due_target(account, ago=timedelta(seconds=-30))  # the same second: one trigger
    due_target(account, ago=timedelta(hours=-1))  # beyond the horizon: a later sweep asks

    report = run_sweep()

    assert report.dispatched == []
    second = soon.scheduled_at.replace(microsecond=0) + timedelta(seconds=1 if soon.scheduled_at.microsecond else 0)
    # Fired the lead ahead of the second, for that second.
    assert [call.kwargs for call in sent["trigger"].call_args_list] == [
        {"eta": second - timedelta(seconds=settings.PUBLISH_PREPARE_SECONDS), "kwargs": {"due": second.timestamp()}}
    ]
    # Asked once per second: the next sweep does not ask again.
    run_sweep()
    assert sent["trigger"].call_count == 1


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
    assert (dispatch_due_task.name, drain_due_task.name) == ("publishing.dispatch_due", "publishing.drain_due")

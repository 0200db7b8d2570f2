from __future__ import annotations

import pytest
from django.core.management import call_command
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from letsgrow.periodic_tasks import PERIODIC_TASKS, Crontab, Every, PeriodicTaskSpec
from letsgrow.services import MANAGED_MARKER, setup_periodic_tasks

pytestmark = pytest.mark.django_db

SWEEP = PeriodicTaskSpec(name="Sweep", task="publishing.sweep", schedule=Every(seconds=5), description="Sweep.")
REPORT = PeriodicTaskSpec(
    name="Report", task="analytics.report", schedule=Crontab(minute="0", hour="8", day_of_week="1"), description="R."
)


def test_every_declared_task_exists_after_the_command(capsys):
    call_command("setup_periodic_tasks")

    names = set(PeriodicTask.objects.values_list("name", flat=True))
    assert names == {spec.name for spec in PERIODIC_TASKS}
    assert f"{len(PERIODIC_TASKS)} created" in capsys.readouterr().out


def test_running_twice_changes_nothing():
    setup_periodic_tasks(specs=(SWEEP, REPORT))
    before = list(PeriodicTask.objects.order_by("name").values("name", "task", "interval", "crontab", "date_changed"))

    report = setup_periodic_tasks(specs=(SWEEP, REPORT))

    assert report.unchanged == ["Sweep", "Report"]
    assert report.created == report.updated == report.removed == []
    after = list(PeriodicTask.objects.order_by("name").values("name", "task", "interval", "crontab", "date_changed"))
    assert after == before


def test_a_changed_schedule_updates_the_row():
    setup_periodic_tasks(specs=(SWEEP,))
    faster = PeriodicTaskSpec(name="Sweep", task="publishing.sweep", schedule=Every(seconds=2), description="Sweep.")

    report = setup_periodic_tasks(specs=(faster,))

    assert report.updated == ["Sweep"]
    task = PeriodicTask.objects.get(name="Sweep")
    assert (task.interval.every, task.interval.period) == (2, IntervalSchedule.SECONDS)
    assert task.crontab is None


def test_an_undeclared_managed_task_is_removed_but_hand_made_ones_stay():
    setup_periodic_tasks(specs=(SWEEP, REPORT))
    every_minute = IntervalSchedule.objects.create(every=60, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(name="Staff's own", task="x.y", interval=every_minute, description="by hand")

    report = setup_periodic_tasks(specs=(SWEEP,))

    assert report.removed == ["Report"]
    assert set(PeriodicTask.objects.values_list("name", flat=True)) == {"Sweep", "Staff's own"}
    assert PeriodicTask.objects.get(name="Sweep").description.endswith(MANAGED_MARKER)


def test_dry_run_changes_nothing(capsys):
    call_command("setup_periodic_tasks", "--dry-run")

    assert PeriodicTask.objects.count() == 0
    assert "would be created" in capsys.readouterr().out

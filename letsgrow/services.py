"""Project-wide wiring services (periodic tasks). Apps own their own services."""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from letsgrow.periodic_tasks import PERIODIC_TASKS, Crontab, PeriodicTaskSpec

# Marks the rows this command owns, so tasks added by hand in admin are left alone.
MANAGED_MARKER = "[managed by setup_periodic_tasks]"


@dataclass(frozen=True)
class PeriodicTasksReport:
    created: list[str]
    updated: list[str]
    unchanged: list[str]
    removed: list[str]


def _schedule_fields(spec: PeriodicTaskSpec) -> dict[str, object]:
    if isinstance(spec.schedule, Crontab):
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=spec.schedule.minute,
            hour=spec.schedule.hour,
            day_of_week=spec.schedule.day_of_week,
            day_of_month=spec.schedule.day_of_month,
            month_of_year=spec.schedule.month_of_year,
            timezone="UTC",
        )
        return {"crontab": crontab, "interval": None}
    interval, _ = IntervalSchedule.objects.get_or_create(every=spec.schedule.seconds, period=IntervalSchedule.SECONDS)
    return {"interval": interval, "crontab": None}


@transaction.atomic
def setup_periodic_tasks(
    *, specs: tuple[PeriodicTaskSpec, ...] = PERIODIC_TASKS, dry_run: bool = False
) -> PeriodicTasksReport:
    """Make beat's schedule match `specs` exactly; running it twice changes nothing.

    Rows this function created but that are no longer declared are deleted;
    rows staff added by hand are never touched.
    """
    report = PeriodicTasksReport(created=[], updated=[], unchanged=[], removed=[])
    declared = set()
    for spec in specs:
        declared.add(spec.name)
        wanted = {
            "task": spec.task,
            "kwargs": json.dumps(spec.kwargs, sort_keys=True),
            "description": f"{spec.description} {MANAGED_MARKER}",
            "enabled": True,
            **_schedule_fields(spec),
        }
        existing = PeriodicTask.objects.filter(name=spec.name).first()
        if existing is None:
            report.created.append(spec.name)
            if not dry_run:
                PeriodicTask.objects.create(name=spec.name, **wanted)
            continue
        changed = {key: value for key, value in wanted.items() if getattr(existing, key) != value}
        if not changed:
            report.unchanged.append(spec.name)
            continue
        report.updated.append(spec.name)
        if not dry_run:
            for key, value in changed.items():
                setattr(existing, key, value)
            existing.save()
    stale = PeriodicTask.objects.filter(description__endswith=MANAGED_MARKER).exclude(name__in=declared)
    report.removed.extend(stale.values_list("name", flat=True))
    if not dry_run:
        stale.delete()
    return report

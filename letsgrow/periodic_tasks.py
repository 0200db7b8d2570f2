"""Every periodic task, declared in code. `manage.py setup_periodic_tasks` applies it.

Each app adds its entries here; names are stable (the command matches on them).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Crontab:
    minute: str = "*"
    hour: str = "*"
    day_of_week: str = "*"
    day_of_month: str = "*"
    month_of_year: str = "*"


@dataclass(frozen=True)
class Every:
    seconds: int


@dataclass(frozen=True)
class PeriodicTaskSpec:
    name: str
    task: str
    schedule: Crontab | Every
    description: str
    kwargs: dict[str, object] = field(default_factory=dict)


PERIODIC_TASKS: tuple[PeriodicTaskSpec, ...] = (
    PeriodicTaskSpec(
        name="Clear expired sessions",
        task="accounts.clear_expired_sessions",
        # https://crontab.guru/#17_3_*_*_*  (daily at 03:17 UTC, off the hour to spread load)
        schedule=Crontab(minute="17", hour="3"),
        description="Deletes expired login sessions.",
    ),
)

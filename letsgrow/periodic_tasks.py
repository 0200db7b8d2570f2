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
    PeriodicTaskSpec(
        name="Publishing sweep",
        task="publishing.sweep",
        # Every 5 seconds: the safety net behind each target's on-time ETA message.
        schedule=Every(seconds=5),
        description="Dispatches due posts whose message was lost, marks missed ones, recovers stuck deliveries.",
    ),
    PeriodicTaskSpec(
        name="Tell authors about posts still waiting for review at their time",
        task="publishing.notify_pending_overdue",
        # https://crontab.guru/#*/2_*_*_*_*  (every 2 minutes)
        schedule=Crontab(minute="*/2"),
        description="Emails the author once when a scheduled post is still pending review at its time.",
    ),
)

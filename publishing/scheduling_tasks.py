"""Thin Celery entry points for scheduling (STYLE §5): load, call one service, return.

Not named tasks.py (the delivery engine's module), so Celery's autodiscovery
does not find it by itself: it is listed in CELERY_IMPORTS / imported by the
app config (see the note in the issue).
"""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from publishing.scheduling import notify_pending_at_time


@shared_task(name="publishing.notify_pending_overdue")
def notify_pending_overdue() -> int:
    """Tell authors whose posts reached their time while still waiting for review (beat, every few minutes)."""
    return notify_pending_at_time(now=timezone.now())

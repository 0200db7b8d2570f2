"""Celery beat's scheduler: django-celery-beat's DatabaseScheduler, plus a heartbeat."""

from __future__ import annotations

import time

from django.conf import settings
from django_celery_beat.schedulers import DatabaseScheduler

from letsgrow.lib import heartbeat


class HeartbeatDatabaseScheduler(DatabaseScheduler):
    """DatabaseScheduler that records beat's heartbeat for /readyz on every tick.

    beat calls tick() at least every CELERY_BEAT_MAX_LOOP_INTERVAL seconds, so a
    fresh heartbeat proves the scheduler loop is turning, not only that the
    process exists.
    """

    _last_beat = 0.0

    def tick(self, *args, **kwargs):
        now = time.monotonic()
        if now - self._last_beat >= settings.HEARTBEAT_INTERVAL_SECONDS:
            heartbeat.beat(heartbeat.BEAT)
            self._last_beat = now
        return super().tick(*args, **kwargs)

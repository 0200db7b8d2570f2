"""Liveness heartbeats of the background processes (worker, beat).

Each process writes the time it was last alive to the shared cache (Redis in
production, files on disk in the embedded default), which every process sees.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

WORKER = "worker"
BEAT = "beat"
PROCESSES = (WORKER, BEAT)


def _key(process: str) -> str:
    return f"heartbeat:{process}"


def beat(process: str) -> None:
    """Record that `process` is alive now. Never raises: a heartbeat must not crash its host."""
    try:
        # Keep the key well past the freshness window so /readyz can say
        # "stale for N s" rather than only "missing".
        cache.set(_key(process), datetime.now(tz=UTC).timestamp(), timeout=24 * 3600)
    except Exception:
        logger.warning("could not record the %s heartbeat", process, exc_info=True)


def last_seen(process: str) -> datetime | None:
    """When `process` last recorded a heartbeat, or None if it never did."""
    value = cache.get(_key(process))
    if value is None:
        return None
    return datetime.fromtimestamp(float(value), tz=UTC)


def age_seconds(process: str, *, now: datetime | None = None) -> float | None:
    """Seconds since `process` last beat, or None if it never did."""
    seen = last_seen(process)
    if seen is None:
        return None
    now = now or datetime.now(tz=UTC)
    return max(0.0, (now - seen).total_seconds())


def is_fresh(process: str, *, now: datetime | None = None) -> bool:
    age = age_seconds(process, now=now)
    return age is not None and age <= settings.HEARTBEAT_MAX_AGE_SECONDS

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.core.cache import cache

from letsgrow.lib import heartbeat


def test_a_process_that_never_beat_is_not_fresh():
    assert heartbeat.last_seen(heartbeat.WORKER) is None
    assert heartbeat.age_seconds(heartbeat.WORKER) is None
    assert heartbeat.is_fresh(heartbeat.WORKER) is False


def test_a_beat_is_fresh_until_the_limit_passes(settings):
    settings.HEARTBEAT_MAX_AGE_SECONDS = 60
    heartbeat.beat(heartbeat.BEAT)
    seen = heartbeat.last_seen(heartbeat.BEAT)

    assert seen is not None
    assert heartbeat.is_fresh(heartbeat.BEAT, now=seen + timedelta(seconds=60)) is True
    assert heartbeat.is_fresh(heartbeat.BEAT, now=seen + timedelta(seconds=61)) is False
    assert heartbeat.age_seconds(heartbeat.BEAT, now=seen + timedelta(seconds=61)) == 61
    # The worker's heartbeat is separate.
    assert heartbeat.last_seen(heartbeat.WORKER) is None


def test_a_failing_cache_never_crashes_the_process(monkeypatch):
    def broken_set(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "set", broken_set)

    heartbeat.beat(heartbeat.WORKER)  # does not raise

    monkeypatch.undo()
    assert heartbeat.last_seen(heartbeat.WORKER) is None


def test_last_seen_is_timezone_aware():
    before = datetime.now(tz=UTC)
    heartbeat.beat(heartbeat.WORKER)

    seen = heartbeat.last_seen(heartbeat.WORKER)

    assert seen is not None and seen.tzinfo is not None
    assert before - timedelta(seconds=1) <= seen <= datetime.now(tz=UTC)

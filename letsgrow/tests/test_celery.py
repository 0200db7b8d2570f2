from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from accounts.tasks import clear_expired_sessions
from letsgrow.celery import app as celery_app
from letsgrow.celery_beat import HeartbeatDatabaseScheduler
from letsgrow.lib import heartbeat


def test_celery_speaks_json_only_and_never_loses_a_task_to_a_dying_worker():
    conf = celery_app.conf

    assert conf.accept_content == ["json"]
    assert conf.task_serializer == "json"
    assert conf.result_serializer == "json"
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_time_limit == 300
    assert conf.task_soft_time_limit == 240
    assert conf.beat_scheduler == "letsgrow.celery_beat:HeartbeatDatabaseScheduler"
    assert conf.task_always_eager is False


def test_the_beat_scheduler_is_django_celery_beats():
    from django_celery_beat.schedulers import DatabaseScheduler

    assert issubclass(HeartbeatDatabaseScheduler, DatabaseScheduler)


# The scheduler closes stale database connections itself, which a test
# wrapped in one transaction would not survive.
@pytest.mark.django_db(transaction=True)
def test_each_beat_tick_records_its_heartbeat(settings):
    settings.HEARTBEAT_INTERVAL_SECONDS = 0
    scheduler = HeartbeatDatabaseScheduler(app=celery_app, lazy=True)

    scheduler.tick()

    assert heartbeat.is_fresh(heartbeat.BEAT)
    assert heartbeat.last_seen(heartbeat.WORKER) is None


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_a_task_from_redis_and_beats(celery_conf):
    # A queue of its own, so nothing else on this Redis is consumed or disturbed.
    celery_conf(task_default_queue=f"test-{uuid.uuid4().hex}")
    expired = SessionStore()
    expired.set_expiry(timezone.now() - timedelta(days=1))
    expired.save()
    alive = SessionStore()
    alive.save()

    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        assert heartbeat.is_fresh(heartbeat.WORKER)
        clear_expired_sessions.delay()
        deadline = time.monotonic() + 20
        while Session.objects.filter(session_key=expired.session_key).exists():
            assert time.monotonic() < deadline, "the worker did not run the task within 20 s"
            time.sleep(0.1)

    assert Session.objects.filter(session_key=alive.session_key).exists()

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache

from letsgrow.lib import heartbeat

pytestmark = pytest.mark.django_db


def _beat_at(process: str, when: datetime) -> None:
    cache.set(heartbeat._key(process), when.timestamp(), timeout=3600)


def test_healthz_is_ok_without_touching_anything(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_readyz_is_ok_when_every_part_is_up(client, working_broker):
    heartbeat.beat(heartbeat.WORKER)
    heartbeat.beat(heartbeat.BEAT)

    response = client.get("/readyz")

    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert body["failing"] == []
    assert set(body["checks"]) == {"database", "broker", "worker", "beat"}
    assert all(check["ok"] for check in body["checks"].values())


def test_readyz_names_a_missing_worker_and_beat(client, working_broker):
    response = client.get("/readyz")

    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "fail"
    assert body["failing"] == ["worker", "beat"]
    assert body["checks"]["worker"]["error"] == "no worker heartbeat recorded: is the worker running?"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True


def test_readyz_names_a_stale_worker(client, working_broker, settings):
    settings.HEARTBEAT_MAX_AGE_SECONDS = 60
    _beat_at(heartbeat.WORKER, datetime.now(tz=UTC) - timedelta(seconds=90))
    heartbeat.beat(heartbeat.BEAT)

    response = client.get("/readyz")

    body = response.json()
    assert response.status_code == 503
    assert body["failing"] == ["worker"]
    assert body["checks"]["worker"]["error"].startswith("worker heartbeat is 9")
    assert body["checks"]["worker"]["error"].endswith("old (limit 60s)")


@pytest.mark.redis
def test_readyz_names_the_broker_when_redis_is_gone(client, celery_conf):
    # Nothing listens on port 1: the connection is refused at once.
    celery_conf(broker_url="redis://127.0.0.1:1/0")
    heartbeat.beat(heartbeat.WORKER)
    heartbeat.beat(heartbeat.BEAT)

    response = client.get("/readyz")

    body = response.json()
    assert response.status_code == 503
    assert body["failing"] == ["broker"]
    assert "Connection refused" in body["checks"]["broker"]["error"] or "111" in body["checks"]["broker"]["error"]


def test_readyz_names_the_broker_when_its_folder_is_gone(client, celery_conf, tmp_path):
    gone = str(tmp_path / "deleted-broker")
    celery_conf(
        broker_url="filesystem://",
        broker_transport_options={"data_folder_in": gone, "data_folder_out": gone},
    )
    heartbeat.beat(heartbeat.WORKER)
    heartbeat.beat(heartbeat.BEAT)

    response = client.get("/readyz")

    body = response.json()
    assert response.status_code == 503
    assert body["failing"] == ["broker"]
    assert body["checks"]["broker"]["error"] == f"broker folder missing or not writable: {gone}"


def test_readyz_rejects_other_methods(client):
    assert client.post("/readyz").status_code == 405

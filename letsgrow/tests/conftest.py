from __future__ import annotations

import pytest
from django.core.cache import cache

from letsgrow.celery import app as celery_app
from letsgrow.lib import heartbeat


@pytest.fixture(autouse=True)
def _no_heartbeats():
    """Each test starts with no heartbeat recorded (the cache may be a shared Redis)."""
    keys = [heartbeat._key(process) for process in heartbeat.PROCESSES]
    cache.delete_many(keys)
    yield
    cache.delete_many(keys)


@pytest.fixture
def celery_conf():
    """Change the Celery app's configuration for one test, then put it back."""
    saved = {}

    def change(**options):
        for key, value in options.items():
            saved.setdefault(key, celery_app.conf.get(key))
            celery_app.conf[key] = value

    yield change
    for key, value in saved.items():
        celery_app.conf[key] = value


@pytest.fixture
def working_broker(celery_conf, tmp_path):
    """The configured broker, made reachable: Redis as is, or the file broker in a temp folder."""
    if celery_app.conf.broker_url.startswith("filesystem://"):
        folder = tmp_path / "broker"
        folder.mkdir()
        options = dict(celery_app.conf.broker_transport_options)
        options.update(data_folder_in=str(folder), data_folder_out=str(folder))
        celery_conf(broker_transport_options=options)

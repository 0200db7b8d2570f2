"""The Celery app. All options live in settings under the CELERY_ prefix."""

from __future__ import annotations

import os

from celery import Celery, bootsteps, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "letsgrow.settings.local")

app = Celery("letsgrow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Record that this worker is alive every few seconds, for /readyz.

    It runs on the worker's own timer in the main process, so a worker that is
    up but whose consumer is wedged still beats; the broker check covers that.
    """

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.tref = None

    def start(self, worker):
        from django.conf import settings

        from letsgrow.lib import heartbeat

        heartbeat.beat(heartbeat.WORKER)
        self.tref = worker.timer.call_repeatedly(
            settings.HEARTBEAT_INTERVAL_SECONDS, heartbeat.beat, (heartbeat.WORKER,), priority=10
        )

    def stop(self, worker):
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None


app.steps["worker"].add(WorkerHeartbeat)


@signals.task_prerun.connect
def _drop_unusable_connections(**kwargs):
    """Let a task start on a healthy, young database connection, as Django does for each request.

    Workers keep their connections between tasks (CELERY_DB_REUSE_MAX): opening
    one per task cost about a fifth of the engine's throughput (docs/BENCHMARKS.md).
    Django closes a connection that erred or outlived CONN_MAX_AGE only when
    asked; this asks, before every task, so one broken by a database restart
    costs one task, not every task until the next recycle.
    """
    from django.db import close_old_connections

    close_old_connections()


@signals.worker_ready.connect
@signals.worker_process_init.connect
def _warm_up_publishing(**kwargs):
    """Pay the send path's first-use costs at start (threads pool: the worker; prefork: each child)."""
    from publishing.delivery import warm_up

    warm_up()


@signals.worker_init.connect
@signals.worker_process_init.connect
def _keep_publishing_leases(**kwargs):
    """Renew the leases of the targets this process sends, while it lives (publishing/leases.py)."""
    from publishing.leases import keeper

    keeper.enable()

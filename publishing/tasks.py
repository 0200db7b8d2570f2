"""Thin Celery entry points for publishing: each takes ids and calls one service.

`acks_late` and `reject_on_worker_lost` are global (settings), so a worker that
dies mid-task gets the message redelivered; every task here is idempotent (the
claim and the compare-and-set turn a repeat into a no-op).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from celery import shared_task

from publishing.delivery import deliver_target, reconcile_target, worker_id
from publishing.dispatch import dispatch_due, drain
from publishing.sweep import sweep

logger = logging.getLogger(__name__)


@shared_task(name="publishing.deliver_target", bind=True)
def deliver_target_task(self: Any, target_id: int) -> str:
    """Publish one target if it is due (kept for messages sent before the batch dispatcher; `drain_due` is the path)."""
    outcome = deliver_target(target_id=target_id, worker=worker_id(self.request.hostname, self.request.id))
    logger.info("Deliver target %s: %s", target_id, outcome)
    return outcome


def _moment(timestamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, tz=UTC) if timestamp is not None else None


@shared_task(name="publishing.dispatch_due")
def dispatch_due_task(due: float | None = None) -> int:
    """The on-time trigger (one message per due second, `due`, sent a little ahead): fan out drains."""
    return len(dispatch_due(due=_moment(due)))


@shared_task(name="publishing.drain_due", bind=True)
def drain_due_task(self: Any, batch: int | None = None, due: float | None = None) -> dict[str, int]:
    """Claim and send targets due (by `due`, a timestamp, if given), `batch` at a time, until none is left."""
    outcomes = drain(worker=worker_id(self.request.hostname, self.request.id), batch=batch, due=_moment(due))
    if outcomes:
        logger.info("Drain: %s", dict(outcomes))
    return dict(outcomes)


@shared_task(name="publishing.reconcile_target")
def reconcile_target_task(target_id: int) -> str:
    """Find out whether an unconfirmed target's post exists, and settle it."""
    outcome = reconcile_target(target_id=target_id)
    logger.info("Reconcile target %s: %s", target_id, outcome)
    return outcome


@shared_task(name="publishing.sweep")
def sweep_task() -> dict[str, int]:
    """The safety net every few seconds: dispatch what is due, mark missed, recover leases, reconcile."""
    return sweep().counts()

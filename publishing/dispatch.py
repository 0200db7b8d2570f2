"""Dispatch: turn "targets are due at second T" into workers draining them in batches.

The on-time trigger is one Celery message per due *second*, not per target:
`request_dispatch(at=T)` sends `publishing.dispatch_due` with ETA T (once per
second, deduplicated in the cache, after the transaction commits). At T,
`dispatch_due` counts what is due and fans out enough `publishing.drain_due`
tasks to spread it over the workers; each drain claims a batch
(`delivery.claim_due`: SKIP LOCKED + the state machine's batch compare-and-set),
sends it, and claims the next, until nothing due is left. A thousand targets
due in the same second are one message, a few dozen drains and a few hundred
queries, instead of a thousand of each.

Messages are only a way to be on time; nothing depends on them arriving. A lost
message (a broker restart) is made up for by the sweep, which also runs
`dispatch_due` every few seconds, and by `plan_upcoming`, which asks for the
precise trigger of everything due within `PUBLISH_DISPATCH_HORIZON_SECONDS`
(schedules further ahead are not sent to the broker at all: a worker holds ETA
messages in memory, and Redis would redeliver those older than its visibility
timeout). A duplicate message only makes a drain that finds nothing to claim.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from publishing.delivery import SendContext, claim_due, claimable_q, deliver_claimed
from publishing.models import PostTarget
from publishing.stop import is_publishing_stopped

logger = logging.getLogger(__name__)

TS = PostTarget.Status


def batch_size() -> int:
    """Targets one drain claims at a time (a transaction, an UPDATE and an INSERT of events each)."""
    return int(getattr(settings, "PUBLISH_BATCH_SIZE", 20))


def max_drains() -> int:
    """Drain tasks one dispatch fans out at most (each drains until nothing is due)."""
    return int(getattr(settings, "PUBLISH_MAX_DRAINS", 32))


def horizon() -> timedelta:
    return timedelta(seconds=int(getattr(settings, "PUBLISH_DISPATCH_HORIZON_SECONDS", 300)))


def drain_seconds() -> float:
    """How long one drain task goes on before handing over to a fresh one (keeps tasks short)."""
    return float(getattr(settings, "PUBLISH_DRAIN_SECONDS", 60))


def request_dispatch(*, at: datetime | None = None, now: datetime | None = None) -> bool:
    """Ask for due targets to be dispatched at `at` (now if None or past), after the current transaction commits.

    At most one message per second of due time (a cache key), none beyond the
    horizon (`plan_upcoming` asks for those when they come near). Returns
    whether a message will be sent. Never raises for a broker outage: the
    sweep dispatches what is due anyway.
    """
    now = now or timezone.now()
    if at is not None and at - now > horizon():
        return False
    # Rounded up: a trigger a fraction of a second early would find nothing due yet.
    second = math.ceil((at if at is not None and at > now else now).timestamp())
    ttl = max(int(second - now.timestamp()), 0) + 60
    if not cache.add(f"publishing:dispatch:{second}", 1, timeout=ttl):
        return False
    eta = datetime.fromtimestamp(second, tz=now.tzinfo) if at is not None and at > now else None

    def send(eta: datetime | None = eta) -> None:
        from publishing.tasks import dispatch_due_task  # the tasks module imports this one

        dispatch_due_task.apply_async(eta=eta)

    # robust: a broker outage must not turn a committed schedule into an error; the sweep sends it.
    transaction.on_commit(send, robust=True)
    return True


def _send_drain(batch: int) -> None:
    """Send one drain task claiming `batch` at a time, after commit (robust: the sweep makes up for a lost one)."""
    from publishing.tasks import drain_due_task  # the tasks module imports this one

    def send() -> None:
        drain_due_task.apply_async(kwargs={"batch": batch})

    transaction.on_commit(send, robust=True)


def dispatch_due(*, now: datetime | None = None) -> list[int]:
    """Fan out drain tasks for what is due now; return the due targets' ids (as many as sized the fan-out).

    A small burst is spread over as many drains as there are targets (one
    target each: a platform answering slowly then delays no one but its own
    post); a large one over `PUBLISH_MAX_DRAINS` drains claiming up to
    `PUBLISH_BATCH_SIZE` at a time (fewer, larger transactions per target).
    """

    now = now or timezone.now()
    if is_publishing_stopped(None):
        return []
    size, most = batch_size(), max_drains()
    due = list(
        PostTarget.objects.filter(claimable_q(now))
        .order_by("scheduled_at", "pk")
        .values_list("pk", flat=True)[: size * most]
    )
    if not due:
        return []
    batch = min(size, math.ceil(len(due) / most))
    drains = min(math.ceil(len(due) / batch), most)
    for _ in range(drains):
        _send_drain(batch)
    logger.info("Dispatch: %s due, %s drains of up to %s.", len(due), drains, batch)
    return due


def drain(*, worker: str, seconds: float | None = None, batch: int | None = None) -> Counter[str]:
    """Claim and send due targets in batches until none is left (or `seconds` are up); count the outcomes.

    When time is up with targets still due, another drain task carries on, so a
    task never outlives its time limit however long the backlog.
    """
    deadline = time.monotonic() + (drain_seconds() if seconds is None else seconds)
    outcomes: Counter[str] = Counter()
    size = min(batch or batch_size(), batch_size())
    context = SendContext(worker=worker)  # its providers (and their connections) serve every batch
    while True:
        if context.is_stopped_globally():
            break
        targets = claim_due(worker=worker, limit=size)
        if not targets:
            break
        outcomes.update(deliver_claimed(targets, worker=worker, context=context).values())
        if len(targets) < size:
            break
        if time.monotonic() >= deadline:
            _send_drain(size)
            break
    return outcomes


def plan_upcoming(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Ask for the precise trigger of every second within the horizon that has something due; return how many."""
    now = now or timezone.now()
    upcoming = PostTarget.objects.filter(status=TS.SCHEDULED, scheduled_at__gt=now, scheduled_at__lte=now + horizon())
    retries = PostTarget.objects.filter(
        status=TS.SCHEDULED, next_attempt_at__gt=now, next_attempt_at__lte=now + horizon()
    )
    seconds = {
        math.ceil(when.timestamp())
        for when in [
            *upcoming.order_by("scheduled_at").values_list("scheduled_at", flat=True)[:limit],
            *retries.order_by("next_attempt_at").values_list("next_attempt_at", flat=True)[:limit],
        ]
    }
    return sum(
        request_dispatch(at=datetime.fromtimestamp(second, tz=now.tzinfo), now=now) for second in sorted(seconds)
    )

"""Dispatch: turn "targets are due at second T" into workers draining them in batches.

The on-time trigger is one Celery message per due *second*, not per target:
`request_dispatch(at=T)` sends `publishing.dispatch_due` for T with ETA
T - `PUBLISH_PREPARE_SECONDS` (once per second, deduplicated in the cache, after
the transaction commits). `dispatch_due` counts what will be due at T and fans
out enough `publishing.drain_due` tasks to spread it over the workers; each
drain claims a batch (`delivery.claim_due`: SKIP LOCKED + the state machine's
batch compare-and-set), checks and prepares it while T has not come yet, sends
each target at its own time, and claims the next batch, until nothing due is
left. A thousand targets due in the same second are one message, a few dozen
drains and a few hundred queries, instead of a thousand of each; and the
database work, the checks and the preparing are done before T, so only the
sending is left for the due second.

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


def prepare_lead() -> timedelta:
    """How long before a due second its trigger fires (the drains claim, check and prepare meanwhile)."""
    return timedelta(seconds=float(getattr(settings, "PUBLISH_PREPARE_SECONDS", 3)))


# A trigger more than this ahead of its due second claims larger batches (nothing waits on them yet).
_EARLY = timedelta(milliseconds=250)
# How much larger: the drains of one trigger then claim up to 4 * PUBLISH_BATCH_SIZE * PUBLISH_MAX_DRAINS ahead.
_EARLY_BATCH_FACTOR = 4


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
    eta, kwargs = None, {}
    if at is not None and at > now:
        # Fired ahead of the second (at once, when that is already past): the drains prepare meanwhile.
        start = datetime.fromtimestamp(second, tz=now.tzinfo) - prepare_lead()
        eta, kwargs = (start if start > now else None), {"due": second}

    def send() -> None:
        from publishing.tasks import dispatch_due_task  # the tasks module imports this one

        dispatch_due_task.apply_async(eta=eta, kwargs=kwargs)

    # robust: a broker outage must not turn a committed schedule into an error; the sweep sends it.
    transaction.on_commit(send, robust=True)
    return True


def _send_drain(batch: int, *, due: datetime | None = None) -> None:
    """Send one drain task claiming `batch` at a time (what is due by `due`, if given), after commit.

    Robust: the sweep makes up for a lost one.
    """
    from publishing.tasks import drain_due_task  # the tasks module imports this one

    kwargs: dict[str, float] = {"batch": batch}
    if due is not None:
        kwargs["due"] = due.timestamp()

    def send() -> None:
        drain_due_task.apply_async(kwargs=kwargs)

    transaction.on_commit(send, robust=True)


def dispatch_due(*, now: datetime | None = None, due: datetime | None = None) -> list[int]:
    """Fan out drain tasks for what is due now (or by `due`, when the trigger fired ahead of it).

    Returns the due targets' ids (as many as sized the fan-out). A small burst
    is spread over as many drains as there are targets (one target each: a
    platform answering slowly then delays no one but its own post); a large one
    over `PUBLISH_MAX_DRAINS` drains claiming up to `PUBLISH_BATCH_SIZE` at a
    time (fewer, larger transactions per target), or four times that ahead of
    the due second, so that the whole burst is claimed and prepared before it.
    """

    now = now or timezone.now()
    if is_publishing_stopped(None):
        return []
    until = max(due, now) if due is not None else now
    early = until - now > _EARLY
    size, most = batch_size() * (_EARLY_BATCH_FACTOR if early else 1), max_drains()
    due_ids = list(
        PostTarget.objects.filter(claimable_q(until))
        .order_by("scheduled_at", "pk")
        .values_list("pk", flat=True)[: size * most]
    )
    if not due_ids:
        return []
    batch = min(size, math.ceil(len(due_ids) / most))
    drains = min(math.ceil(len(due_ids) / batch), most)
    for _ in range(drains):
        _send_drain(batch, due=until if early else None)
    logger.info("Dispatch: %s due by %s, %s drains of up to %s.", len(due_ids), until, drains, batch)
    return due_ids


def drain(
    *, worker: str, seconds: float | None = None, batch: int | None = None, due: datetime | None = None
) -> Counter[str]:
    """Claim and send due targets in batches until none is left (or `seconds` are up); count the outcomes.

    With `due` ahead, what will be due by then is claimed and prepared now and
    each target sent at its time (`deliver_claimed` waits for it). When time is
    up with targets still due, another drain task carries on, so a task never
    outlives its time limit however long the backlog.
    """
    deadline = time.monotonic() + (drain_seconds() if seconds is None else seconds)
    outcomes: Counter[str] = Counter()
    size = min(batch or batch_size(), batch_size() * _EARLY_BATCH_FACTOR)
    context = SendContext(worker=worker)  # its providers (and their connections) serve every batch
    while True:
        if context.is_stopped_globally():
            break
        now = timezone.now()
        targets = claim_due(worker=worker, limit=size, now=max(due, now) if due is not None else now)
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

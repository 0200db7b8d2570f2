"""The safety sweep: every few seconds, catch whatever the on-time trigger did not.

Targets normally go out through the dispatcher's ETA message for their second
(publishing.dispatch). Messages can be lost (a broker restart, a purged queue, a
worker killed with the message unacknowledged past the visibility timeout), and
workers die mid-publish. The sweep, run by beat every 5 seconds, makes sure
nothing is left behind:

1. due, unclaimed `scheduled` targets get drains (`dispatch_due`), and every
   second with something due within the horizon gets its precise trigger
   (`plan_upcoming`);
2. targets more than `PUBLISH_MISSED_CUTOFF_SECONDS` late become `missed`;
3. `publishing` targets whose lease ran out become `unconfirmed` (their worker
   may have sent them; a live worker renews its leases, publishing/leases.py,
   so a lease runs out only when its worker died or lost its database), so that
4. unconfirmed targets whose next check has come get a reconciliation message.

Dispatching does not lock anything: the sweep only enqueues, and the claim
(`delivery.claim_due`: row locks with SKIP LOCKED, then the state machine's
compare-and-set) lets exactly one delivery through, however many messages
there are. Reconciliation messages are not re-sent for the same check within
`PUBLISH_SWEEP_REDISPATCH_SECONDS` (a cache key).

Emergency stop: workspaces under a stop (or everything, under the global one)
are neither dispatched nor marked missed; their targets stay `scheduled` and go
out on the first sweep after the stop is lifted (or become missed then, if they
are by then too late). Recovering leases and reconciling go on during a stop:
they only read the platforms and never publish.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from publishing.delivery import (
    SWEEP_LABEL,
    expired_lease_q,
    mark_missed,
    missed_cutoff,
    recover_expired_lease,
)
from publishing.models import PostTarget
from publishing.stop import is_publishing_stopped

logger = logging.getLogger(__name__)

TS = PostTarget.Status


@dataclass
class SweepReport:
    """What one sweep did: the target ids in each step."""

    dispatched: list[int] = field(default_factory=list)
    missed: list[int] = field(default_factory=list)
    recovered: list[int] = field(default_factory=list)
    reconciling: list[int] = field(default_factory=list)
    is_stopped_globally: bool = False

    def counts(self) -> dict[str, int]:
        return {
            "dispatched": len(self.dispatched),
            "missed": len(self.missed),
            "recovered": len(self.recovered),
            "reconciling": len(self.reconciling),
        }


def _batch_size() -> int:
    return int(getattr(settings, "PUBLISH_SWEEP_BATCH", 500))


def _scan_size() -> int:
    # Rows already dispatched (their message is still queued behind busy workers) are
    # skipped, not counted: the batch is filled from the next ones, up to this many read.
    return _batch_size() * 10


def _redispatch_seconds() -> int:
    return int(getattr(settings, "PUBLISH_SWEEP_REDISPATCH_SECONDS", 60))


def sweep(*, now: datetime | None = None) -> SweepReport:
    """Run the four steps once (see the module docstring); each step handles at most `PUBLISH_SWEEP_BATCH` targets.

    Idempotent and safe to run concurrently with itself and with deliveries.
    """
    now = now or timezone.now()
    report = SweepReport(is_stopped_globally=bool(is_publishing_stopped(None)))
    if not report.is_stopped_globally:
        report.missed = _mark_missed(now)
        report.dispatched = _dispatch_due(now)
    report.recovered = _recover_leases(now)
    report.reconciling = _dispatch_reconciliations(now)
    if any(report.counts().values()):
        logger.info("Publishing sweep: %s", report.counts())
    return report


def _not_stopped(queryset: QuerySet[PostTarget]) -> QuerySet[PostTarget]:
    # publishing.stop's rule for one workspace, as one filter for all of them (the global
    # stop is checked once per sweep); deliver_target asks is_publishing_stopped again.
    return queryset.exclude(workspace__emergency_stop__is_active=True)


def _mark_missed(now: datetime) -> list[int]:
    late = _not_stopped(PostTarget.objects.filter(status=TS.SCHEDULED, scheduled_at__lt=now - missed_cutoff()))
    ids = list(late.order_by("scheduled_at", "pk").values_list("pk", flat=True)[: _batch_size()])
    return [pk for pk in ids if mark_missed(target_id=pk, now=now, actor_label=SWEEP_LABEL)]


def _first_dispatch(kind: str, pk: int, when: datetime | None) -> bool:
    """True the first time in the re-dispatch window that (kind, target, due time) is sent."""
    stamp = when.timestamp() if when else 0
    return cache.add(f"publishing:sweep:{kind}:{pk}:{stamp}", 1, timeout=_redispatch_seconds())


def _dispatch_due(now: datetime) -> list[int]:
    from publishing.dispatch import dispatch_due, plan_upcoming  # the dispatcher imports delivery, as we do

    plan_upcoming(now=now)
    return dispatch_due(now=now)


def _recover_leases(now: datetime) -> list[int]:
    expired = PostTarget.objects.filter(expired_lease_q(now)).order_by("lease_expires_at", "pk")
    ids = list(expired.values_list("pk", flat=True)[: _batch_size()])
    return [pk for pk in ids if recover_expired_lease(target_id=pk, now=now)]


def _dispatch_reconciliations(now: datetime) -> list[int]:
    from publishing.tasks import reconcile_target_task

    # next_attempt_at NULL on an unconfirmed target means we stopped checking: the user decides.
    waiting = PostTarget.objects.filter(Q(status=TS.UNCONFIRMED, next_attempt_at__lte=now))
    rows = waiting.order_by("next_attempt_at", "pk").values_list("pk", "next_attempt_at")
    dispatched = []
    for pk, next_attempt_at in rows[: _scan_size()]:
        if _first_dispatch("reconcile", pk, next_attempt_at):
            transaction.on_commit(lambda pk=pk: reconcile_target_task.apply_async(args=[pk]), robust=True)
            dispatched.append(pk)
            if len(dispatched) >= _batch_size():
                break
    return dispatched

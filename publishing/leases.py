"""Keep the leases of the targets this worker process is sending alive for as long as it lives.

A claimed target carries a lease (`PUBLISH_LEASE_SECONDS`); when it runs out the
sweep takes the target back and reconciles it (publishing.sweep). The lease is
the engine's only way to tell a dead worker from a busy one, so its length is a
trade: long, and a SIGKILLed worker's targets wait that long before anyone
looks at them; short, and a slow publish call (a video upload, a platform
taking its time) outlives it while its worker is alive and well, and the sweep
reconciles a post that is still being made.

The keeper removes the trade. In a worker process a thread renews, every
`PUBLISH_LEASE_RENEW_SECONDS`, the leases of every target a batch of this
process holds, in one UPDATE that succeeds only for rows still `publishing`,
still claimed by the same drain, and whose lease has not run out. So the lease
can be short (a dead process stops renewing, and its targets come back within
`PUBLISH_LEASE_SECONDS`) while a live one keeps its targets however long a call
takes.

The rule that makes sending safe stays the one in `delivery._start_sending`: a
publish call starts only while the lease known to this process, which is
always a value the database holds, has more than `PUBLISH_LEASE_MARGIN_SECONDS`
left. Renewal only ever moves that value forward after the database has taken
it; a failed renewal leaves it where it was, and the sending stops in time.

Outside a worker (the web process, tests) nothing starts the thread: batches
still register here, and `renew()` can be called directly.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

logger = logging.getLogger(__name__)


def lease_duration() -> timedelta:
    return timedelta(seconds=getattr(settings, "PUBLISH_LEASE_SECONDS", 45))


def renew_interval() -> float:
    return float(getattr(settings, "PUBLISH_LEASE_RENEW_SECONDS", 5))


class LeaseKeeper:
    """The targets this process's batches hold, by id: the drain (`claimed_by`) and the lease as saved."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[int, tuple[str, datetime]] = {}
        self._enabled = False
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    # -- what the batches say
    def hold(self, targets: Iterable, *, worker: str) -> None:
        """A batch of `worker` is about to send `targets` (claimed: `publishing`, with their lease)."""
        with self._lock:
            self._after_fork()
            for target in targets:
                self._held[target.pk] = (worker, target.lease_expires_at)
            if self._enabled and self._held and (self._thread is None or not self._thread.is_alive()):
                self._thread = threading.Thread(target=self._run, name="publishing-leases", daemon=True)
                self._thread.start()

    def release(self, targets: Iterable, *, worker: str) -> None:
        """The batch is done with `targets`: whatever became of them, nothing of theirs is sending."""
        with self._lock:
            for target in targets:
                if self._held.get(target.pk, ("",))[0] == worker:
                    del self._held[target.pk]

    def lease_of(self, target_id: int) -> datetime | None:
        """The latest lease the database holds for a target this process holds (None if it holds none)."""
        with self._lock:
            held = self._held.get(target_id)
        return held[1] if held else None

    def held(self) -> dict[int, str]:
        with self._lock:
            return {pk: worker for pk, (worker, _lease) in self._held.items()}

    # -- renewing
    def renew(self) -> int:
        """Renew every held lease that is still ours and alive, in one UPDATE; return how many were renewed.

        A target whose claim was taken (its lease ran out and the sweep recovered
        it) or that left `publishing` is not renewed and is forgotten here.
        """
        from publishing.models import PostTarget

        with self._lock:
            held = dict(self._held)
        if not held:
            return 0
        now = timezone.now()
        until = now + lease_duration()
        # One statement for every drain of the process: a row is renewed only for the drain that claimed it.
        ours = PostTarget.objects.filter(
            pk__in=held,
            status=PostTarget.Status.PUBLISHING,
            claimed_by__in={worker for worker, _lease in held.values()},
            lease_expires_at__gt=now,
        )
        renewed_count = ours.update(lease_expires_at=until)
        if renewed_count == len(held):
            renewed = set(held)
        else:  # some were taken or finished meanwhile: find which ones are still ours
            rows = PostTarget.objects.filter(pk__in=held, lease_expires_at=until).values_list("pk", "claimed_by")
            renewed = {pk for pk, worker in rows if held[pk][0] == worker}
        with self._lock:
            for pk, (worker, _lease) in held.items():
                if self._held.get(pk, ("",))[0] != worker:
                    continue  # released (or held by another batch) while we renewed
                if pk in renewed:
                    self._held[pk] = (worker, until)
                elif self._held[pk][1] is None or self._held[pk][1] <= now:
                    del self._held[pk]  # its lease is gone: nothing of ours will send it
        return len(renewed)

    # -- the thread
    def enable(self) -> None:
        """Renew in the background from now on (a worker process; see letsgrow/celery.py)."""
        with self._lock:
            self._after_fork()
            self._enabled = True

    def _run(self) -> None:
        pid = os.getpid()
        while True:
            time.sleep(renew_interval())
            with self._lock:
                if os.getpid() != pid or not self._held:
                    self._thread = None
                    return  # started again by the next batch
            try:
                close_old_connections()
                self.renew()
            except Exception:
                # The leases keep their last value: the sender stops before it runs out (see the module's doc).
                logger.warning("Could not renew the publishing leases of this worker.", exc_info=True)
                connection.close()

    def _after_fork(self) -> None:
        """A prefork child starts with its parent's memory but none of its threads."""
        if os.getpid() != self._pid:
            self._pid = os.getpid()
            self._held.clear()
            self._thread = None


keeper = LeaseKeeper()

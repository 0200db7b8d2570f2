"""Two workers claiming the same target at the same moment: exactly one wins. PostgreSQL only.

SQLite serialises every write and ignores SELECT … FOR UPDATE, so a race there
proves nothing; the `postgres` marker skips these tests without DATABASE_URL.
Threads share one process; processes (fork) share nothing but the database.
"""

from __future__ import annotations

import multiprocessing
import threading
from unittest import mock

import pytest
from django.db import connections

from publishing.delivery import Outcome, claim_target, deliver_target
from publishing.models import PostEvent, PostTarget
from publishing.tasks import deliver_target_task, reconcile_target_task
from publishing.tests.factories import SocialAccountFactory
from publishing.tests.test_delivery import (  # noqa: F401 (autouse fixture)
    _fresh_cache,
    connected_account,
    due_target,
    posts_made,
)
from tests.factories import WorkspaceFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

TS = PostTarget.Status
ROUNDS = 10


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    # Commits run on-commit callbacks at once in these tests: keep messages off the broker.
    monkeypatch.setattr(deliver_target_task, "apply_async", mock.Mock())
    monkeypatch.setattr(reconcile_target_task, "apply_async", mock.Mock())


def _in_threads(work, count: int = 2) -> list:
    """Run `work(index)` in `count` threads released at the same instant; return their results."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = work(index)
        finally:
            connections.close_all()  # each thread has its own connection

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_two_threads_claiming_the_same_target_one_wins():
    account = SocialAccountFactory()
    targets = [due_target(account) for _ in range(ROUNDS)]

    for target in targets:
        results = _in_threads(lambda i, pk=target.pk: claim_target(target_id=pk, worker=f"thread-{i}/1"))

        winners = [result for result in results if result is not None]
        assert len(winners) == 1
        target.refresh_from_db()
        assert (target.status, target.claimed_by) == (TS.PUBLISHING, winners[0].claimed_by)
        assert PostEvent.objects.filter(target=target, to_status=TS.PUBLISHING).count() == 1


def _claim_in_process(target_id: int, worker: str, barrier, results) -> None:
    barrier.wait(timeout=10)
    claimed = claim_target(target_id=target_id, worker=worker)
    results.put((worker, claimed is not None))
    connections.close_all()


def test_two_processes_claiming_the_same_target_one_wins():
    account = SocialAccountFactory()
    targets = [due_target(account) for _ in range(ROUNDS)]
    context = multiprocessing.get_context("fork")

    for target in targets:
        # Children must open their own connections: a socket shared across fork would be corrupted.
        connections.close_all()
        barrier, results = context.Barrier(2), context.Queue()
        processes = [
            context.Process(target=_claim_in_process, args=(target.pk, f"process-{i}/1", barrier, results))
            for i in range(2)
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=30)
            assert process.exitcode == 0
        outcomes = dict(results.get(timeout=5) for _ in processes)

        assert sorted(outcomes.values()) == [False, True]
        winner = next(worker for worker, won in outcomes.items() if won)
        target.refresh_from_db()
        assert (target.status, target.claimed_by) == (TS.PUBLISHING, winner)
        assert PostEvent.objects.filter(target=target, to_status=TS.PUBLISHING).count() == 1


def test_two_workers_delivering_the_same_target_make_one_post(emulator):
    account = connected_account(WorkspaceFactory())
    target = due_target(account)

    results = _in_threads(lambda i: deliver_target(target_id=target.pk, worker=f"thread-{i}/1"))

    assert sorted(results) == sorted([Outcome.PUBLISHED, Outcome.NOT_CLAIMED])
    target.refresh_from_db()
    assert target.status == TS.PUBLISHED
    assert len(posts_made(emulator, account)) == 1

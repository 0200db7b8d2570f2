"""Two workers claiming the same target at the same moment: exactly one wins. PostgreSQL only.

SQLite serialises every write and ignores SELECT … FOR UPDATE, so a race there
proves nothing; the `postgres` marker skips these tests without DATABASE_URL.
Threads share one process; processes (fork) share nothing but the database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
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


_CLAIM_SCRIPT = """
import json, sys, time
import django
django.setup()
from publishing.delivery import claim_target
worker, start_at, ids = sys.argv[1], float(sys.argv[2]), json.loads(sys.argv[3])
time.sleep(max(0.0, start_at - time.time()))
won = [pk for pk in ids if claim_target(target_id=pk, worker=worker) is not None]
print(json.dumps(won))
"""


def test_two_processes_claiming_the_same_targets_one_wins_each(settings):
    """Two separate OS processes, released at the same instant, claim the same targets."""
    account = SocialAccountFactory()
    targets = [due_target(account) for _ in range(ROUNDS)]
    ids = json.dumps([t.pk for t in targets])
    db = settings.DATABASES["default"]
    # The children use this test's database (its rows are committed: transaction=True).
    database_url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "letsgrow.settings.test", "DATABASE_URL": database_url}
    start_at = time.time() + 4  # both interpreters are up by then
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _CLAIM_SCRIPT, f"process-{i}/1", str(start_at), ids],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outputs = [child.communicate(timeout=60) for child in children]

    assert [child.returncode for child in children] == [0, 0], [err[-2000:] for _, err in outputs]
    won = [set(json.loads(out.strip().splitlines()[-1])) for out, _ in outputs]
    assert won[0] & won[1] == set()
    assert won[0] | won[1] == {t.pk for t in targets}
    for target in targets:
        target.refresh_from_db()
        winner = "process-0/1" if target.pk in won[0] else "process-1/1"
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

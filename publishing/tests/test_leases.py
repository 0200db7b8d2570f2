"""The lease keeper: a live worker keeps its targets however long a publish call takes; a dead one loses them soon.

The unit tests call `renew()` directly; the last test runs the keeper's own thread
in a worker-like thread against PostgreSQL, with the sweep running beside it.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from publishing import delivery
from publishing.apps import check_lease_settings
from publishing.delivery import Outcome, claim_due, deliver_claimed
from publishing.leases import LeaseKeeper
from publishing.models import PostTarget
from publishing.sweep import sweep
from publishing.tests.test_delivery import connected_account, due_target, posts_made, statuses
from tests.factories import WorkspaceFactory

TS = PostTarget.Status
WORKER = "test-host/lease-1"


@pytest.fixture(autouse=True)
def _fresh_keeper(monkeypatch):
    fresh = LeaseKeeper()
    monkeypatch.setattr("publishing.leases.keeper", fresh)
    monkeypatch.setattr("publishing.delivery.keeper", fresh)
    return fresh


def _claimed(count: int = 1, *, worker: str = WORKER) -> list[PostTarget]:
    account = connected_account(WorkspaceFactory())
    for _ in range(count):
        due_target(account)
    return claim_due(worker=worker, limit=count)


@pytest.mark.django_db
def test_renewing_moves_the_held_leases_forward_in_the_database_and_in_memory(_fresh_keeper, emulator, settings):
    settings.PUBLISH_LEASE_SECONDS = 45
    targets = _claimed(2)
    first_lease = targets[0].lease_expires_at
    _fresh_keeper.hold(targets, worker=WORKER)
    before = timezone.now()

    assert _fresh_keeper.renew() == 2

    for target in targets:
        target.refresh_from_db()
        assert target.lease_expires_at >= before + timedelta(seconds=45) > first_lease - timedelta(seconds=1)
        assert _fresh_keeper.lease_of(target.pk) == target.lease_expires_at


@pytest.mark.django_db
def test_a_target_taken_back_or_finished_is_not_renewed_and_is_forgotten(_fresh_keeper, emulator):
    taken, finished, kept = _claimed(3)
    _fresh_keeper.hold([taken, finished, kept], worker=WORKER)
    # The sweep took one back after its lease ran out; another left `publishing` and its lease is gone.
    expired = timezone.now() - timedelta(seconds=1)
    PostTarget.objects.filter(pk=taken.pk).update(lease_expires_at=expired)
    taken.lease_expires_at = expired
    _fresh_keeper.hold([taken], worker=WORKER)
    assert delivery.recover_expired_lease(target_id=taken.pk, now=timezone.now())
    PostTarget.objects.filter(pk=finished.pk).update(status=TS.FAILED, claimed_by="", lease_expires_at=None)

    assert _fresh_keeper.renew() == 1

    taken.refresh_from_db()
    finished.refresh_from_db()
    assert taken.status == TS.UNCONFIRMED and taken.lease_expires_at is None
    assert finished.lease_expires_at is None
    # The taken one is forgotten at once (its lease is over); the finished one when its batch lets go.
    assert set(_fresh_keeper.held()) == {finished.pk, kept.pk}
    _fresh_keeper.release([finished], worker=WORKER)
    assert set(_fresh_keeper.held()) == {kept.pk}


@pytest.mark.django_db
def test_renewing_leaves_another_drains_claim_alone(_fresh_keeper, emulator):
    (target,) = _claimed(1, worker="other-host/task-9")
    lease = target.lease_expires_at
    _fresh_keeper.hold([target], worker=WORKER)  # held under a name that is not the claimant's

    assert _fresh_keeper.renew() == 0

    target.refresh_from_db()
    assert target.lease_expires_at == lease


@pytest.mark.django_db
def test_a_batch_holds_its_targets_while_it_sends_and_lets_go_after_even_after_a_bug(
    _fresh_keeper, emulator, monkeypatch
):
    targets = _claimed(2)
    seen: list[set[int]] = []
    original = delivery._send

    def send(target, **kwargs):
        seen.append(set(_fresh_keeper.held()))
        if target.pk == targets[0].pk:
            raise RuntimeError("a bug with one target")
        return original(target, **kwargs)

    monkeypatch.setattr(delivery, "_send", send)

    outcomes = deliver_claimed(targets, worker=WORKER)

    assert seen == [{t.pk for t in targets}] * 2
    assert outcomes == {targets[0].pk: Outcome.ERROR, targets[1].pk: Outcome.PUBLISHED}
    # The one left `publishing` by the bug keeps its claim lease and is not renewed: the sweep will recover it.
    assert _fresh_keeper.held() == {}
    assert _fresh_keeper.renew() == 0


@pytest.mark.django_db
def test_a_renewed_lease_lets_a_send_start_without_another_write(_fresh_keeper, emulator, settings):
    settings.PUBLISH_LEASE_SECONDS = 45
    settings.PUBLISH_LEASE_MARGIN_SECONDS = 30
    (target,) = _claimed(1)
    # The claim's lease is nearly spent, but the keeper renewed it meanwhile.
    PostTarget.objects.filter(pk=target.pk).update(lease_expires_at=timezone.now() + timedelta(seconds=10))
    target.lease_expires_at = timezone.now() + timedelta(seconds=10)
    _fresh_keeper.hold([target], worker=WORKER)
    _fresh_keeper.renew()

    assert delivery._start_sending(target, worker=WORKER, handle=target.publish_handle)
    assert target.lease_expires_at < _fresh_keeper.lease_of(target.pk)  # no write was needed


def test_the_lease_settings_are_checked(settings):
    assert check_lease_settings() == []
    settings.PUBLISH_LEASE_MARGIN_SECONDS = 44
    (error,) = check_lease_settings()
    assert error.id == "publishing.E001"
    assert "must be positive and below PUBLISH_LEASE_SECONDS (45)" in error.msg


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_live_worker_keeps_a_target_through_a_publish_call_longer_than_the_lease(_fresh_keeper, emulator, settings):
    """The platform answers after 4 s; the lease is 2 s. The sweep runs all along and never takes the target."""
    settings.PUBLISH_LEASE_SECONDS = 2
    settings.PUBLISH_LEASE_RENEW_SECONDS = 0.3
    settings.PUBLISH_LEASE_MARGIN_SECONDS = 1
    settings.PLATFORM_TIMEOUT_SECONDS = 10
    account = connected_account(WorkspaceFactory())
    target = due_target(account)
    emulator.inject_fault("x", "slow", operation="publish", delay=4)
    _fresh_keeper.enable()
    outcome: list[str] = []

    def worker() -> None:
        try:
            claimed = claim_due(worker=WORKER, limit=1)
            outcome.append(deliver_claimed(claimed, worker=WORKER)[target.pk])
        finally:
            connection.close()

    thread = threading.Thread(target=worker)
    thread.start()
    swept = []
    while thread.is_alive():
        swept.append(sweep())
        thread.join(0.25)

    assert outcome == [Outcome.PUBLISHED]
    assert len(swept) >= 12 and not any(report.recovered for report in swept)
    target.refresh_from_db()
    assert target.status == TS.PUBLISHED
    assert statuses(target) == [(TS.SCHEDULED, TS.PUBLISHING), (TS.PUBLISHING, TS.PUBLISHED)]
    assert len(posts_made(emulator, account)) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_dead_workers_target_comes_back_one_lease_after_its_last_renewal(_fresh_keeper, emulator, settings):
    settings.PUBLISH_LEASE_SECONDS = 2
    (target,) = _claimed(1)
    _fresh_keeper.hold([target], worker=WORKER)
    _fresh_keeper.renew()
    last_renewal = _fresh_keeper.lease_of(target.pk) - timedelta(seconds=2)
    # The worker dies here: nothing renews the lease again.

    assert not sweep(now=last_renewal + timedelta(seconds=1.9)).recovered
    assert sweep(now=last_renewal + timedelta(seconds=2.1)).recovered == [target.pk]

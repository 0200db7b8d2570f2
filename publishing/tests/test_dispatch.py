"""The dispatcher: one trigger per due second, drains that claim and send in batches, bounded queries."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.models import Subscription
from content.models import Post
from publishing import delivery
from publishing.delivery import Outcome, deliver_claimed
from publishing.dispatch import drain, request_dispatch
from publishing.emulator.platforms.threads import ThreadsEmulator
from publishing.models import EmergencyStop, PostEvent, PostTarget
from publishing.tasks import dispatch_due_task, drain_due_task
from publishing.tests.factories import PostTargetFactory
from publishing.tests.test_delivery import _fresh_cache, connected_account, due_target, posts_made  # noqa: F401
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db

TS, PS = PostTarget.Status, Post.Status
WORKER = "test-host/drain-1"


def agency_workspace():
    """A workspace whose plan has no daily post limit (the free plan allows two posts a day)."""
    workspace = WorkspaceFactory()
    Subscription.objects.create(workspace=workspace, plan="agency")
    return workspace


@pytest.fixture
def triggers(monkeypatch):
    sent = mock.Mock()
    monkeypatch.setattr(dispatch_due_task, "apply_async", sent)
    return sent


@pytest.fixture
def drains(monkeypatch):
    sent = mock.Mock()
    monkeypatch.setattr(drain_due_task, "apply_async", sent)
    return sent


# --------------------------------------------------------------------------- the trigger


def test_a_trigger_is_sent_ahead_of_its_second_after_commit(settings, triggers, django_capture_on_commit_callbacks):
    settings.PUBLISH_PREPARE_SECONDS = 3
    now = timezone.now().replace(microsecond=0)
    at = now + timedelta(seconds=30, milliseconds=400)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert request_dispatch(at=at, now=now)
    triggers.assert_not_called()  # nothing before the transaction commits

    for callback in callbacks:
        callback()
    # Rounded up: at 30.0 s nothing would be due yet. Fired 3 s ahead: the drains prepare meanwhile.
    due = now + timedelta(seconds=31)
    triggers.assert_called_once_with(eta=due - timedelta(seconds=3), kwargs={"due": due.timestamp()})


def test_a_trigger_for_a_second_closer_than_the_lead_fires_at_once(
    settings, triggers, django_capture_on_commit_callbacks
):
    settings.PUBLISH_PREPARE_SECONDS = 3
    now = timezone.now().replace(microsecond=0)
    with django_capture_on_commit_callbacks(execute=True):
        assert request_dispatch(at=now + timedelta(seconds=1), now=now)
    triggers.assert_called_once_with(eta=None, kwargs={"due": (now + timedelta(seconds=1)).timestamp()})


def test_one_trigger_per_second(settings, triggers, django_capture_on_commit_callbacks):
    settings.PUBLISH_PREPARE_SECONDS = 0
    now = timezone.now().replace(microsecond=0)
    with django_capture_on_commit_callbacks(execute=True):
        asked = [request_dispatch(at=now + timedelta(seconds=10), now=now) for _ in range(50)]
        asked.append(request_dispatch(at=now + timedelta(seconds=11), now=now))

    assert asked == [True] + [False] * 49 + [True]
    assert [call.kwargs["eta"] for call in triggers.call_args_list] == [
        now + timedelta(seconds=10),
        now + timedelta(seconds=11),
    ]


def test_a_time_beyond_the_horizon_is_left_to_the_sweep(settings, triggers, django_capture_on_commit_callbacks):
    settings.PUBLISH_DISPATCH_HORIZON_SECONDS = 300
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        assert not request_dispatch(at=now + timedelta(hours=2), now=now)
    triggers.assert_not_called()


def test_a_past_time_is_dispatched_now(triggers, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert request_dispatch(at=timezone.now() - timedelta(minutes=1))
    triggers.assert_called_once_with(eta=None, kwargs={})


def test_a_broker_outage_does_not_undo_the_schedule(monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(dispatch_due_task, "apply_async", mock.Mock(side_effect=ConnectionError("broker down")))
    with django_capture_on_commit_callbacks(execute=True):
        assert request_dispatch(at=None)  # robust on-commit: logged, not raised


def test_the_trigger_fans_out_drains_for_what_is_due(settings, emulator, drains, django_capture_on_commit_callbacks):
    settings.PUBLISH_BATCH_SIZE = 3
    settings.PUBLISH_MAX_DRAINS = 3
    account = connected_account(agency_workspace())
    for _ in range(7):
        due_target(account)

    with django_capture_on_commit_callbacks(execute=True):
        assert dispatch_due_task() == 7  # due targets seen
    assert drains.call_args_list == [mock.call(kwargs={"batch": 3})] * 3  # ceil(7 / 3) drains of 3


def test_a_small_burst_gets_a_drain_per_target(settings, emulator, drains, django_capture_on_commit_callbacks):
    settings.PUBLISH_BATCH_SIZE = 50
    settings.PUBLISH_MAX_DRAINS = 32
    account = connected_account(agency_workspace())
    for _ in range(5):
        due_target(account)

    with django_capture_on_commit_callbacks(execute=True):
        dispatch_due_task()

    # A slow platform then holds back only its own post.
    assert drains.call_args_list == [mock.call(kwargs={"batch": 1})] * 5


# --------------------------------------------------------------------------- drains


def test_a_drain_publishes_everything_due_in_batches(settings, emulator):
    settings.PUBLISH_BATCH_SIZE = 4
    workspace = agency_workspace()
    x = connected_account(workspace, "x", "drain_x")
    bluesky = connected_account(workspace, "bluesky", "drainsky")
    targets = [due_target(x, text=f"Drain post {n}") for n in range(6)]
    targets += [due_target(bluesky, text=f"Drain skeet {n}") for n in range(5)]
    not_yet = due_target(x, ago=timedelta(seconds=-60))

    outcomes = drain(worker=WORKER)

    assert outcomes == {Outcome.PUBLISHED: 11}
    for target in targets:
        target.refresh_from_db()
        target.post.refresh_from_db()
        assert (target.status, target.claimed_by, target.lease_expires_at) == (TS.PUBLISHED, "", None)
        assert target.remote_id and target.published_at
        assert target.post.status == PS.PUBLISHED
        assert list(target.events.values_list("from_status", "to_status")) == [
            (TS.SCHEDULED, TS.PUBLISHING),
            (TS.PUBLISHING, TS.PUBLISHED),
        ]
        # One roll-up per move of the post: scheduled → publishing → published.
        post_moves = PostEvent.objects.filter(post=target.post, target=None).values_list("from_status", "to_status")
        assert list(post_moves.order_by("pk")) == [(PS.SCHEDULED, PS.PUBLISHING), (PS.PUBLISHING, PS.PUBLISHED)]
    assert len(posts_made(emulator, x)) == 6
    assert len(posts_made(emulator, bluesky)) == 5
    not_yet.refresh_from_db()
    assert not_yet.status == TS.SCHEDULED


def test_two_drains_never_send_a_target_twice(settings, emulator):
    settings.PUBLISH_BATCH_SIZE = 3
    account = connected_account(agency_workspace())
    for n in range(8):
        due_target(account, text=f"Once only {n}")

    first, second = drain(worker="w/1"), drain(worker="w/2")

    assert first[Outcome.PUBLISHED] + second[Outcome.PUBLISHED] == 8
    assert len(posts_made(emulator, account)) == 8


def _queries_to_drain(n: int, account, settings) -> int:
    settings.PUBLISH_BATCH_SIZE = n
    for i in range(n):
        due_target(account, text=f"Counted {n}-{i}")
    with CaptureQueriesContext(connection) as queries:
        assert drain(worker=WORKER) == {Outcome.PUBLISHED: n}
    return len(queries)


def test_a_batch_costs_a_constant_number_of_queries(settings, emulator):
    """The per-target database work is gone from the hot path: 20 targets cost what 2 do."""
    settings.PUBLISH_STOP_RECHECK_MS = 60_000  # one read of the stops per drain, however long the batch takes
    account = connected_account(agency_workspace())

    two = _queries_to_drain(2, account, settings)
    twenty = _queries_to_drain(20, account, settings)

    assert twenty == two
    # Per drain: the stops, a claim (lock, UPDATE, events, load, roll-up), the plan, the finish
    # (lock, UPDATE, events, roll-up), and the claim that finds nothing left.
    assert twenty <= 30


def test_a_stop_halts_a_batch_between_two_targets(settings, emulator, monkeypatch):
    settings.PUBLISH_STOP_RECHECK_MS = 0  # re-read the stops before every target
    workspace = agency_workspace()
    account = connected_account(workspace)
    targets = [due_target(account, text=f"Stop test {n}") for n in range(3)]
    claimed = delivery.claim_due(worker=WORKER, limit=10)
    original = delivery._send

    def send_then_stop(target, **kwargs):
        outcome = original(target, **kwargs)
        EmergencyStop.objects.update_or_create(workspace=workspace, defaults={"is_active": True})
        return outcome

    monkeypatch.setattr(delivery, "_send", send_then_stop)

    outcomes = deliver_claimed(claimed, worker=WORKER)

    assert [outcomes[t.pk] for t in targets] == [Outcome.PUBLISHED, Outcome.HELD, Outcome.HELD]
    assert len(posts_made(emulator, account)) == 1
    for target in targets[1:]:
        target.refresh_from_db()
        assert (target.status, target.attempts) == (TS.SCHEDULED, 0)


def test_a_bug_with_one_target_does_not_stop_the_others(emulator, monkeypatch, caplog):
    account = connected_account(agency_workspace())
    broken, fine = due_target(account, text="Broken one"), due_target(account, text="Fine one")
    claimed = delivery.claim_due(worker=WORKER, limit=10)
    original = delivery._send

    def send(target, **kwargs):
        if target.pk == broken.pk:
            raise RuntimeError("a bug")
        return original(target, **kwargs)

    monkeypatch.setattr(delivery, "_send", send)

    outcomes = deliver_claimed(claimed, worker=WORKER)

    assert outcomes == {broken.pk: Outcome.ERROR, fine.pk: Outcome.PUBLISHED}
    broken.refresh_from_db()
    assert broken.status == TS.PUBLISHING  # its lease runs out and the sweep reconciles it
    assert "delivery failed unexpectedly" in caplog.text


def test_a_drain_hands_over_when_its_time_is_up(settings, emulator, drains, django_capture_on_commit_callbacks):
    settings.PUBLISH_BATCH_SIZE = 2
    account = connected_account(agency_workspace())
    for n in range(5):
        due_target(account, text=f"Hand over {n}")

    with django_capture_on_commit_callbacks(execute=True):
        outcomes = drain(worker=WORKER, seconds=0)

    assert outcomes == {Outcome.PUBLISHED: 2}
    drains.assert_called_once_with(kwargs={"batch": 2})
    assert PostTarget.objects.filter(status=TS.SCHEDULED).count() == 3


def test_a_global_stop_stops_drains(emulator):
    account = connected_account(agency_workspace())
    target = due_target(account)
    EmergencyStop.objects.create(workspace=None, is_active=True)

    assert drain(worker=WORKER) == {}
    target.refresh_from_db()
    assert target.status == TS.SCHEDULED


def test_a_multi_target_post_rolls_up_once_both_are_out(settings, emulator):
    workspace = agency_workspace()
    x, bluesky = connected_account(workspace, "x", "multi_x"), connected_account(workspace, "bluesky", "multisky")
    first = due_target(x, text="Both places")
    PostTargetFactory(
        post=first.post,
        workspace=workspace,
        social_account=bluesky,
        status=TS.SCHEDULED,
        scheduled_at=first.scheduled_at,
    )
    settings.PUBLISH_BATCH_SIZE = 1  # the two targets in two batches

    drain(worker=WORKER)

    first.post.refresh_from_db()
    assert first.post.status == PS.PUBLISHED


def test_threads_containers_are_all_created_before_the_first_publish(settings, emulator):
    """The platform processes the batch's containers while the batch goes out, instead of one wait per post."""
    settings.PUBLISH_BATCH_SIZE = 10
    workspace = agency_workspace()
    account = connected_account(workspace, "threads", "containers")
    targets = [due_target(account, text=f"Container {n}") for n in range(3)]

    assert drain(worker=WORKER) == {Outcome.PUBLISHED: 3}

    calls = [
        entry["path"].rsplit("/", 1)[-1]
        for entry in emulator.requests(platform="threads", method="POST")
        if entry["path"].endswith(("/threads", "/threads_publish"))
    ]
    assert calls == ["threads"] * 3 + ["threads_publish"] * 3
    for target in targets:
        target.refresh_from_db()
        assert target.status == TS.PUBLISHED
        assert target.publish_handle  # the container, saved before anything was published


def test_the_worker_warm_up_makes_no_network_call(monkeypatch, caplog):
    import socket

    def refuse(self, address):
        raise AssertionError(f"warm_up connected to {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)

    delivery.warm_up()

    assert "failed" not in caplog.text


# --------------------------------------------------------------------------- ahead of the due second


def test_a_trigger_ahead_of_its_second_fans_out_larger_batches_for_it(
    settings, emulator, drains, django_capture_on_commit_callbacks
):
    settings.PUBLISH_BATCH_SIZE = 2
    settings.PUBLISH_MAX_DRAINS = 2
    account = connected_account(agency_workspace())
    due = timezone.now().replace(microsecond=0) + timedelta(seconds=3)
    for _ in range(7):
        due_target(account, at=due)
    due_target(account, ago=timedelta(seconds=-60))  # later: not this trigger's

    with django_capture_on_commit_callbacks(execute=True):
        assert dispatch_due_task(due=due.timestamp()) == 7

    # Ahead of time the whole burst is claimed at once: batches up to 4 x 2, for that second.
    assert drains.call_args_list == [mock.call(kwargs={"batch": 4, "due": due.timestamp()})] * 2


def test_a_drain_ahead_of_the_second_claims_at_once_and_sends_each_target_at_its_time(settings, emulator):
    settings.PUBLISH_STOP_RECHECK_MS = 60_000
    account = connected_account(agency_workspace())
    started = timezone.now()
    due = started + timedelta(milliseconds=1500)
    targets = [due_target(account, at=due, text=f"On the dot {n}") for n in range(3)]

    outcomes = drain(worker=WORKER, due=due)

    assert outcomes == {Outcome.PUBLISHED: 3}
    for target in targets:
        target.refresh_from_db()
        claim = target.events.get(to_status=TS.PUBLISHING)
        assert claim.created_at < target.scheduled_at  # claimed (and checked, and prepared) ahead
        assert claim.reason.startswith(f"Sending at {due:%H:%M:%S} UTC")
        assert target.status == TS.PUBLISHED
        assert target.published_at >= target.scheduled_at  # never early
    made = [datetime.fromisoformat(entry["at"]) for entry in posts_made(emulator, account)]
    assert len(made) == 3 and min(made) >= due


def _switch_on_the_stop(target):
    EmergencyStop.objects.update_or_create(workspace=target.workspace, defaults={"is_active": True})


def _take_the_post_back(target):
    Post.objects.filter(pk=target.post_id).update(status=PS.PENDING_REVIEW)


@pytest.mark.parametrize(
    ("meanwhile", "outcome", "status"),
    [
        (_switch_on_the_stop, Outcome.HELD, TS.SCHEDULED),  # sent once the stop is lifted
        (_take_the_post_back, Outcome.PENDING, TS.PENDING),  # waits until it is approved again
    ],
    ids=["emergency-stop", "post-back-in-review"],
)
def test_what_changes_while_a_batch_waits_for_its_time_is_seen_before_sending(
    settings, emulator, monkeypatch, meanwhile, outcome, status
):
    account = connected_account(agency_workspace())
    due = timezone.now() + timedelta(seconds=1)
    target = due_target(account, at=due)
    real_sleep = time.sleep

    def change_while_waiting(seconds):
        meanwhile(target)
        real_sleep(seconds)

    monkeypatch.setattr(delivery.time, "sleep", change_while_waiting)

    assert drain(worker=WORKER, due=due) == {outcome: 1}
    assert posts_made(emulator, account) == []
    target.refresh_from_db()
    assert (target.status, target.attempts) == (status, 0)


def test_threads_containers_claimed_ahead_are_checked_before_the_due_second(settings, emulator, monkeypatch):
    """In the due second a container that was FINISHED ahead of it is published without asking again."""
    settings.PUBLISH_STOP_RECHECK_MS = 60_000
    monkeypatch.setattr(ThreadsEmulator, "processing_seconds", 0.0)  # processed by the time it is looked at
    account = connected_account(agency_workspace(), "threads", "ahead")
    due = timezone.now() + timedelta(milliseconds=1500)
    targets = [due_target(account, at=due, text=f"Ahead {n}") for n in range(2)]

    assert drain(worker=WORKER, due=due) == {Outcome.PUBLISHED: 2}

    log = emulator.requests(platform="threads")
    status_checks = [e for e in log if e["method"] == "GET" and "status" in e["query"].get("fields", "")]
    publishes = [e for e in log if e["method"] == "POST" and e["path"].endswith("/threads_publish")]
    assert len(status_checks) == 2 and all(datetime.fromisoformat(e["at"]) < due for e in status_checks)
    assert len(publishes) == 2 and all(datetime.fromisoformat(e["at"]) >= due for e in publishes)
    for target in targets:
        target.refresh_from_db()
        assert target.status == TS.PUBLISHED and target.remote_url

"""Each error class at send time, against the emulator with injected faults.

Transient and rate-limited errors retry with backoff, then fail; an expired token
is refreshed once; a refused refresh flags the account and tells its owner once;
duplicates, invalid content; a lost response is reconciled to exactly one post;
expired leases are recovered; missed posts, the emergency stop and the plan's
daily limit are checked at send time.
"""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import Membership
from billing.models import Subscription
from content.models import Post
from publishing import delivery, dispatch
from publishing.delivery import Outcome, backoff_delay, claim_target, deliver_target, reconcile_target
from publishing.models import EmergencyStop, PostTarget, SocialAccount
from publishing.sweep import sweep
from publishing.tasks import reconcile_target_task
from publishing.tests.test_delivery import (
    WORKER,
    _fresh_cache,  # noqa: F401 (autouse fixture)
    connected_account,
    due_target,
    posts_made,
    statuses,
)
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

TS, PS = PostTarget.Status, Post.Status


@pytest.fixture
def sent(monkeypatch):
    """What the code asked for: dispatches ("deliver", by due time) and reconciliation messages (on commit)."""
    calls = {"deliver": mock.Mock(), "reconcile": mock.Mock()}
    monkeypatch.setattr(dispatch, "request_dispatch", calls["deliver"])
    monkeypatch.setattr(reconcile_target_task, "apply_async", calls["reconcile"])
    return calls


def make_due_again(target: PostTarget) -> None:
    PostTarget.objects.filter(pk=target.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


class WorkerKilled(BaseException):
    """Stands in for a worker process dying (SIGKILL, OOM): nothing in delivery catches it."""


# --------------------------------------------------------------------------- backoff


@pytest.mark.parametrize(
    ("attempts", "retry_after", "expected"),
    [(1, None, 10), (2, None, 20), (3, None, 40), (8, None, 100), (1, 75, 75), (3, 5, 40)],
)
def test_backoff_doubles_up_to_the_cap_and_never_undercuts_retry_after(
    settings, monkeypatch, attempts, retry_after, expected
):
    settings.PUBLISH_BACKOFF_BASE_SECONDS = 10
    settings.PUBLISH_BACKOFF_MAX_SECONDS = 100
    monkeypatch.setattr(delivery.random, "uniform", lambda low, high: high)  # the top of the jitter range

    assert backoff_delay(attempts, retry_after=retry_after) == expected


def test_backoff_jitter_is_full_but_never_zero(monkeypatch):
    monkeypatch.setattr(delivery.random, "uniform", lambda low, high: low)

    assert backoff_delay(4) == 1.0


# --------------------------------------------------------------------------- transient and rate-limited


def test_transient_errors_retry_with_backoff_then_fail(emulator, settings, sent, django_capture_on_commit_callbacks):
    settings.PUBLISH_MAX_ATTEMPTS = 3
    settings.PUBLISH_BACKOFF_BASE_SECONDS = 10
    account = connected_account(WorkspaceFactory())
    target = due_target(account)
    emulator.inject_fault("x", "server_error", operation="publish", times=3)

    for attempt in (1, 2):
        before = timezone.now()
        with django_capture_on_commit_callbacks(execute=True):
            outcome = deliver_target(target_id=target.pk, worker=WORKER)
        assert outcome == Outcome.RETRY
        target.refresh_from_db()
        assert (target.status, target.attempts, target.error_kind) == (TS.SCHEDULED, attempt, "transient")
        ceiling = 10 * 2 ** (attempt - 1)
        assert before + timedelta(seconds=1) <= target.next_attempt_at <= timezone.now() + timedelta(seconds=ceiling)
        sent["deliver"].assert_called_with(at=target.next_attempt_at)
        # Not before its time.
        assert deliver_target(target_id=target.pk, worker=WORKER) == Outcome.NOT_CLAIMED
        make_due_again(target)

    with django_capture_on_commit_callbacks(execute=True):
        outcome = deliver_target(target_id=target.pk, worker=WORKER)

    assert outcome == Outcome.FAILED
    target.refresh_from_db()
    assert (target.status, target.attempts, target.error_kind, target.next_attempt_at) == (
        TS.FAILED,
        3,
        "transient",
        None,
    )
    assert "We tried 3 times and stopped." in target.last_error
    assert sent["deliver"].call_count == 2  # no retry after the last attempt
    assert len(posts_made(emulator, account)) == 3
    target.post.refresh_from_db()
    assert target.post.status == PS.FAILED


def test_a_rate_limit_waits_until_the_platform_says(emulator, sent, django_capture_on_commit_callbacks):
    account = connected_account(WorkspaceFactory())
    target = due_target(account)
    emulator.inject_fault("x", "rate_limit", operation="publish", retry_after=600)
    before = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        outcome = deliver_target(target_id=target.pk, worker=WORKER)

    assert outcome == Outcome.RETRY
    target.refresh_from_db()
    assert (target.status, target.attempts, target.error_kind) == (TS.SCHEDULED, 1, "rate_limited")
    # X's reset header is in whole Unix seconds.
    assert before + timedelta(seconds=598) <= target.next_attempt_at <= timezone.now() + timedelta(seconds=601)
    sent["deliver"].assert_called_once_with(at=target.next_attempt_at)


def test_no_retry_message_is_sent_for_a_time_past_the_missed_cutoff(
    emulator, settings, sent, django_capture_on_commit_callbacks
):
    settings.PUBLISH_MISSED_CUTOFF_SECONDS = 300
    account = connected_account(WorkspaceFactory())
    target = due_target(account)
    emulator.inject_fault("x", "rate_limit", operation="publish", retry_after=3600)

    with django_capture_on_commit_callbacks(execute=True):
        assert deliver_target(target_id=target.pk, worker=WORKER) == Outcome.RETRY

    target.refresh_from_db()
    assert target.status == TS.SCHEDULED
    sent["deliver"].assert_not_called()  # the sweep marks it missed at the cutoff


# --------------------------------------------------------------------------- tokens


def test_an_expired_token_is_refreshed_once_and_the_post_goes_out(emulator):
    account = connected_account(WorkspaceFactory())
    old_token = account.access_token
    target = due_target(account)
    emulator.inject_fault("x", "expired_token", operation="publish")

    assert deliver_target(target_id=target.pk, worker=WORKER) == Outcome.PUBLISHED

    account.refresh_from_db()
    assert account.access_token and account.access_token != old_token
    assert account.status == SocialAccount.Status.ACTIVE
    target.refresh_from_db()
    assert (target.status, target.attempts) == (TS.PUBLISHED, 0)
    assert [entry["status"] for entry in posts_made(emulator, account)] == [401, 201]


def test_a_token_refused_again_after_the_refresh_needs_reconnecting(emulator):
    account = connected_account(WorkspaceFactory())
    target = due_target(account)
    emulator.inject_fault("x", "expired_token", operation="publish", times=2)

    assert deliver_target(target_id=target.pk, worker=WORKER) == Outcome.FAILED

    account.refresh_from_db()
    target.refresh_from_db()
    assert account.status == SocialAccount.Status.RECONNECT_NEEDED
    assert (target.status, target.error_kind) == (TS.FAILED, "auth_expired")
    assert len(posts_made(emulator, account)) == 2  # once, then once after the refresh: never a third time


def test_a_refused_refresh_flags_the_account_fails_its_due_targets_and_emails_the_owner_once(
    emulator, django_capture_on_commit_callbacks
):
    workspace = WorkspaceFactory(name="Acme")
    owner = MembershipFactory(workspace=workspace, role=Membership.Role.OWNER, user=UserFactory(email="o@acme.test"))
    MembershipFactory(workspace=workspace, role=Membership.Role.ADMIN, user=UserFactory(email="a@acme.test"))
    account = connected_account(workspace)
    tokens = (account.access_token, account.refresh_token)
    target = due_target(account)
    other_due = due_target(account, ago=timedelta(minutes=3))
    retrying = due_target(account, ago=timedelta(minutes=1), next_attempt_at=timezone.now() + timedelta(minutes=5))
    later = due_target(account, ago=timedelta(hours=-20))
    other_account = connected_account(workspace, username="someone_else")
    unrelated = due_target(other_account)
    emulator.inject_fault("x", "expired_token", operation="publish")
    emulator.inject_fault("x", "refresh_fails", operation="refresh")

    with django_capture_on_commit_callbacks(execute=True):
        outcome = deliver_target(target_id=target.pk, worker=WORKER)

    assert outcome == Outcome.FAILED
    account.refresh_from_db()
    assert account.status == SocialAccount.Status.RECONNECT_NEEDED
    assert "Value passed for the token was invalid" in account.last_error
    reason = f"The X account {account.handle} needs reconnecting"
    for failed in (target, other_due, retrying):
        failed.refresh_from_db()
        assert (failed.status, failed.error_kind) == (TS.FAILED, "auth_expired")
        assert failed.last_error.startswith(reason)
    for waiting in (later, unrelated):
        waiting.refresh_from_db()
        assert waiting.status == TS.SCHEDULED
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == [owner.user.email]
    assert account.handle in email.subject and "\n" not in email.subject
    assert f"/w/{workspace.slug}/connections/" in email.body
    assert "3 posts that were due for this account could not go out" in email.body
    assert not any(token and token in email.body + email.subject for token in tokens)

    # The next target of that account fails at once, without a second email.
    again = due_target(account)
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver_target(target_id=again.pk, worker=WORKER) == Outcome.FAILED
    assert len(mail.outbox) == 1
    assert len(posts_made(emulator, account)) == 1


def test_bluesky_opens_a_new_session_with_the_app_password_when_the_refresh_is_refused(emulator):
    account = connected_account(WorkspaceFactory(), "bluesky")
    old_token = account.access_token
    target = due_target(account)
    emulator.inject_fault("bluesky", "expired_token", operation="publish")
    emulator.inject_fault("bluesky", "refresh_fails", operation="refresh")

    assert deliver_target(target_id=target.pk, worker=WORKER) == Outcome.PUBLISHED

    account.refresh_from_db()
    assert account.status == SocialAccount.Status.ACTIVE
    assert account.access_token != old_token
    assert [entry["status"] for entry in posts_made(emulator, account)][-1] == 200


# --------------------------------------------------------------------------- refusals


def test_a_duplicate_of_our_own_post_counts_as_published(emulator):
    account = connected_account(WorkspaceFactory())
    target = due_target(account)
    # The post went out earlier (say, a run whose answer we never stored); the platform now refuses a repeat.
    provider = delivery.provider_for_account(account)
    earlier = provider.publish(delivery.credentials_for(account), delivery._variant(target))
    emulator.inject_fault("x", "duplicate", operation="publish")

    assert deliver_target(target_id=target.pk, worker=WORKER) == Outcome.PUBLISHED

    target.refresh_from_db()
    assert (target.status, target.remote_id) == (TS.PUBLISHED, earlier.remote_id)


def test_a_duplicate_of_something_else_fails_with_a_plain_message(emulator):
    account = connected_account(WorkspaceFactory())
    target = due_target(account)
    emulator.inject_fault("x", "duplicate", operation="publish")

    assert deliver_target(target_id=target.pk, worker=WORKER) == Outcome.FAILED

    target.refresh_from_db()
    assert (target.status, target.error_kind) == (TS.FAILED, "duplicate")
    assert target.last_error.startswith("X refused the post as a duplicate of one already on the account")


def test_invalid_content_fails_with_the_platforms_message_and_no_retry(
    emulator, sent, django_capture_on_commit_callbacks
):
    account = connected_account(WorkspaceFactory())
    target = due_target(account)
    emulator.inject_fault("x", "invalid", operation="publish")

    with django_capture_on_commit_callbacks(execute=True):
        assert deliver_target(target_id=target.pk, worker=WORKER) == Outcome.FAILED

    target.refresh_from_db()
    assert (target.status, target.error_kind, target.attempts) == (TS.FAILED, "invalid_content", 0)
    assert "Your Tweet text is too long." in target.last_error
    sent["deliver"].assert_not_called()


# --------------------------------------------------------------------------- lost responses


@pytest.mark.parametrize("platform", ["x", "bluesky"])
def test_a_lost_response_is_reconciled_to_exactly_one_post(emulator, platform):
    account = connected_account(WorkspaceFactory(), platform)
    target = due_target(account)
    emulator.inject_fault(platform, "lost_response", operation="publish")

    assert deliver_target(target_id=target.pk, worker=WORKER) == Outcome.PUBLISHED

    target.refresh_from_db()
    assert target.status == TS.PUBLISHED and target.remote_id
    assert statuses(target) == [
        (TS.SCHEDULED, TS.PUBLISHING),
        (TS.PUBLISHING, TS.UNCONFIRMED),
        (TS.UNCONFIRMED, TS.PUBLISHED),
    ]
    assert len(posts_made(emulator, account)) == 1


def test_an_unconfirmed_post_is_checked_again_and_then_left_to_the_user(
    emulator, settings, sent, django_capture_on_commit_callbacks
):
    settings.PUBLISH_RECONCILE_MAX_CHECKS = 2
    account = connected_account(WorkspaceFactory())
    target = due_target(account)
    emulator.inject_fault("x", "lost_response", operation="publish")
    emulator.inject_fault("x", "server_error", operation="lookup", times=2)

    assert deliver_target(target_id=target.pk, worker=WORKER) == Outcome.UNCONFIRMED

    target.refresh_from_db()
    assert (target.status, target.attempts) == (TS.UNCONFIRMED, 1)
    assert target.next_attempt_at > timezone.now()
    make_due_again(target)
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep().reconciling == [target.pk]
    sent["reconcile"].assert_called_once_with(args=[target.pk])

    assert reconcile_target(target_id=target.pk) == Outcome.GAVE_UP

    target.refresh_from_db()
    assert (target.status, target.next_attempt_at) == (TS.UNCONFIRMED, None)
    assert target.last_error.startswith("We could not confirm whether this post went out on X")
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep().reconciling == []
    assert len(posts_made(emulator, account)) == 1


# --------------------------------------------------------------------------- leases


def test_a_worker_killed_after_sending_leaves_a_target_the_sweep_reconciles(
    emulator, sent, django_capture_on_commit_callbacks
):
    account = connected_account(WorkspaceFactory())
    target = due_target(account)
    provider_class = type(delivery.provider_for_account(account))
    original = provider_class.publish

    def publish_then_die(self, credentials, variant, *, handle=""):
        original(self, credentials, variant, handle=handle)
        raise WorkerKilled

    with mock.patch.object(provider_class, "publish", publish_then_die), pytest.raises(WorkerKilled):
        deliver_target(target_id=target.pk, worker=WORKER)
    target.refresh_from_db()
    assert target.status == TS.PUBLISHING
    # A live lease is left alone.
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep().recovered == []

    PostTarget.objects.filter(pk=target.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        report = sweep()

    assert (report.recovered, report.reconciling) == ([target.pk], [target.pk])
    target.refresh_from_db()
    assert (target.status, target.attempts, target.error_kind, target.claimed_by) == (
        TS.UNCONFIRMED,
        1,
        "lease_expired",
        "",
    )
    sent["reconcile"].assert_called_once_with(args=[target.pk])

    assert reconcile_target_task(target.pk) == Outcome.PUBLISHED

    target.refresh_from_db()
    assert target.status == TS.PUBLISHED and target.remote_id
    assert len(posts_made(emulator, account)) == 1


def test_a_bluesky_worker_killed_before_sending_is_resent_with_the_same_record_key(
    emulator, sent, django_capture_on_commit_callbacks
):
    account = connected_account(WorkspaceFactory(), "bluesky")
    target = due_target(account)
    provider_class = type(delivery.provider_for_account(account))

    def die(self, credentials, variant, *, handle=""):
        raise WorkerKilled

    with mock.patch.object(provider_class, "publish", die), pytest.raises(WorkerKilled):
        deliver_target(target_id=target.pk, worker=WORKER)
    target.refresh_from_db()
    handle = target.publish_handle
    assert handle
    PostTarget.objects.filter(pk=target.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        sweep()

    # The record key is exact: "not there" is certain at once, and the resend reuses the key.
    with django_capture_on_commit_callbacks(execute=True):
        assert reconcile_target(target_id=target.pk) == Outcome.RESCHEDULED
    target.refresh_from_db()
    assert (target.status, target.publish_handle) == (TS.SCHEDULED, handle)
    sent["deliver"].assert_called_with(at=None)

    assert deliver_target(target_id=target.pk, worker="worker-2/2") == Outcome.PUBLISHED

    target.refresh_from_db()
    assert target.remote_id.endswith(f"/{handle}")
    assert len(posts_made(emulator, account)) == 1


def test_an_x_target_whose_worker_died_before_sending_waits_before_it_is_resent(
    emulator, settings, sent, django_capture_on_commit_callbacks
):
    settings.PUBLISH_RECONCILE_SETTLE_SECONDS = 30
    account = connected_account(WorkspaceFactory())
    target = due_target(account)
    assert claim_target(target_id=target.pk, worker="dead-worker/1") is not None
    PostTarget.objects.filter(pk=target.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        sweep()

    # X is searched among recent posts, which may lag: "not found" right away is not proof yet.
    assert reconcile_target(target_id=target.pk) == Outcome.UNCONFIRMED
    target.refresh_from_db()
    assert target.status == TS.UNCONFIRMED
    assert target.next_attempt_at > timezone.now() + timedelta(seconds=25)

    with django_capture_on_commit_callbacks(execute=True):
        outcome = reconcile_target(target_id=target.pk, now=timezone.now() + timedelta(seconds=31))
    assert outcome == Outcome.RESCHEDULED
    PostTarget.objects.filter(pk=target.pk).update(next_attempt_at=None)

    assert deliver_target(target_id=target.pk, worker="worker-2/2") == Outcome.PUBLISHED
    assert len(posts_made(emulator, account)) == 1


# --------------------------------------------------------------------------- missed, stopped, over the plan


def test_a_target_later_than_the_cutoff_is_missed_not_sent(emulator, settings, django_capture_on_commit_callbacks):
    settings.PUBLISH_MISSED_CUTOFF_SECONDS = 600
    account = connected_account(WorkspaceFactory())
    late = due_target(account, ago=timedelta(minutes=11))
    swept = due_target(account, ago=timedelta(minutes=12))
    on_time = due_target(account, ago=timedelta(minutes=9))

    assert deliver_target(target_id=late.pk, worker=WORKER) == Outcome.MISSED
    with django_capture_on_commit_callbacks(execute=False):
        report = sweep()

    assert report.missed == [swept.pk]
    assert report.dispatched == [on_time.pk]
    for target in (late, swept):
        target.refresh_from_db()
        assert (target.status, target.error_kind) == (TS.MISSED, "missed")
        assert target.last_error.startswith("Not published: it was due at")
        assert "is more than 10 minutes late" in target.last_error
    assert posts_made(emulator, account) == []


def test_the_emergency_stop_keeps_targets_scheduled(emulator, settings, sent, django_capture_on_commit_callbacks):
    settings.PUBLISH_MISSED_CUTOFF_SECONDS = 600
    workspace = WorkspaceFactory()
    account = connected_account(workspace)
    target = due_target(account)
    late = due_target(account, ago=timedelta(minutes=20))
    EmergencyStop.objects.create(workspace=workspace, is_active=True, reason="Brand crisis: hold everything.")

    with django_capture_on_commit_callbacks(execute=True):
        report = sweep()
    assert deliver_target(target_id=target.pk, worker=WORKER) == Outcome.HELD

    assert (report.dispatched, report.missed) == ([], [])
    sent["deliver"].assert_not_called()
    for held in (target, late):
        held.refresh_from_db()
        assert held.status == TS.SCHEDULED
    assert statuses(target) == []
    assert posts_made(emulator, account) == []


def test_a_stop_that_comes_on_while_claiming_puts_the_target_back(emulator, monkeypatch):
    account = connected_account(WorkspaceFactory())
    target = due_target(account)
    # Not stopped when the worker looks before claiming; stopped by the time it sends.
    monkeypatch.setattr(delivery, "is_publishing_stopped", lambda workspace: "")
    monkeypatch.setattr(
        delivery, "active_stops", lambda: ("Publishing is paused for every workspace (emergency stop).", {})
    )
    before = timezone.now()

    assert deliver_target(target_id=target.pk, worker=WORKER) == Outcome.HELD

    target.refresh_from_db()
    assert (target.status, target.attempts, target.claimed_by) == (TS.SCHEDULED, 0, "")
    assert target.next_attempt_at >= before + timedelta(seconds=60)
    assert statuses(target) == [(TS.SCHEDULED, TS.PUBLISHING), (TS.PUBLISHING, TS.SCHEDULED)]
    assert posts_made(emulator, account) == []


def test_the_plans_posts_per_day_are_checked_at_send_time(emulator):
    workspace = WorkspaceFactory(timezone="Pacific/Auckland")
    Subscription.objects.create(workspace=workspace, plan="free")  # two posts a day
    account = connected_account(workspace)
    for _ in range(2):
        due_target(account, status=TS.PUBLISHED, published_at=timezone.now() - timedelta(minutes=1))
    yesterday = due_target(account, status=TS.PUBLISHED, published_at=timezone.now() - timedelta(days=1, hours=1))
    target = due_target(account)

    assert deliver_target(target_id=target.pk, worker=WORKER) == Outcome.FAILED

    target.refresh_from_db()
    assert (target.status, target.error_kind) == (TS.FAILED, "plan_limit")
    assert target.last_error == "Not published: The Free plan allows 2 posts per day; upgrade to add more."
    assert posts_made(emulator, account) == []
    assert yesterday.published_at < delivery._day_bounds(workspace, timezone.now())[0]


def test_a_target_that_reconciliation_fails_for_good_is_notified(
    emulator, settings, sent, django_capture_on_commit_callbacks
):
    from accounts.models import Notification

    settings.PUBLISH_RECONCILE_SETTLE_SECONDS = 30
    settings.PUBLISH_MAX_ATTEMPTS = 1
    workspace = WorkspaceFactory()
    owner = MembershipFactory(workspace=workspace, role="owner").user
    account = connected_account(workspace)
    target = due_target(account)
    assert claim_target(target_id=target.pk, worker="dead-worker/1") is not None
    PostTarget.objects.filter(pk=target.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        sweep()  # recovered: unconfirmed, one attempt counted

    with django_capture_on_commit_callbacks(execute=True):
        outcome = reconcile_target(target_id=target.pk, now=timezone.now() + timedelta(seconds=31))

    assert outcome == Outcome.FAILED
    notice = Notification.objects.get(user=owner, kind=Notification.Kind.PUBLISH_FAILED)
    assert "and we tried once; we stopped" in notice.body

"""Delivery: the claim, the happy path against the emulator, and the re-checks at send time.

The helpers at the top (`connected_account`, `due_target`, `posts_made`) are shared
with test_error_handling, test_sweep and test_claim_race.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from unittest import mock

import pytest
from django.core.cache import cache
from django.utils import timezone

from content.models import Post
from publishing import delivery, dispatch
from publishing.delivery import Outcome, claim_target, deliver_target
from publishing.models import PostEvent, PostTarget, SocialAccount
from publishing.tasks import deliver_target_task
from publishing.tests.factories import PostFactory, PostTargetFactory, SocialAccountFactory
from publishing.tests.test_provider_contract import connect
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db

TS, PS = PostTarget.Status, Post.Status
WORKER = "test-host/task-1"
# The path of the one request that creates a post, per platform (the emulator logs every request).
CREATE_PATHS = {"x": "/2/tweets", "bluesky": "/xrpc/com.atproto.repo.createRecord"}


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Rate budgets (without Redis) and the sweep's dispatch marks live in the cache.
    cache.clear()
    yield
    cache.clear()


def connected_account(workspace, platform: str = "x", username: str = "delivery_user") -> SocialAccount:
    """Connect a real account on the emulator (as the contract test does) and save it as a row."""
    _provider, credentials = connect(platform, username)
    handle = f"{username}.bsky.social" if platform == "bluesky" else username
    return SocialAccountFactory(
        workspace=workspace,
        platform=platform,
        account_id=credentials.account_id,
        handle=handle,
        access_token=credentials.access_token,
        refresh_token=credentials.refresh_token,
        token_expires_at=credentials.expires_at,
        app_password="abcd-efgh-ijkl-mnop" if platform == "bluesky" else "",
        config=credentials.config,
    )


def due_target(
    account: SocialAccount, *, ago: timedelta = timedelta(seconds=5), at: datetime | None = None, **fields
) -> PostTarget:
    """A scheduled target of a scheduled post, due `ago` ago (or `at`)."""
    post = PostFactory(workspace=account.workspace, status=fields.pop("post_status", PS.SCHEDULED))
    fields.setdefault("status", TS.SCHEDULED)
    return PostTargetFactory(
        post=post,
        workspace=account.workspace,
        social_account=account,
        scheduled_at=at or timezone.now() - ago,
        **fields,
    )


def posts_made(emulator, account: SocialAccount) -> list[dict]:
    """Every create-post request the emulator received for `account` (answered or not)."""
    path = CREATE_PATHS[account.platform]
    return [
        entry
        for entry in emulator.requests(platform=account.platform, method="POST")
        if entry["path"].endswith(path) and entry["account"] == account.account_id
    ]


def statuses(target: PostTarget) -> list[tuple[str, str]]:
    return list(PostEvent.objects.filter(target=target).values_list("from_status", "to_status"))


# --------------------------------------------------------------------------- claim


def test_claim_moves_a_due_target_to_publishing_with_a_lease(settings):
    settings.PUBLISH_LEASE_SECONDS = 90
    target = due_target(SocialAccountFactory())
    before = timezone.now()

    claimed = claim_target(target_id=target.pk, worker=WORKER)

    assert claimed is not None
    target.refresh_from_db()
    assert (target.status, target.claimed_by) == (TS.PUBLISHING, WORKER)
    assert before + timedelta(seconds=90) <= target.lease_expires_at <= timezone.now() + timedelta(seconds=90)
    event = PostEvent.objects.get(target=target)
    assert (event.from_status, event.to_status, event.actor_label) == (TS.SCHEDULED, TS.PUBLISHING, "delivery")
    target.post.refresh_from_db()
    assert target.post.status == PS.PUBLISHING


@pytest.mark.parametrize(
    "fields",
    [
        {"ago": timedelta(seconds=-60)},  # not yet
        {"next_attempt_at": timezone.now() + timedelta(minutes=5)},  # a retry that waits
        {"status": TS.PUBLISHING},
        {"status": TS.PENDING},
        {"status": TS.PUBLISHED},
    ],
    ids=["future", "retry-waits", "publishing", "pending", "published"],
)
def test_claim_refuses_what_is_not_due(fields):
    target = due_target(SocialAccountFactory(), **fields)
    status = target.status

    assert claim_target(target_id=target.pk, worker=WORKER) is None

    target.refresh_from_db()
    assert (target.status, target.claimed_by) == (status, "")
    assert not PostEvent.objects.filter(target=target).exists()


def test_a_second_claim_loses():
    target = due_target(SocialAccountFactory())

    first = claim_target(target_id=target.pk, worker="worker-a/1")
    second = claim_target(target_id=target.pk, worker="worker-b/2")

    assert first is not None and second is None
    target.refresh_from_db()
    assert target.claimed_by == "worker-a/1"
    assert PostEvent.objects.filter(target=target).count() == 1


# --------------------------------------------------------------------------- publishing


def test_deliver_publishes_a_due_target_once(emulator):
    account = connected_account(WorkspaceFactory())
    target = due_target(account)

    outcome = deliver_target(target_id=target.pk, worker=WORKER)

    assert outcome == Outcome.PUBLISHED
    target.refresh_from_db()
    assert target.status == TS.PUBLISHED
    assert target.remote_id and target.remote_url.startswith("http")
    assert target.published_at is not None
    assert (target.attempts, target.claimed_by, target.lease_expires_at, target.last_error) == (0, "", None, "")
    assert statuses(target) == [(TS.SCHEDULED, TS.PUBLISHING), (TS.PUBLISHING, TS.PUBLISHED)]
    target.post.refresh_from_db()
    assert target.post.status == PS.PUBLISHED
    made = posts_made(emulator, account)
    assert len(made) == 1
    assert made[0]["body"]["text"] == target.post.text

    # A second message for the same target (the sweep, a redelivery) does nothing.
    assert deliver_target(target_id=target.pk, worker="other/2") == Outcome.NOT_CLAIMED
    assert len(posts_made(emulator, account)) == 1


def test_the_bluesky_record_key_is_saved_before_publishing(emulator, monkeypatch):
    account = connected_account(WorkspaceFactory(), "bluesky")
    target = due_target(account)
    saved_at_publish = []
    provider_class = type(delivery.provider_for_account(account))
    original = provider_class.publish

    def publish(self, credentials, variant, *, handle=""):
        saved_at_publish.append(PostTarget.objects.get(pk=target.pk).publish_handle)
        return original(self, credentials, variant, handle=handle)

    monkeypatch.setattr(provider_class, "publish", publish)

    assert deliver_target(target_id=target.pk, worker=WORKER) == Outcome.PUBLISHED

    target.refresh_from_db()
    assert saved_at_publish == [target.publish_handle]
    assert target.publish_handle and target.remote_id.endswith(f"/{target.publish_handle}")
    assert posts_made(emulator, account)[0]["body"]["rkey"] == target.publish_handle


def test_deliver_does_nothing_before_the_time(emulator):
    account = connected_account(WorkspaceFactory())
    target = due_target(account, ago=timedelta(minutes=-10))

    assert deliver_target(target_id=target.pk, worker=WORKER) == Outcome.NOT_CLAIMED

    target.refresh_from_db()
    assert target.status == TS.SCHEDULED
    assert posts_made(emulator, account) == []


def test_the_task_delivers_with_a_worker_id(emulator):
    account = connected_account(WorkspaceFactory())
    target = due_target(account)

    assert deliver_target_task(target.pk) == Outcome.PUBLISHED

    claim = PostEvent.objects.get(target=target, to_status=TS.PUBLISHING)
    assert "(worker " in claim.reason


# --------------------------------------------------------------------------- re-checks at send time


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (SocialAccount.Status.RECONNECT_NEEDED, "needs reconnecting"),
        (SocialAccount.Status.ERROR, "needs reconnecting"),
        (SocialAccount.Status.REVOKED, "was disconnected"),
    ],
)
def test_an_account_that_cannot_publish_fails_the_target(emulator, status, words):
    account = connected_account(WorkspaceFactory())
    SocialAccount.objects.filter(pk=account.pk).update(status=status, last_error="Token revoked by the user")
    target = due_target(account)

    assert deliver_target(target_id=target.pk, worker=WORKER) == Outcome.FAILED

    target.refresh_from_db()
    assert (target.status, target.error_kind) == (TS.FAILED, "account")
    assert f"The X account {account.handle} {words}" in target.last_error
    assert posts_made(emulator, account) == []
    target.post.refresh_from_db()
    assert target.post.status == PS.FAILED


@pytest.mark.parametrize("post_status", [PS.PENDING_REVIEW, PS.DRAFT, PS.REJECTED])
def test_a_post_taken_back_to_review_leaves_its_target_pending(emulator, post_status):
    account = connected_account(WorkspaceFactory())
    target = due_target(account, post_status=post_status)

    assert deliver_target(target_id=target.pk, worker=WORKER) == Outcome.PENDING

    target.refresh_from_db()
    assert (target.status, target.claimed_by) == (TS.PENDING, "")
    assert statuses(target)[-1] == (TS.SCHEDULED, TS.PENDING)
    assert posts_made(emulator, account) == []


def test_a_cancelled_post_cancels_its_target(emulator):
    account = connected_account(WorkspaceFactory())
    target = due_target(account, post_status=PS.CANCELLED)

    assert deliver_target(target_id=target.pk, worker=WORKER) == Outcome.CANCELLED

    target.refresh_from_db()
    assert target.status == TS.CANCELLED
    assert posts_made(emulator, account) == []


def test_an_approved_post_that_is_not_rolled_up_yet_goes_out(emulator):
    account = connected_account(WorkspaceFactory())
    target = due_target(account, post_status=PS.APPROVED)

    assert deliver_target(target_id=target.pk, worker=WORKER) == Outcome.PUBLISHED


def test_a_spent_rate_budget_puts_the_target_back_without_counting_an_attempt(
    emulator, monkeypatch, django_capture_on_commit_callbacks
):
    account = connected_account(WorkspaceFactory())
    target = due_target(account)
    monkeypatch.setattr(delivery.budgets, "acquire", lambda account: 30.0)
    sent = mock.Mock()
    monkeypatch.setattr(dispatch, "request_dispatch", sent)
    before = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        outcome = deliver_target(target_id=target.pk, worker=WORKER)

    assert outcome == Outcome.WAITING
    target.refresh_from_db()
    assert (target.status, target.attempts, target.claimed_by) == (TS.SCHEDULED, 0, "")
    assert before + timedelta(seconds=30) <= target.next_attempt_at <= timezone.now() + timedelta(seconds=30)
    sent.assert_called_once_with(at=target.next_attempt_at)
    assert posts_made(emulator, account) == []


def test_text_the_platform_cannot_take_fails_without_calling_it(emulator):
    account = connected_account(WorkspaceFactory())
    target = due_target(account, text="x" * 400)

    assert deliver_target(target_id=target.pk, worker=WORKER) == Outcome.FAILED

    target.refresh_from_db()
    assert target.error_kind == "invalid_content"
    assert target.last_error
    assert posts_made(emulator, account) == []


def test_a_missing_token_fails_the_target_and_flags_the_account(emulator):
    account = SocialAccountFactory(access_token="")
    target = due_target(account)

    assert deliver_target(target_id=target.pk, worker=WORKER) == Outcome.FAILED

    target.refresh_from_db()
    account.refresh_from_db()
    assert (target.status, target.error_kind) == (TS.FAILED, "token_unavailable")
    assert "holds no token" in target.last_error
    assert account.status == SocialAccount.Status.RECONNECT_NEEDED


# --------------------------------------------------------------------------- a worker that loses its lease


def test_a_worker_whose_lease_ran_out_does_not_start_sending(emulator, monkeypatch):
    account = connected_account(WorkspaceFactory())
    target = due_target(account)
    provider_class = type(delivery.provider_for_account(account))
    original = provider_class.prepare

    def slow_prepare(self, credentials, variant):
        # The worker stalls here longer than its lease: from now on the clock reads past the lease's end.
        later = timezone.now() + delivery.lease_duration() + timedelta(seconds=1)
        monkeypatch.setattr(timezone, "now", lambda: later)
        return original(self, credentials, variant)

    monkeypatch.setattr(provider_class, "prepare", slow_prepare)

    assert deliver_target(target_id=target.pk, worker=WORKER) == Outcome.LOST_LEASE

    target.refresh_from_db()
    assert target.status == TS.PUBLISHING  # the sweep recovers it (test_error_handling)
    assert posts_made(emulator, account) == []


def test_a_post_that_went_out_after_the_sweep_took_the_target_back_is_published(emulator, monkeypatch):
    account = connected_account(WorkspaceFactory())
    target = due_target(account)
    provider_class = type(delivery.provider_for_account(account))
    original = provider_class.publish

    def slow_publish(self, credentials, variant, *, handle=""):
        # While the platform takes its time, the lease runs out and the sweep recovers the target.
        later = timezone.now() + timedelta(seconds=delivery.lease_duration().total_seconds() + 1)
        assert delivery.recover_expired_lease(target_id=target.pk, now=later)
        return original(self, credentials, variant, handle=handle)

    monkeypatch.setattr(provider_class, "publish", slow_publish)

    assert deliver_target(target_id=target.pk, worker=WORKER) == Outcome.PUBLISHED

    target.refresh_from_db()
    assert target.status == TS.PUBLISHED and target.remote_id
    assert statuses(target)[-2:] == [(TS.PUBLISHING, TS.UNCONFIRMED), (TS.UNCONFIRMED, TS.PUBLISHED)]
    assert len(posts_made(emulator, account)) == 1

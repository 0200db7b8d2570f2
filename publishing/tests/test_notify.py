"""Notifications about posts: who hears, what they read, one email each, and failures that never crash anything."""

from __future__ import annotations

import logging
from datetime import timedelta
from smtplib import SMTPServerDisconnected

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.utils import timezone

from accounts.models import Membership, Notification
from publishing import delivery
from publishing.delivery import Outcome, deliver_target
from publishing.models import PostTarget, SocialAccount
from publishing.notify import notify_publish_failed, notify_review_outcome
from publishing.providers.base import ErrorKind
from publishing.tests.factories import PostFactory, PostTargetFactory, SocialAccountFactory
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

Kind = Notification.Kind
TS = PostTarget.Status
WORKER = "test-host/notify-1"


@pytest.fixture
def workspace():
    return WorkspaceFactory(name="Acme", slug="acme")


@pytest.fixture
def owner(workspace):
    user = UserFactory(email="olga@acme.test", name="Olga")
    MembershipFactory(workspace=workspace, user=user, role=Membership.Role.OWNER)
    return user


@pytest.fixture
def author(workspace):
    user = UserFactory(email="eddie@acme.test", name="Eddie")
    MembershipFactory(workspace=workspace, user=user, role=Membership.Role.EDITOR)
    return user


@pytest.fixture
def bystander(workspace):
    user = UserFactory(email="vera@acme.test")
    MembershipFactory(workspace=workspace, user=user, role=Membership.Role.ADMIN)
    return user


@pytest.fixture
def staff():
    return UserFactory(email="staff@letsgrow.test", is_staff=True)


@pytest.fixture
def post(workspace, author):
    return PostFactory(workspace=workspace, author=author, text="Spring sale starts Monday!\nTell your friends.")


def _post_url(post) -> str:
    protocol = getattr(django_settings, "ACCOUNT_DEFAULT_HTTP_PROTOCOL", "https")
    return f"{protocol}://letsgrow.test/w/{post.workspace.slug}/posts/{post.pk}/"


def _notified(kind=None) -> list[tuple[str, str]]:
    rows = Notification.objects.order_by("user__email")
    if kind is not None:
        rows = rows.filter(kind=kind)
    return list(rows.values_list("user__email", "kind"))


# --------------------------------------------------------------------------- review outcomes


@pytest.mark.parametrize(
    ("kind", "title", "label", "subject_start"),
    [
        (Kind.APPROVED, "Post approved: Spring sale starts Monday! Tell your friends.", "Note", "Post approved"),
        (Kind.REJECTED, "Post rejected: Spring sale starts Monday! Tell your friends.", "Reason", "Post rejected"),
        (
            Kind.CHANGES_REQUESTED,
            "Changes requested: Spring sale starts Monday! Tell your friends.",
            "What to change",
            "Changes requested",
        ),
    ],
)
def test_a_review_outcome_reaches_the_author_and_the_owner_in_app_and_by_email(
    post, owner, author, bystander, staff, kind, title, label, subject_start, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        count = notify_review_outcome(post=post, kind=kind, actor=staff, message="Say which Monday.")

    assert count == 2
    assert _notified() == [(author.email, kind), (owner.email, kind)]
    notice = Notification.objects.get(user=author)
    assert (notice.title, notice.body, notice.workspace, notice.read_at) == (
        title,
        f"{label}: Say which Monday.",
        post.workspace,
        None,
    )
    assert notice.url == f"/w/acme/posts/{post.pk}/"
    assert sorted(message.to[0] for message in mail.outbox) == [author.email, owner.email]
    for message in mail.outbox:
        assert len(message.to) == 1
        assert message.subject.startswith(f"[LetsGrow] {subject_start} in Acme: Spring sale starts Monday!")
        assert "\n" not in message.subject
        assert _post_url(post) in message.body
        assert f"{label}:\n\nSay which Monday." in message.body
        # Staff decide in admin and are not members: the mail names the team, not the person.
        assert "the LetsGrow review team" in message.body
        assert staff.email not in message.body
    to_author = next(message for message in mail.outbox if message.to == [author.email])
    to_owner = next(message for message in mail.outbox if message.to == [owner.email])
    assert "Your post in the workspace" in to_author.body
    assert "A post in the workspace" in to_owner.body


def test_the_message_is_passed_on_verbatim_but_the_subject_stays_one_line(
    workspace, owner, author, staff, django_capture_on_commit_callbacks
):
    post = PostFactory(workspace=workspace, author=author, text="Line one\r\nBcc: evil@example.com\nline three")
    reason = "Two problems:\n- the claim <b>100%</b> is not backed\n- the link is broken"

    with django_capture_on_commit_callbacks(execute=True):
        notify_review_outcome(post=post, kind=Kind.REJECTED, actor=staff, message=reason)

    assert Notification.objects.get(user=author).body == f"Reason: {reason}"
    for message in mail.outbox:
        assert "\n" not in message.subject and "\r" not in message.subject
        assert message.extra_headers == {}
        assert message.bcc == []
        assert reason in message.body  # no HTML escaping in a plain text mail


def test_the_author_who_owns_the_workspace_is_told_once(workspace, staff, django_capture_on_commit_callbacks):
    owner = UserFactory(email="solo@acme.test")
    MembershipFactory(workspace=workspace, user=owner, role=Membership.Role.OWNER)
    post = PostFactory(workspace=workspace, author=owner)

    with django_capture_on_commit_callbacks(execute=True):
        count = notify_review_outcome(post=post, kind=Kind.APPROVED, actor=staff, message="")

    assert count == 1
    assert _notified() == [(owner.email, Kind.APPROVED)]
    assert [message.to for message in mail.outbox] == [[owner.email]]
    assert Notification.objects.get().body == ""


def test_the_member_who_decided_is_not_told_of_their_own_decision(
    post, owner, author, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        count = notify_review_outcome(post=post, kind=Kind.CHANGES_REQUESTED, actor=owner, message="Shorter, please.")

    assert count == 1
    assert _notified() == [(author.email, Kind.CHANGES_REQUESTED)]
    assert [message.to for message in mail.outbox] == [[author.email]]
    # A member who decided on the site is named.
    assert "was sent back by Olga" in mail.outbox[0].body


def test_an_author_who_left_or_was_deactivated_is_not_told(workspace, owner, staff, django_capture_on_commit_callbacks):
    gone = PostFactory(workspace=workspace, author=UserFactory(email="left@acme.test"))
    inactive_author = UserFactory(email="inactive@acme.test", is_active=False)
    MembershipFactory(workspace=workspace, user=inactive_author, role=Membership.Role.EDITOR)
    deactivated = PostFactory(workspace=workspace, author=inactive_author)

    with django_capture_on_commit_callbacks(execute=True):
        notify_review_outcome(post=gone, kind=Kind.APPROVED, actor=staff, message="")
        notify_review_outcome(post=deactivated, kind=Kind.APPROVED, actor=staff, message="")

    assert _notified() == [(owner.email, Kind.APPROVED), (owner.email, Kind.APPROVED)]
    assert [message.to for message in mail.outbox] == [[owner.email], [owner.email]]


def test_other_workspaces_owners_hear_nothing(post, owner, author, staff, django_capture_on_commit_callbacks):
    MembershipFactory(role=Membership.Role.OWNER, user=UserFactory(email="elsewhere@other.test"))

    with django_capture_on_commit_callbacks(execute=True):
        notify_review_outcome(post=post, kind=Kind.APPROVED, actor=staff, message="")

    assert "elsewhere@other.test" not in [email for email, _kind in _notified()]
    assert all(message.to != ["elsewhere@other.test"] for message in mail.outbox)


def test_no_email_leaves_before_the_decision_commits(post, owner, author, staff, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notify_review_outcome(post=post, kind=Kind.APPROVED, actor=staff, message="")

    assert mail.outbox == []
    assert len(callbacks) == 1
    assert Notification.objects.count() == 2  # in the caller's transaction: rolled back with it


def test_an_unknown_kind_is_refused(post, staff):
    with pytest.raises(ValueError, match="not a review outcome"):
        notify_review_outcome(post=post, kind=Kind.PUBLISH_FAILED, actor=staff, message="")

    assert not Notification.objects.exists()


def test_an_smtp_failure_is_logged_and_the_rest_still_go_out(
    post, owner, author, staff, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    from django.core.mail.backends.locmem import EmailBackend

    real_send = EmailBackend.send_messages

    def flaky(self, messages):
        if messages[0].to == [author.email]:
            raise SMTPServerDisconnected("Connection unexpectedly closed")
        return real_send(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", flaky)

    with caplog.at_level(logging.ERROR, logger="publishing.notify"), django_capture_on_commit_callbacks(execute=True):
        count = notify_review_outcome(post=post, kind=Kind.REJECTED, actor=staff, message="Off-brand.")

    assert count == 2
    assert Notification.objects.count() == 2
    assert [message.to for message in mail.outbox] == [[owner.email]]
    assert f"Could not email {author.email} about the review of post {post.pk} (rejected)." in caplog.messages


def test_an_unreachable_mail_server_never_raises(
    post, owner, author, staff, settings, caplog, django_capture_on_commit_callbacks
):
    # Nothing listens on port 9 of this machine: the connection is refused (an OSError).
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2

    with caplog.at_level(logging.ERROR, logger="publishing.notify"), django_capture_on_commit_callbacks(execute=True):
        count = notify_review_outcome(post=post, kind=Kind.APPROVED, actor=staff, message="")

    assert count == 2
    assert Notification.objects.count() == 2
    assert sorted(caplog.messages) == [
        f"Could not email {author.email} about the review of post {post.pk} (approved).",
        f"Could not email {owner.email} about the review of post {post.pk} (approved).",
    ]


# --------------------------------------------------------------------------- publish failures


@pytest.fixture
def failed_target(post):
    account = SocialAccountFactory(workspace=post.workspace, platform="mastodon", handle="@acme@mastodon.example")
    return PostTargetFactory(
        post=post,
        social_account=account,
        status=TS.FAILED,
        scheduled_at=timezone.now(),
        last_error="The instance refused the post: the text is longer than 500 characters.",
    )


def test_a_failed_target_tells_author_and_owner_the_platform_handle_and_why(
    failed_target, owner, author, bystander, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        count = notify_publish_failed(target=failed_target)

    assert count == 2
    assert _notified() == [(author.email, Kind.PUBLISH_FAILED), (owner.email, Kind.PUBLISH_FAILED)]
    notice = Notification.objects.get(user=author)
    assert (
        notice.title
        == "Not published on Mastodon (@acme@mastodon.example): Spring sale starts Monday! Tell your friends."
    )
    assert notice.body == "What went wrong: The instance refused the post: the text is longer than 500 characters."
    assert notice.url == f"/w/acme/posts/{failed_target.post_id}/#target-{failed_target.pk}"
    assert sorted(message.to[0] for message in mail.outbox) == [author.email, owner.email]
    for message in mail.outbox:
        assert message.subject.startswith("[LetsGrow] Not published on Mastodon (@acme@mastodon.example):")
        assert "to the Mastodon account @acme@mastodon.example" in message.body
        assert "What went wrong: The instance refused the post: the text is longer than 500 characters." in message.body
        assert f"{_post_url(failed_target.post)}#target-{failed_target.pk}" in message.body


def test_one_failure_is_notified_once_however_often_it_is_reported(
    failed_target, owner, author, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = notify_publish_failed(target=failed_target)
        second = notify_publish_failed(target=failed_target)

    assert (first, second) == (2, 0)
    assert Notification.objects.count() == 2
    assert len(mail.outbox) == 2


def test_a_new_failure_after_a_retry_is_notified_again(failed_target, owner, author):
    from publishing.transitions import transition

    notify_publish_failed(target=failed_target)
    transition(failed_target, TS.SCHEDULED, expected=TS.FAILED, actor=author, reason="Retry")
    transition(failed_target, TS.FAILED, expected=TS.SCHEDULED, actor_label="delivery", reason="Failed again")

    assert notify_publish_failed(target=failed_target) == 2
    assert Notification.objects.count() == 4


def test_a_target_that_is_no_longer_failed_is_not_notified(failed_target, owner, author):
    PostTarget.objects.filter(pk=failed_target.pk).update(status=TS.SCHEDULED)

    assert notify_publish_failed(target=failed_target) == 0
    assert not Notification.objects.exists()


def test_owners_can_be_told_in_app_only(failed_target, owner, author, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notify_publish_failed(target=failed_target, email_owners=False)

    assert _notified() == [(author.email, Kind.PUBLISH_FAILED), (owner.email, Kind.PUBLISH_FAILED)]
    assert [message.to for message in mail.outbox] == [[author.email]]


# --------------------------------------------------------------------------- the delivery engine calls it


def test_a_target_failing_for_good_notifies_once_after_commit(
    workspace, owner, author, django_capture_on_commit_callbacks
):
    account = SocialAccountFactory(workspace=workspace, handle="acme_x")
    post = PostFactory(workspace=workspace, author=author, status="scheduled")
    target = PostTargetFactory(
        post=post, social_account=account, status=TS.PUBLISHING, claimed_by=WORKER, scheduled_at=timezone.now()
    )

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        outcome = delivery._fail(target, worker=WORKER, kind=ErrorKind.INVALID_CONTENT, message="Too long for X.")

    assert outcome == Outcome.FAILED
    assert not Notification.objects.exists()  # nothing before the failure is committed
    with django_capture_on_commit_callbacks(execute=True):
        for callback in callbacks:
            callback()
    assert _notified() == [(author.email, Kind.PUBLISH_FAILED), (owner.email, Kind.PUBLISH_FAILED)]
    assert Notification.objects.get(user=author).body == "What went wrong: Too long for X."
    assert sorted(message.to[0] for message in mail.outbox) == [author.email, owner.email]


def test_a_target_of_a_disconnected_account_tells_the_owner_in_app_only(
    workspace, owner, author, django_capture_on_commit_callbacks
):
    account = SocialAccountFactory(workspace=workspace, status=SocialAccount.Status.REVOKED, handle="acme_x")
    post = PostFactory(workspace=workspace, author=author, status="scheduled")
    target = PostTargetFactory(
        post=post, social_account=account, status=TS.SCHEDULED, scheduled_at=timezone.now() - timedelta(seconds=5)
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert deliver_target(target_id=target.pk, worker=WORKER) == Outcome.FAILED

    assert _notified() == [(author.email, Kind.PUBLISH_FAILED), (owner.email, Kind.PUBLISH_FAILED)]
    assert Notification.objects.filter(title__startswith="Not published on X (acme_x)").count() == 2
    # The owner disconnected it (or was emailed to reconnect it): the author still gets the email.
    assert [message.to for message in mail.outbox] == [[author.email]]


def test_a_reconnect_needed_failure_does_not_email_the_owner_twice(
    workspace, owner, author, django_capture_on_commit_callbacks
):
    account = SocialAccountFactory(workspace=workspace, handle="acme_x")
    post = PostFactory(workspace=workspace, author=author, status="scheduled")
    target = PostTargetFactory(
        post=post, social_account=account, status=TS.PUBLISHING, claimed_by=WORKER, scheduled_at=timezone.now()
    )

    with django_capture_on_commit_callbacks(execute=True):
        outcome = delivery._fail(target, worker=WORKER, kind=ErrorKind.AUTH_EXPIRED, message="Reconnect acme_x.")

    assert outcome == Outcome.FAILED
    assert _notified() == [(author.email, Kind.PUBLISH_FAILED), (owner.email, Kind.PUBLISH_FAILED)]
    # The owner's email about this comes from send_reconnect_needed_email.
    assert [message.to for message in mail.outbox] == [[author.email]]


def test_a_lost_claim_notifies_nobody(workspace, owner, author, django_capture_on_commit_callbacks):
    account = SocialAccountFactory(workspace=workspace)
    post = PostFactory(workspace=workspace, author=author, status="scheduled")
    target = PostTargetFactory(post=post, social_account=account, status=TS.PUBLISHING, claimed_by="another-worker")

    with django_capture_on_commit_callbacks(execute=True):
        outcome = delivery._fail(target, worker=WORKER, kind=ErrorKind.INVALID_CONTENT, message="Too long.")

    assert outcome == Outcome.LOST_LEASE
    assert not Notification.objects.exists()
    assert mail.outbox == []

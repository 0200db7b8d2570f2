"""Scheduling: local times and DST, schedule / post now / reschedule / unschedule / cancel / retry, overdue reviews."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from unittest import mock

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from content.models import Post
from publishing.models import AutomationSettings, PostEvent, PostTarget
from publishing.scheduling import (
    AUTO_APPROVED_REASON,
    cancel_post,
    create_post,
    edit_post,
    notify_pending_at_time,
    retry_target,
    schedule_post,
    to_utc,
    unschedule_post,
)
from publishing.scheduling_tasks import notify_pending_overdue
from publishing.tests.factories import PostFactory, PostTargetFactory, SocialAccountFactory
from publishing.transitions import transition
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

PS, TS = Post.Status, PostTarget.Status
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def deliveries(monkeypatch):
    """The dispatcher's `request_dispatch`, replaced by a mock: each call asks for the due targets of one time."""
    from publishing import dispatch

    request = mock.Mock()
    monkeypatch.setattr(dispatch, "request_dispatch", request)
    return request


@pytest.fixture
def workspace():
    return WorkspaceFactory(timezone="Europe/Berlin")


def wall(*parts: int) -> datetime:
    """A wall-clock time without a zone, as people type it: `to_utc` reads it in one."""
    return datetime(*parts)  # noqa: DTZ001


def _member(workspace, role):
    return MembershipFactory(workspace=workspace, role=role).user


@pytest.fixture
def owner(workspace):
    return _member(workspace, "owner")


@pytest.fixture
def editor(workspace):
    return _member(workspace, "editor")


def _approved_post(workspace, accounts=1, **kwargs):
    post = PostFactory(workspace=workspace, status=PS.APPROVED, **kwargs)
    for _ in range(accounts):
        PostTargetFactory(post=post)
    return post


def _unchanged(post, status=PS.APPROVED):
    post.refresh_from_db()
    assert post.status == status
    assert list(post.targets.values_list("status", "scheduled_at", "schedule_timezone")) == [
        (TS.PENDING, None, "") for _ in range(post.targets.count())
    ]
    assert not PostEvent.objects.filter(post=post).exists()


# --------------------------------------------------------------------------- to_utc and DST


@pytest.mark.parametrize(
    ("local", "tz", "expected"),
    [
        (wall(2026, 7, 1, 9, 0), "Europe/Berlin", datetime(2026, 7, 1, 7, 0, tzinfo=UTC)),
        (wall(2026, 1, 15, 9, 0), "Europe/Berlin", datetime(2026, 1, 15, 8, 0, tzinfo=UTC)),
        # Ambiguous (clocks go back): the first occurrence, still on summer time.
        (wall(2026, 10, 25, 2, 30), "Europe/Berlin", datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
        (wall(2026, 11, 1, 1, 30), "America/New_York", datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),
        (wall(2026, 6, 1, 9, 0), "UTC", datetime(2026, 6, 1, 9, 0, tzinfo=UTC)),
    ],
)
def test_to_utc(local, tz, expected):
    assert to_utc(local, tz) == expected


def test_to_utc_takes_a_date_and_a_time():
    assert to_utc(date(2026, 3, 30), "Europe/Berlin", time(9, 0)) == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("local", "tz", "message"),
    [
        (
            wall(2026, 3, 29, 2, 30),
            "Europe/Berlin",
            "02:30 does not exist on Sunday 29 March 2026 in Europe/Berlin: "
            "the clocks go forward from 02:00 to 03:00. Did you mean 03:30?",
        ),
        (
            wall(2026, 3, 8, 2, 30),
            "America/New_York",
            "02:30 does not exist on Sunday 8 March 2026 in America/New_York: "
            "the clocks go forward from 02:00 to 03:00. Did you mean 03:30?",
        ),
        (
            wall(2026, 10, 4, 2, 15),
            "Australia/Lord_Howe",  # a half-hour shift
            "02:15 does not exist on Sunday 4 October 2026 in Australia/Lord_Howe: "
            "the clocks go forward from 02:00 to 02:30. Did you mean 02:45?",
        ),
    ],
)
def test_to_utc_refuses_a_time_the_clocks_skip_and_suggests_the_one_meant(local, tz, message):
    with pytest.raises(ValidationError) as excinfo:
        to_utc(local, tz)

    assert excinfo.value.messages == [message]
    assert excinfo.value.code == "nonexistent_time"


def test_to_utc_refuses_an_unknown_zone():
    with pytest.raises(ValidationError) as excinfo:
        to_utc(wall(2026, 6, 1, 9, 0), "Europe/Atlantis")

    assert excinfo.value.messages == [
        "“Europe/Atlantis” is not a time zone we know. Choose one like Europe/Berlin or America/New_York."
    ]


def test_to_utc_refuses_an_aware_datetime():
    with pytest.raises(ValueError, match="naive"):
        to_utc(datetime(2026, 6, 1, 9, 0, tzinfo=UTC), "Europe/Berlin")


# --------------------------------------------------------------------------- schedule_post


@pytest.mark.parametrize(
    ("local", "tz", "expected"),
    [
        # Berlin: the day before and after the spring switch (29 March), and after the autumn one (25 October).
        (wall(2026, 3, 28, 9, 0), "Europe/Berlin", datetime(2026, 3, 28, 8, 0, tzinfo=UTC)),
        (wall(2026, 3, 30, 9, 0), "Europe/Berlin", datetime(2026, 3, 30, 7, 0, tzinfo=UTC)),
        (wall(2026, 10, 26, 9, 0), "Europe/Berlin", datetime(2026, 10, 26, 8, 0, tzinfo=UTC)),
        # New York: after its spring switch (8 March), while Europe has not switched yet, and after 1 November.
        (wall(2026, 3, 7, 9, 0), "America/New_York", datetime(2026, 3, 7, 14, 0, tzinfo=UTC)),
        (wall(2026, 3, 9, 9, 0), "America/New_York", datetime(2026, 3, 9, 13, 0, tzinfo=UTC)),
        (wall(2026, 11, 2, 9, 0), "America/New_York", datetime(2026, 11, 2, 14, 0, tzinfo=UTC)),
    ],
)
def test_schedule_post_stores_utc_across_dst_switches(
    workspace, editor, deliveries, django_capture_on_commit_callbacks, local, tz, expected
):
    post = _approved_post(workspace, accounts=2)

    with django_capture_on_commit_callbacks(execute=True):
        schedule_post(post=post, actor=editor, when_local=local, tz=tz, now=NOW)

    post.refresh_from_db()
    assert post.status == PS.SCHEDULED
    targets = list(post.targets.order_by("pk"))
    assert [(t.status, t.scheduled_at, t.schedule_timezone) for t in targets] == [(TS.SCHEDULED, expected, tz)] * 2
    assert deliveries.call_args_list == [mock.call(at=expected)]
    assert list(PostEvent.objects.filter(post=post, target=None).values_list("from_status", "to_status", "actor")) == [
        (PS.APPROVED, PS.SCHEDULED, editor.pk)
    ]


def test_schedule_post_asks_for_one_dispatch_per_due_time(workspace, editor, deliveries):
    post = _approved_post(workspace, accounts=2)

    schedule_post(post=post, actor=editor, when_local=wall(2026, 4, 1, 9, 0), tz="Europe/Berlin", now=NOW)

    # Both targets are due at the same second: one trigger (publishing.dispatch sends it after commit).
    assert deliveries.call_args_list == [mock.call(at=datetime(2026, 4, 1, 7, 0, tzinfo=UTC))]


@pytest.mark.parametrize(
    ("local", "message"),
    [
        (
            wall(2026, 3, 1, 12, 59),
            "That time has already passed (12:59 on Sunday 1 March 2026 in Europe/Berlin; "
            "it is now 13:00 on Sunday 1 March 2026). Choose a later time, or post now.",
        ),
        (
            wall(2025, 12, 24, 18, 0),
            "That time has already passed (18:00 on Wednesday 24 December 2025 in Europe/Berlin; "
            "it is now 13:00 on Sunday 1 March 2026). Choose a later time, or post now.",
        ),
    ],
)
def test_schedule_post_refuses_a_past_time(
    workspace, editor, deliveries, django_capture_on_commit_callbacks, local, message
):
    post = _approved_post(workspace)

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(ValidationError) as excinfo:
        schedule_post(post=post, actor=editor, when_local=local, tz="Europe/Berlin", now=NOW)

    assert excinfo.value.messages == [message]
    _unchanged(post)
    assert callbacks == []
    assert deliveries.call_count == 0


def test_schedule_post_refuses_a_time_the_clocks_skip(workspace, editor, deliveries):
    post = _approved_post(workspace)

    with pytest.raises(ValidationError) as excinfo:
        schedule_post(post=post, actor=editor, when_local=wall(2026, 3, 29, 2, 30), tz="Europe/Berlin", now=NOW)

    assert excinfo.value.code == "nonexistent_time"
    _unchanged(post)


def test_schedule_post_needs_a_time_or_post_now(workspace, editor, deliveries):
    post = _approved_post(workspace)

    with pytest.raises(ValidationError) as excinfo:
        schedule_post(post=post, actor=editor, when_local=None, tz="Europe/Berlin", now=NOW)

    assert excinfo.value.messages == ["Choose a date and time, or post now."]
    _unchanged(post)


def test_post_now_schedules_every_target_for_now(workspace, editor, deliveries, django_capture_on_commit_callbacks):
    post = _approved_post(workspace)

    with django_capture_on_commit_callbacks(execute=True):
        schedule_post(post=post, actor=editor, when_local=None, tz="Europe/Berlin", post_now=True, now=NOW)

    target = post.targets.get()
    assert (target.status, target.scheduled_at, target.schedule_timezone) == (TS.SCHEDULED, NOW, "Europe/Berlin")
    assert deliveries.call_args_list == [mock.call(at=NOW)]
    post.refresh_from_db()
    assert post.status == PS.SCHEDULED


def test_schedule_post_without_a_zone_uses_the_workspace_zone(workspace, editor, deliveries):
    post = _approved_post(workspace)

    schedule_post(post=post, actor=editor, when_local=wall(2026, 7, 1, 9, 0), tz="", now=NOW)

    target = post.targets.get()
    assert (target.scheduled_at, target.schedule_timezone) == (
        datetime(2026, 7, 1, 7, 0, tzinfo=UTC),
        "Europe/Berlin",
    )


@pytest.mark.parametrize("status", [PS.DRAFT, PS.PENDING_REVIEW, PS.REJECTED, PS.PUBLISHED, PS.CANCELLED])
def test_schedule_post_needs_an_approved_post_when_review_is_on(workspace, editor, deliveries, status):
    post = PostFactory(workspace=workspace, status=status)
    PostTargetFactory(post=post)

    with pytest.raises(ValidationError):
        schedule_post(post=post, actor=editor, when_local=wall(2026, 4, 1, 9, 0), tz="Europe/Berlin", now=NOW)

    _unchanged(post, status=status)


@pytest.mark.parametrize("role", ["viewer", "approver"])
def test_only_members_who_may_schedule_can(workspace, deliveries, role):
    post = _approved_post(workspace)
    actor = _member(workspace, role)

    with pytest.raises(PermissionDenied) as excinfo:
        schedule_post(post=post, actor=actor, when_local=wall(2026, 4, 1, 9, 0), tz="Europe/Berlin", now=NOW)

    assert str(excinfo.value) == f"Your role ({role}) does not allow this (schedule)."
    _unchanged(post)


def test_someone_from_another_workspace_cannot_schedule(workspace, deliveries):
    post = _approved_post(workspace)
    stranger = MembershipFactory(role="owner").user

    with pytest.raises(PermissionDenied):
        schedule_post(post=post, actor=stranger, when_local=wall(2026, 4, 1, 9, 0), tz="Europe/Berlin", now=NOW)

    _unchanged(post)


def test_schedule_post_refuses_an_account_that_needs_reconnecting(workspace, editor, deliveries):
    post = PostFactory(workspace=workspace, status=PS.APPROVED)
    account = SocialAccountFactory(workspace=workspace, handle="gone", status="revoked")
    PostTargetFactory(post=post, social_account=account)

    with pytest.raises(ValidationError) as excinfo:
        schedule_post(post=post, actor=editor, when_local=wall(2026, 4, 1, 9, 0), tz="Europe/Berlin", now=NOW)

    assert excinfo.value.messages == ["Reconnect X · gone before scheduling: LetsGrow cannot post there now."]
    _unchanged(post)


def test_scheduling_a_scheduled_post_moves_it(workspace, editor, deliveries, django_capture_on_commit_callbacks):
    post = _approved_post(workspace)
    schedule_post(post=post, actor=editor, when_local=wall(2026, 4, 1, 9, 0), tz="Europe/Berlin", now=NOW)
    deliveries.reset_mock()

    with django_capture_on_commit_callbacks(execute=True):
        schedule_post(post=post, actor=editor, when_local=wall(2026, 4, 2, 18, 0), tz="Europe/Berlin", now=NOW)

    target = post.targets.get()
    new_time = datetime(2026, 4, 2, 16, 0, tzinfo=UTC)
    assert (target.status, target.scheduled_at) == (TS.SCHEDULED, new_time)
    assert deliveries.call_args_list == [mock.call(at=new_time)]
    assert PostEvent.objects.filter(target=target).last().reason == (
        "Rescheduled to 18:00 on Thursday 2 April 2026 (Europe/Berlin) (was 2026-04-01 07:00 UTC)."
    )


# --------------------------------------------------------------------------- auto-approval


@pytest.mark.parametrize(
    ("review_before_posting", "source", "status", "schedules"),
    [
        (False, Post.Source.MANUAL, PS.DRAFT, True),
        (False, Post.Source.MANUAL, PS.PENDING_REVIEW, True),
        (False, Post.Source.AI, PS.DRAFT, False),
        (False, Post.Source.TEMPLATE, PS.PENDING_REVIEW, False),
        (True, Post.Source.MANUAL, PS.DRAFT, False),
    ],
)
def test_auto_approval_only_for_manual_posts_when_review_is_off(
    workspace, editor, deliveries, review_before_posting, source, status, schedules
):
    AutomationSettings.objects.create(workspace=workspace, review_before_posting=review_before_posting)
    post = PostFactory(workspace=workspace, status=status, source=source)
    PostTargetFactory(post=post)

    if schedules:
        schedule_post(post=post, actor=editor, when_local=wall(2026, 4, 1, 9, 0), tz="Europe/Berlin", now=NOW)
        post.refresh_from_db()
        assert post.status == PS.SCHEDULED
        events = PostEvent.objects.filter(post=post, target=None)
        assert list(events.values_list("from_status", "to_status", "actor_label", "reason")) == [
            (status, PS.APPROVED, "auto-approval", AUTO_APPROVED_REASON),
            (PS.APPROVED, PS.SCHEDULED, "", "Scheduled from 09:00 on Wednesday 1 April 2026 (Europe/Berlin)."),
        ]
    else:
        with pytest.raises(ValidationError) as excinfo:
            schedule_post(post=post, actor=editor, when_local=wall(2026, 4, 1, 9, 0), tz="Europe/Berlin", now=NOW)
        assert excinfo.value.messages == ["This post needs to be approved before it can be scheduled."]
        _unchanged(post, status=status)


def test_a_failed_schedule_rolls_the_auto_approval_back(workspace, editor, deliveries):
    AutomationSettings.objects.create(workspace=workspace, review_before_posting=False)
    post = PostFactory(workspace=workspace, status=PS.DRAFT)
    PostTargetFactory(post=post, social_account=SocialAccountFactory(workspace=workspace, status="revoked"))

    with pytest.raises(ValidationError):
        schedule_post(post=post, actor=editor, when_local=wall(2026, 4, 1, 9, 0), tz="Europe/Berlin", now=NOW)

    _unchanged(post, status=PS.DRAFT)


# --------------------------------------------------------------------------- unschedule, cancel, retry


def test_unschedule_puts_the_post_back_to_approved(workspace, editor, deliveries):
    post = _approved_post(workspace, accounts=2)
    schedule_post(post=post, actor=editor, when_local=wall(2026, 4, 1, 9, 0), tz="Europe/Berlin", now=NOW)

    unschedule_post(post=post, actor=editor)

    post.refresh_from_db()
    assert post.status == PS.APPROVED
    assert list(post.targets.values_list("status", "scheduled_at", "schedule_timezone")) == [(TS.PENDING, None, "")] * 2


def test_unschedule_refuses_once_something_went_out(workspace, editor):
    post = PostFactory(workspace=workspace, status=PS.PARTIALLY_PUBLISHED)
    PostTargetFactory(post=post, status=TS.PUBLISHED)
    PostTargetFactory(post=post, status=TS.SCHEDULED)

    with pytest.raises(ValidationError):
        unschedule_post(post=post, actor=editor)

    post.refresh_from_db()
    assert post.status == PS.PARTIALLY_PUBLISHED
    assert sorted(post.targets.values_list("status", flat=True)) == [TS.PUBLISHED, TS.SCHEDULED]


def test_cancel_a_scheduled_post(workspace, editor, deliveries):
    post = _approved_post(workspace, accounts=2)
    schedule_post(post=post, actor=editor, when_local=wall(2026, 4, 1, 9, 0), tz="Europe/Berlin", now=NOW)

    cancel_post(post=post, actor=editor, reason="Wrong date")

    post.refresh_from_db()
    assert post.status == PS.CANCELLED
    assert list(post.targets.values_list("status", flat=True)) == [TS.CANCELLED] * 2
    assert PostEvent.objects.filter(post=post, target=None).last().reason == "Wrong date"


def test_cancel_leaves_what_was_published(workspace, editor):
    post = PostFactory(workspace=workspace, status=PS.PARTIALLY_PUBLISHED)
    published = PostTargetFactory(post=post, status=TS.PUBLISHED)
    failed = PostTargetFactory(post=post, status=TS.FAILED)

    cancel_post(post=post, actor=editor)

    post.refresh_from_db()
    published.refresh_from_db()
    failed.refresh_from_db()
    assert (post.status, published.status, failed.status) == (PS.PUBLISHED, TS.PUBLISHED, TS.CANCELLED)


def test_viewer_cannot_cancel(workspace, deliveries):
    post = _approved_post(workspace)

    with pytest.raises(PermissionDenied):
        cancel_post(post=post, actor=_member(workspace, "viewer"))

    _unchanged(post)


@pytest.mark.parametrize("status", [TS.FAILED, TS.MISSED])
def test_retry_schedules_a_failed_or_missed_target_now(
    workspace, editor, deliveries, django_capture_on_commit_callbacks, status
):
    post = PostFactory(workspace=workspace, status=PS.FAILED)
    target = PostTargetFactory(
        post=post, status=status, attempts=3, last_error="X answered 503", error_kind="transient"
    )

    with django_capture_on_commit_callbacks(execute=True):
        retry_target(target=target, actor=editor, now=NOW)

    target.refresh_from_db()
    post.refresh_from_db()
    assert (target.status, target.scheduled_at, target.attempts, target.last_error, target.error_kind) == (
        TS.SCHEDULED,
        NOW,
        0,
        "",
        "",
    )
    assert post.status == PS.SCHEDULED
    assert deliveries.call_args_list == [mock.call(at=NOW)]


@pytest.mark.parametrize("status", [TS.PUBLISHED, TS.SCHEDULED, TS.PENDING])
def test_retry_refuses_anything_but_failed_or_missed(workspace, editor, deliveries, status):
    post = PostFactory(workspace=workspace, status=PS.PUBLISHED if status == TS.PUBLISHED else PS.SCHEDULED)
    target = PostTargetFactory(post=post, status=status)

    with pytest.raises(ValidationError) as excinfo:
        retry_target(target=target, actor=editor, now=NOW)

    if status == TS.PUBLISHED:
        assert excinfo.value.messages == ["This was already published; LetsGrow never posts it twice."]
    target.refresh_from_db()
    assert (target.status, target.scheduled_at) == (status, None)
    assert not PostEvent.objects.exists()
    assert deliveries.call_count == 0


def test_retry_refuses_a_target_of_a_cancelled_post(workspace, editor, deliveries):
    post = PostFactory(workspace=workspace, status=PS.CANCELLED)
    target = PostTargetFactory(post=post, status=TS.FAILED)

    with pytest.raises(ValidationError) as excinfo:
        retry_target(target=target, actor=editor, now=NOW)

    assert excinfo.value.messages == ["This post was cancelled, so it is not sent again."]
    target.refresh_from_db()
    assert (target.status, target.scheduled_at) == (TS.FAILED, None)
    assert deliveries.call_count == 0


# --------------------------------------------------------------------------- creating posts


def test_create_post_makes_a_draft_with_a_pending_target_per_account(workspace, editor):
    x = SocialAccountFactory(workspace=workspace, platform="x")
    bluesky = SocialAccountFactory(workspace=workspace, platform="bluesky")

    post = create_post(
        workspace=workspace,
        author=editor,
        text="Hello world",
        account_ids=[x.pk, str(bluesky.pk)],
        variants={str(bluesky.pk): "Hello Bluesky"},
        link="https://letsgrow.app",
    )

    assert (post.status, post.author, post.text, post.source) == (PS.DRAFT, editor, "Hello world", "manual")
    assert list(post.targets.order_by("pk").values_list("social_account", "text", "link", "status")) == [
        (x.pk, "", "https://letsgrow.app", TS.PENDING),
        (bluesky.pk, "Hello Bluesky", "https://letsgrow.app", TS.PENDING),
    ]


def test_create_post_refuses_text_the_platform_would_refuse(workspace, editor):
    x = SocialAccountFactory(workspace=workspace, platform="x", handle="letsgrow")

    with pytest.raises(ValidationError) as excinfo:
        create_post(workspace=workspace, author=editor, text="a" * 281, account_ids=[x.pk])

    assert excinfo.value.messages == [
        "X · letsgrow: X counts this post as 281 characters; the limit is 280. "
        "Every link counts 23, and emoji and CJK characters count 2."
    ]
    assert excinfo.value.code == "content"
    assert not Post.objects.exists()


def test_a_variant_is_validated_instead_of_the_text(workspace, editor):
    x = SocialAccountFactory(workspace=workspace, platform="x", handle="letsgrow")

    post = create_post(
        workspace=workspace, author=editor, text="a" * 400, account_ids=[x.pk], variants={x.pk: "Short for X"}
    )

    assert post.targets.get().text == "Short for X"


@pytest.mark.parametrize(
    ("account_kwargs", "message"),
    [
        ({"workspace": None}, "One of the chosen accounts is not connected to this workspace."),
        ({"status": "reconnect_needed", "handle": "old"}, "Reconnect X · old before posting to it."),
    ],
)
def test_create_post_refuses_accounts_it_cannot_use(workspace, editor, account_kwargs, message):
    if account_kwargs.get("workspace", workspace) is None:
        account_kwargs = {**account_kwargs, "workspace": WorkspaceFactory()}
    account = SocialAccountFactory(**{"workspace": workspace, **account_kwargs})

    with pytest.raises(ValidationError) as excinfo:
        create_post(workspace=workspace, author=editor, text="Hello", account_ids=[account.pk])

    assert excinfo.value.messages == [message]
    assert not Post.objects.exists()


def test_viewer_cannot_create_posts(workspace):
    account = SocialAccountFactory(workspace=workspace)

    with pytest.raises(PermissionDenied):
        create_post(workspace=workspace, author=_member(workspace, "viewer"), text="Hi", account_ids=[account.pk])

    assert not Post.objects.exists()


# --------------------------------------------------------------------------- overdue reviews


def _overdue_post(workspace, author, *, scheduled_at, status=PS.PENDING_REVIEW):
    post = PostFactory(workspace=workspace, author=author, status=status, text="Spring sale starts")
    account = SocialAccountFactory(workspace=workspace, handle="shop")
    target = PostTargetFactory(
        post=post, social_account=account, scheduled_at=scheduled_at, schedule_timezone="Europe/Berlin"
    )
    return post, target


def test_the_author_is_told_once_when_a_post_is_still_pending_at_its_time(workspace, editor):
    post, target = _overdue_post(workspace, editor, scheduled_at=datetime(2026, 3, 30, 7, 0, tzinfo=UTC))
    now = datetime(2026, 3, 30, 7, 1, tzinfo=UTC)

    first = notify_pending_at_time(now=now)
    second = notify_pending_at_time(now=now)

    assert (first, second) == (1, 0)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert (message.subject, message.to) == ("[LetsGrow] Not published: still waiting for review", [editor.email])
    assert (
        f"Your post “Spring sale starts” in {workspace.name} was due at 09:00 on Monday 30 March 2026 "
        "(Europe/Berlin) on X · shop, but it was still waiting for review, so it was not published."
    ) in message.body
    assert list(PostEvent.objects.filter(post=post).values_list("target", "actor_label", "reason")) == [
        (target.pk, "scheduler", "Not published: still waiting for review at 2026-03-30 07:00 UTC.")
    ]
    target.refresh_from_db()
    post.refresh_from_db()
    assert (target.status, post.status) == (TS.PENDING, PS.PENDING_REVIEW)


@pytest.mark.parametrize(
    ("scheduled_at", "status"),
    [
        (datetime(2026, 3, 30, 8, 0, tzinfo=UTC), PS.PENDING_REVIEW),  # not its time yet
        (datetime(2026, 3, 30, 7, 0, tzinfo=UTC), PS.APPROVED),  # approved: scheduling's business
        (None, PS.PENDING_REVIEW),  # never scheduled
    ],
)
def test_no_one_is_told_about_posts_that_are_not_overdue_in_review(workspace, editor, scheduled_at, status):
    post, _target = _overdue_post(workspace, editor, scheduled_at=scheduled_at, status=status)

    assert notify_pending_at_time(now=datetime(2026, 3, 30, 7, 1, tzinfo=UTC)) == 0

    assert mail.outbox == []
    assert not PostEvent.objects.filter(post=post).exists()


def test_the_periodic_task_calls_the_helper(workspace, editor):
    _overdue_post(workspace, editor, scheduled_at=datetime(2026, 3, 30, 7, 0, tzinfo=UTC))

    assert notify_pending_overdue() == 1
    assert len(mail.outbox) == 1


def test_a_staff_member_without_a_membership_is_not_a_scheduler(workspace, deliveries):
    post = _approved_post(workspace)
    staff = UserFactory(is_staff=True)

    with pytest.raises(PermissionDenied):
        schedule_post(post=post, actor=staff, when_local=wall(2026, 4, 1, 9, 0), tz="Europe/Berlin", now=NOW)

    _unchanged(post)


def test_editing_with_the_line_ends_a_browser_sends_changes_nothing(workspace, editor):
    """A textarea comes back with CRLF line ends: an approved post saved unchanged stays approved."""
    account = SocialAccountFactory(workspace=workspace)
    post = create_post(workspace=workspace, author=editor, text="Line one\n\nLine two #tag", account_ids=[account.pk])
    transition(post, PS.APPROVED, actor_label="test")

    edit_post(post=post, actor=editor, text="Line one\r\n\r\nLine two #tag")

    post.refresh_from_db()
    assert (post.status, post.text) == (PS.APPROVED, "Line one\n\nLine two #tag")


# --------------------------------------------------------------------------- the plan's posts per day, when scheduling


def _on_day(workspace, status, when, **fields):
    """A target of another post, `status` on the Berlin day of `when`."""
    at = {"published_at": when} if status == TS.PUBLISHED else {"scheduled_at": when}
    return PostTargetFactory(post=PostFactory(workspace=workspace, status=PS.SCHEDULED), status=status, **at, **fields)


def test_a_day_the_free_plan_has_filled_is_refused_when_scheduling_and_another_day_is_not(
    workspace, editor, deliveries
):
    # Free: 2 a day. 1 March (Berlin) already has one published and one scheduled.
    _on_day(workspace, TS.PUBLISHED, datetime(2026, 3, 1, 8, 0, tzinfo=UTC))
    _on_day(workspace, TS.SCHEDULED, datetime(2026, 3, 1, 22, 30, tzinfo=UTC))  # 23:30 in Berlin: still the 1st
    _on_day(workspace, TS.SCHEDULED, datetime(2026, 3, 1, 23, 30, tzinfo=UTC))  # 00:30 on the 2nd in Berlin
    post = _approved_post(workspace)

    with pytest.raises(ValidationError) as refused:
        schedule_post(post=post, actor=editor, when_local=wall(2026, 3, 1, 18, 0), tz="Europe/Berlin", now=NOW)

    assert refused.value.code == "plan_limit"
    assert refused.value.messages == [
        "The Free plan allows 2 posts per day and Sun 1 Mar already has 2 (published or scheduled), so it would not "
        "all go out. Choose another day, post to fewer accounts, or upgrade."
    ]
    _unchanged(post)
    schedule_post(post=post, actor=editor, when_local=wall(2026, 3, 2, 18, 0), tz="Europe/Berlin", now=NOW)
    assert post.targets.get().status == TS.SCHEDULED


def test_post_now_to_more_accounts_than_the_day_allows_is_refused_before_anything_goes_out(
    workspace, editor, deliveries
):
    post = _approved_post(workspace, accounts=3)

    with pytest.raises(ValidationError, match="allows 2 posts per day and this goes to 3 accounts"):
        schedule_post(post=post, actor=editor, when_local=None, tz="Europe/Berlin", post_now=True, now=NOW)

    _unchanged(post)
    deliveries.assert_not_called()


def test_moving_a_scheduled_post_within_its_day_does_not_count_it_twice(workspace, editor, deliveries):
    _on_day(workspace, TS.PUBLISHED, datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    post = _approved_post(workspace)
    schedule_post(post=post, actor=editor, when_local=wall(2026, 3, 2, 18, 0), tz="Europe/Berlin", now=NOW)

    schedule_post(post=post, actor=editor, when_local=wall(2026, 3, 2, 20, 0), tz="Europe/Berlin", now=NOW)

    assert post.targets.get().scheduled_at == datetime(2026, 3, 2, 19, 0, tzinfo=UTC)


def test_retrying_on_a_full_day_is_refused_and_the_target_stays_failed(workspace, editor, deliveries):
    _on_day(workspace, TS.PUBLISHED, datetime(2026, 3, 1, 8, 0, tzinfo=UTC))
    _on_day(workspace, TS.PUBLISHED, datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    failed = _on_day(workspace, TS.FAILED, datetime(2026, 3, 1, 10, 0, tzinfo=UTC))

    with pytest.raises(ValidationError, match="Sun 1 Mar already has 2"):
        retry_target(target=failed, actor=editor, now=NOW)

    failed.refresh_from_db()
    assert failed.status == TS.FAILED


def test_a_plan_without_a_daily_limit_schedules_any_number(workspace, editor, deliveries):
    from billing.models import Subscription

    Subscription.objects.create(workspace=workspace, plan="agency")
    for hour in range(8, 13):
        _on_day(workspace, TS.SCHEDULED, datetime(2026, 3, 2, hour, 0, tzinfo=UTC))
    post = _approved_post(workspace, accounts=3)

    schedule_post(post=post, actor=editor, when_local=wall(2026, 3, 2, 18, 0), tz="Europe/Berlin", now=NOW)

    assert set(post.targets.values_list("status", flat=True)) == {TS.SCHEDULED}

"""The queue: "add to queue" takes each account's next free slot; slots come from the account or the automation."""

from __future__ import annotations

from datetime import UTC, datetime, time
from unittest import mock

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from content.models import Post
from publishing.models import AutomationSettings, PostEvent, PostTarget, QueueSlot
from publishing.scheduling import add_to_queue, ensure_default_slots, set_queue_slots
from publishing.tests.factories import PostFactory, PostTargetFactory, SocialAccountFactory
from tests.factories import MembershipFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

PS, TS = Post.Status, PostTarget.Status
# Week of Monday 6 April 2026; Berlin is on summer time (UTC+2).
TUESDAY_NOON_BERLIN = datetime(2026, 4, 7, 10, 0, tzinfo=UTC)
MON, TUE, WED, SAT, SUN = 0, 1, 2, 5, 6


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


@pytest.fixture
def editor(workspace):
    return MembershipFactory(workspace=workspace, role="editor").user


@pytest.fixture
def account(workspace):
    return SocialAccountFactory(workspace=workspace, handle="shop")


def _slots(account, *slots):
    for weekday, hh_mm in slots:
        QueueSlot.objects.create(
            workspace=account.workspace, social_account=account, weekday=weekday, time_of_day=time.fromisoformat(hh_mm)
        )


def _approved_post(workspace, *accounts, status=PS.APPROVED):
    post = PostFactory(workspace=workspace, status=status)
    for account in accounts:
        PostTargetFactory(post=post, social_account=account)
    return post


def _taken(account, when, status=TS.SCHEDULED):
    """Another post of `account` at `when`."""
    return PostTargetFactory(
        post=PostFactory(workspace=account.workspace, status=PS.SCHEDULED),
        social_account=account,
        scheduled_at=when,
        status=status,
    )


def _queued_at(workspace, editor, account, now=TUESDAY_NOON_BERLIN):
    post = _approved_post(workspace, account)
    add_to_queue(post=post, actor=editor, now=now)
    return post.targets.get().scheduled_at


# --------------------------------------------------------------------------- add_to_queue


def test_add_to_queue_takes_the_next_slot(workspace, editor, account, deliveries, django_capture_on_commit_callbacks):
    _slots(account, (MON, "09:00"), (WED, "14:00"))
    post = _approved_post(workspace, account)

    with django_capture_on_commit_callbacks(execute=True):
        add_to_queue(post=post, actor=editor, now=TUESDAY_NOON_BERLIN)

    post.refresh_from_db()
    target = post.targets.get()
    wednesday_14_berlin = datetime(2026, 4, 8, 12, 0, tzinfo=UTC)
    assert post.status == PS.SCHEDULED
    assert (target.status, target.scheduled_at, target.schedule_timezone) == (
        TS.SCHEDULED,
        wednesday_14_berlin,
        "Europe/Berlin",
    )
    assert deliveries.call_args_list == [mock.call(at=wednesday_14_berlin)]
    assert (
        PostEvent.objects.get(target=target).reason == "Scheduled for 14:00 on Wednesday 8 April 2026 (Europe/Berlin)."
    )


def test_add_to_queue_skips_taken_slots_and_crosses_into_next_week(workspace, editor, account, deliveries):
    _slots(account, (MON, "09:00"), (WED, "14:00"))
    _taken(account, datetime(2026, 4, 8, 12, 0, tzinfo=UTC))

    assert _queued_at(workspace, editor, account) == datetime(2026, 4, 13, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Saturday: the only slot, Monday 09:00, is next week.
        (datetime(2026, 4, 11, 10, 0, tzinfo=UTC), datetime(2026, 4, 13, 7, 0, tzinfo=UTC)),
        # Wednesday 13:00 local: today's 14:00 is still ahead.
        (datetime(2026, 4, 8, 11, 0, tzinfo=UTC), datetime(2026, 4, 8, 12, 0, tzinfo=UTC)),
        # Wednesday exactly 14:00 local: that slot is not *after* now, so next Monday.
        (datetime(2026, 4, 8, 12, 0, tzinfo=UTC), datetime(2026, 4, 13, 7, 0, tzinfo=UTC)),
        # Sunday late evening: wraps to Monday.
        (datetime(2026, 4, 12, 21, 0, tzinfo=UTC), datetime(2026, 4, 13, 7, 0, tzinfo=UTC)),
    ],
)
def test_add_to_queue_looks_after_now(workspace, editor, account, deliveries, now, expected):
    _slots(account, (MON, "09:00"), (WED, "14:00"))

    assert _queued_at(workspace, editor, account, now=now) == expected


def test_a_cancelled_post_does_not_hold_its_slot(workspace, editor, account, deliveries):
    _slots(account, (WED, "14:00"))
    _taken(account, datetime(2026, 4, 8, 12, 0, tzinfo=UTC), status=TS.CANCELLED)

    assert _queued_at(workspace, editor, account) == datetime(2026, 4, 8, 12, 0, tzinfo=UTC)


def test_another_accounts_post_does_not_take_the_slot(workspace, editor, account, deliveries):
    _slots(account, (WED, "14:00"))
    _taken(SocialAccountFactory(workspace=workspace), datetime(2026, 4, 8, 12, 0, tzinfo=UTC))

    assert _queued_at(workspace, editor, account) == datetime(2026, 4, 8, 12, 0, tzinfo=UTC)


def test_each_account_gets_its_own_next_slot(workspace, editor, account, deliveries):
    other = SocialAccountFactory(workspace=workspace)
    _slots(account, (MON, "09:00"))
    _slots(other, (WED, "14:00"))
    post = _approved_post(workspace, account, other)

    add_to_queue(post=post, actor=editor, now=TUESDAY_NOON_BERLIN)

    assert list(post.targets.order_by("pk").values_list("social_account", "scheduled_at")) == [
        (account.pk, datetime(2026, 4, 13, 7, 0, tzinfo=UTC)),
        (other.pk, datetime(2026, 4, 8, 12, 0, tzinfo=UTC)),
    ]


def test_without_slots_the_automation_posting_times_are_used_every_day(workspace, editor, account, deliveries):
    AutomationSettings.objects.create(workspace=workspace, posting_times=["09:15", "17:30"], posts_per_day=2)

    # Tuesday 12:00 local: 09:15 has passed, 17:30 is next.
    assert _queued_at(workspace, editor, account) == datetime(2026, 4, 7, 15, 30, tzinfo=UTC)


def test_without_any_settings_the_default_posting_times_are_used(workspace, editor, account, deliveries):
    assert _queued_at(workspace, editor, account) == datetime(2026, 4, 7, 13, 0, tzinfo=UTC)  # 15:00 local


def test_posts_per_day_leaves_a_full_day_out(workspace, editor, account, deliveries):
    AutomationSettings.objects.create(workspace=workspace, posting_times=["09:00"], posts_per_day=1)
    _slots(account, *[(day, "09:00") for day in range(7)], *[(day, "15:00") for day in range(7)])
    _taken(account, datetime(2026, 4, 7, 7, 0, tzinfo=UTC), status=TS.PUBLISHED)  # Tuesday 09:00 local

    # Tuesday 15:00 is free, but Tuesday already has its one post: Wednesday 09:00.
    assert _queued_at(workspace, editor, account) == datetime(2026, 4, 8, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("tz", "now", "slots", "expected"),
    [
        # Berlin springs forward on Sunday 29 March 2026: 09:00 that day is 07:00 UTC (the day before: 08:00).
        (
            "Europe/Berlin",
            datetime(2026, 3, 28, 10, 0, tzinfo=UTC),
            [(SUN, "09:00")],
            datetime(2026, 3, 29, 7, 0, tzinfo=UTC),
        ),
        # 02:30 does not exist that Sunday: that slot is skipped, not moved.
        (
            "Europe/Berlin",
            datetime(2026, 3, 28, 10, 0, tzinfo=UTC),
            [(SUN, "02:30"), (SUN, "09:00")],
            datetime(2026, 3, 29, 7, 0, tzinfo=UTC),
        ),
        # Berlin falls back on Sunday 25 October 2026: 02:30 happens twice; the first one (summer time).
        (
            "Europe/Berlin",
            datetime(2026, 10, 24, 10, 0, tzinfo=UTC),
            [(SUN, "02:30")],
            datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        ),
        # Monday after the switch: 09:00 is 08:00 UTC again.
        (
            "Europe/Berlin",
            datetime(2026, 10, 25, 10, 0, tzinfo=UTC),
            [(MON, "09:00")],
            datetime(2026, 10, 26, 8, 0, tzinfo=UTC),
        ),
        # New York springs forward on Sunday 8 March 2026 (EST, UTC-5 → EDT, UTC-4).
        (
            "America/New_York",
            datetime(2026, 3, 7, 15, 0, tzinfo=UTC),
            [(SUN, "09:00")],
            datetime(2026, 3, 8, 13, 0, tzinfo=UTC),
        ),
        # ... and falls back on Sunday 1 November 2026.
        (
            "America/New_York",
            datetime(2026, 10, 31, 15, 0, tzinfo=UTC),
            [(MON, "09:00")],
            datetime(2026, 11, 2, 14, 0, tzinfo=UTC),
        ),
    ],
)
def test_queue_slots_are_local_times_across_dst(deliveries, tz, now, slots, expected):
    workspace = WorkspaceFactory(timezone=tz)
    actor = MembershipFactory(workspace=workspace, role="editor").user
    account = SocialAccountFactory(workspace=workspace)
    _slots(account, *slots)

    assert _queued_at(workspace, actor, account, now=now) == expected
    assert PostTarget.objects.get(social_account=account).schedule_timezone == tz


def test_add_to_queue_says_when_nothing_is_free(workspace, editor, account, deliveries):
    AutomationSettings.objects.create(workspace=workspace, posting_times=[], posts_per_day=1)
    post = _approved_post(workspace, account)

    with pytest.raises(ValidationError) as excinfo:
        add_to_queue(post=post, actor=editor, now=TUESDAY_NOON_BERLIN)

    assert excinfo.value.messages == [
        "X · shop has no free queue slot in the next 366 days. Add posting times to its queue, or choose a time."
    ]
    post.refresh_from_db()
    assert post.status == PS.APPROVED
    assert list(post.targets.values_list("status", "scheduled_at")) == [(TS.PENDING, None)]


def test_add_to_queue_needs_approval_when_review_is_on(workspace, editor, account, deliveries):
    _slots(account, (WED, "14:00"))
    post = _approved_post(workspace, account, status=PS.PENDING_REVIEW)

    with pytest.raises(ValidationError) as excinfo:
        add_to_queue(post=post, actor=editor, now=TUESDAY_NOON_BERLIN)

    assert excinfo.value.messages == ["This post needs to be approved before it can be scheduled."]
    post.refresh_from_db()
    assert post.status == PS.PENDING_REVIEW
    assert list(post.targets.values_list("status", "scheduled_at")) == [(TS.PENDING, None)]
    assert deliveries.call_count == 0


def test_add_to_queue_auto_approves_a_manual_post_when_review_is_off(workspace, editor, account, deliveries):
    AutomationSettings.objects.create(workspace=workspace, review_before_posting=False)
    _slots(account, (WED, "14:00"))
    post = _approved_post(workspace, account, status=PS.DRAFT)

    add_to_queue(post=post, actor=editor, now=TUESDAY_NOON_BERLIN)

    post.refresh_from_db()
    assert post.status == PS.SCHEDULED
    assert list(PostEvent.objects.filter(post=post, target=None).values_list("from_status", "to_status")) == [
        (PS.DRAFT, PS.APPROVED),
        (PS.APPROVED, PS.SCHEDULED),
    ]


def test_add_to_queue_refuses_a_scheduled_post(workspace, editor, account, deliveries):
    post = PostFactory(workspace=workspace, status=PS.SCHEDULED)
    PostTargetFactory(post=post, social_account=account, status=TS.SCHEDULED)

    with pytest.raises(ValidationError) as excinfo:
        add_to_queue(post=post, actor=editor, now=TUESDAY_NOON_BERLIN)

    assert excinfo.value.messages == ["This post is already scheduled. Unschedule it first, or choose a new time."]
    assert not PostEvent.objects.exists()


@pytest.mark.parametrize("role", ["viewer", "approver"])
def test_only_members_who_may_schedule_add_to_the_queue(workspace, account, deliveries, role):
    post = _approved_post(workspace, account)
    actor = MembershipFactory(workspace=workspace, role=role).user

    with pytest.raises(PermissionDenied):
        add_to_queue(post=post, actor=actor, now=TUESDAY_NOON_BERLIN)

    post.refresh_from_db()
    assert post.status == PS.APPROVED
    assert list(post.targets.values_list("status", "scheduled_at")) == [(TS.PENDING, None)]


# --------------------------------------------------------------------------- set_queue_slots, ensure_default_slots


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_set_queue_slots_replaces_the_schedule(workspace, account, role):
    _slots(account, (MON, "08:00"))
    actor = MembershipFactory(workspace=workspace, role=role).user

    slots = set_queue_slots(account=account, slots=[(WED, "14:00"), (MON, " 09:30"), (WED, "14:00")], actor=actor)

    expected = [(MON, time(9, 30)), (WED, time(14, 0))]
    assert [(slot.weekday, slot.time_of_day) for slot in slots] == expected
    assert list(QueueSlot.objects.filter(social_account=account).values_list("weekday", "time_of_day")) == expected


def test_set_queue_slots_refuses_bad_input_and_keeps_the_old_schedule(workspace, account):
    _slots(account, (MON, "08:00"))
    owner = MembershipFactory(workspace=workspace, role="owner").user

    with pytest.raises(ValidationError) as excinfo:
        set_queue_slots(account=account, slots=[(7, "09:00"), (MON, "9:00"), (TUE, "24:00")], actor=owner)

    assert excinfo.value.messages == [
        "“7” is not a day of the week (0 = Monday … 6 = Sunday).",
        "Write times as HH:MM (24-hour), e.g. 09:30; “9:00” is not.",
        "Write times as HH:MM (24-hour), e.g. 09:30; “24:00” is not.",
    ]
    assert excinfo.value.code == "slots"
    assert list(QueueSlot.objects.filter(social_account=account).values_list("weekday", "time_of_day")) == [
        (MON, time(8, 0))
    ]


def test_editor_cannot_change_the_posting_schedule(workspace, editor, account):
    _slots(account, (MON, "08:00"))

    with pytest.raises(PermissionDenied):
        set_queue_slots(account=account, slots=[(WED, "14:00")], actor=editor)

    assert list(QueueSlot.objects.filter(social_account=account).values_list("weekday", "time_of_day")) == [
        (MON, time(8, 0))
    ]


def test_ensure_default_slots_fills_accounts_without_a_schedule(workspace, account):
    AutomationSettings.objects.create(workspace=workspace, posting_times=["09:15", "17:30"], posts_per_day=2)
    configured = SocialAccountFactory(workspace=workspace)
    _slots(configured, (MON, "08:00"))
    SocialAccountFactory(workspace=workspace, status="revoked")

    created = ensure_default_slots(workspace=workspace)
    again = ensure_default_slots(workspace=workspace)

    expected = [(day, t) for day in range(7) for t in (time(9, 15), time(17, 30))]
    assert len(created) == 14
    assert again == []
    assert list(QueueSlot.objects.filter(social_account=account).values_list("weekday", "time_of_day")) == expected
    assert list(QueueSlot.objects.filter(social_account=configured).values_list("weekday", "time_of_day")) == [
        (MON, time(8, 0))
    ]
    assert QueueSlot.objects.count() == 15


# --------------------------------------------------------------------------- the plan's posts per day


def test_the_queue_skips_a_day_the_plan_has_filled_for_the_workspace(workspace, editor, account, deliveries):
    # Free: 2 posts a day. Tuesday already has two of the workspace's posts, on another account.
    other = SocialAccountFactory(workspace=workspace, handle="other")
    _taken(other, datetime(2026, 4, 7, 7, 0, tzinfo=UTC), status=TS.PUBLISHED)  # published earlier
    PostTarget.objects.filter(social_account=other).update(published_at=datetime(2026, 4, 7, 7, 0, 5, tzinfo=UTC))
    _taken(other, datetime(2026, 4, 7, 16, 0, tzinfo=UTC))
    _slots(account, (TUE, "15:00"), (WED, "09:00"))

    assert _queued_at(workspace, editor, account) == datetime(2026, 4, 8, 7, 0, tzinfo=UTC)  # Wednesday 09:00


def test_queueing_one_post_to_more_accounts_than_a_day_allows_spills_into_the_next_day(workspace, editor, deliveries):
    accounts = [SocialAccountFactory(workspace=workspace, handle=f"shop{n}") for n in range(3)]
    for account in accounts:
        _slots(account, (TUE, "15:00"), (WED, "09:00"))
    post = _approved_post(workspace, *accounts)

    add_to_queue(post=post, actor=editor, now=TUESDAY_NOON_BERLIN)

    times = sorted(post.targets.values_list("scheduled_at", flat=True))
    tuesday_15, wednesday_9 = datetime(2026, 4, 7, 13, 0, tzinfo=UTC), datetime(2026, 4, 8, 7, 0, tzinfo=UTC)
    assert times == [tuesday_15, tuesday_15, wednesday_9]

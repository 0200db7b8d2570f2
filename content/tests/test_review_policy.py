"""The review policy and the review services: who must be reviewed, who may review, and what each decision does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from waffle.testutils import override_switch

from billing.models import Subscription
from content.models import Post
from letsgrow.features import AI_AUTOPOST
from publishing import scheduling
from publishing.models import AutomationSettings, PostEvent, PostTarget, QueueSlot, SocialAccount
from publishing.tests.factories import PostFactory, PostTargetFactory, SocialAccountFactory
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

PS, TS = Post.Status, PostTarget.Status
FUTURE = datetime.now(tz=UTC).replace(microsecond=0, second=0) + timedelta(days=30)


@pytest.fixture(autouse=True)
def deliveries(monkeypatch):
    from publishing import dispatch

    request = mock.Mock()
    monkeypatch.setattr(dispatch, "request_dispatch", request)
    return request


@pytest.fixture
def workspace():
    return WorkspaceFactory(timezone="Europe/Berlin")


def _post(workspace, status=PS.PENDING_REVIEW, *, source=Post.Source.MANUAL, **kwargs):
    post = PostFactory(workspace=workspace, status=status, source=source, text="Original text", **kwargs)
    PostTargetFactory(post=post, social_account=SocialAccountFactory(workspace=workspace, platform="x"))
    return post


def _reviewer_staff(**kwargs):
    user = UserFactory(is_staff=True, **kwargs)
    user.user_permissions.add(Permission.objects.get(codename="approve_post", content_type__app_label="content"))
    return user


def _local(*parts: int) -> datetime:
    """A wall-clock time, naive on purpose: the services read it in the zone given with it."""
    return datetime(*parts)  # noqa: DTZ001


def _events(post):
    return list(PostEvent.objects.filter(post=post, target=None).values_list("from_status", "to_status", "reason"))


# --------------------------------------------------------------------------- the policy


def _setup(workspace, *, review: bool | None, ai_allowed: bool = False, plan: str = "free") -> None:
    if review is not None:
        AutomationSettings.objects.create(
            workspace=workspace, review_before_posting=review, ai_autopost_allowed=ai_allowed
        )
    Subscription.objects.create(workspace=workspace, plan=plan)


@pytest.mark.parametrize(
    ("review", "expected"),
    [(None, True), (True, True), (False, False)],
)
def test_manual_posts_skip_review_only_where_the_owner_turned_it_off(workspace, review, expected):
    _setup(workspace, review=review)

    assert scheduling._review_required(_post(workspace, source=Post.Source.MANUAL)) is expected


@pytest.mark.parametrize(
    ("ai_allowed", "plan", "switch", "expected"),
    [
        (True, "pro", True, False),  # all three allow it
        (False, "pro", True, True),  # staff did not allow it
        (True, "free", True, True),  # the plan has no advanced AI
        (True, "pro", False, True),  # the feature switch is off
        (False, "free", False, True),
    ],
)
def test_ai_posts_skip_review_only_when_staff_plan_and_switch_all_allow_it(
    workspace, ai_allowed, plan, switch, expected
):
    _setup(workspace, review=False, ai_allowed=ai_allowed, plan=plan)
    post = _post(workspace, source=Post.Source.AI)

    with override_switch(AI_AUTOPOST, active=switch):
        assert scheduling._review_required(post) is expected


def test_ai_posts_without_automation_settings_need_review(workspace):
    Subscription.objects.create(workspace=workspace, plan="agency")

    with override_switch(AI_AUTOPOST, active=True):
        assert scheduling._review_required(_post(workspace, source=Post.Source.AI)) is True


@pytest.mark.parametrize("review", [None, True, False])
def test_template_posts_always_need_review(workspace, review):
    _setup(workspace, review=review, ai_allowed=True, plan="agency")

    with override_switch(AI_AUTOPOST, active=True):
        assert scheduling._review_required(_post(workspace, source=Post.Source.TEMPLATE)) is True


@pytest.mark.parametrize(
    ("source", "switch", "scheduled"),
    [
        (Post.Source.MANUAL, False, True),
        (Post.Source.AI, True, True),
        (Post.Source.AI, False, False),
        (Post.Source.TEMPLATE, True, False),
    ],
)
def test_scheduling_a_draft_follows_the_policy(workspace, source, switch, scheduled):
    _setup(workspace, review=False, ai_allowed=True, plan="pro")
    editor = MembershipFactory(workspace=workspace, role="editor").user
    post = _post(workspace, PS.DRAFT, source=source)

    with override_switch(AI_AUTOPOST, active=switch):
        if scheduled:
            scheduling.schedule_post(post=post, actor=editor, when_local=None, tz="UTC", post_now=True, now=FUTURE)
        else:
            with pytest.raises(ValidationError) as excinfo:
                scheduling.schedule_post(post=post, actor=editor, when_local=None, tz="UTC", post_now=True, now=FUTURE)
            assert excinfo.value.messages == ["This post needs to be approved before it can be scheduled."]

    post.refresh_from_db()
    assert post.status == (PS.SCHEDULED if scheduled else PS.DRAFT)


def test_editing_an_approved_ai_post_sends_it_back_even_where_manual_posts_skip_review(workspace):
    _setup(workspace, review=False)
    post = _post(workspace, PS.APPROVED, source=Post.Source.AI)

    scheduling.edit_post(post=post, actor=MembershipFactory(workspace=workspace, role="editor").user, text="New")

    post.refresh_from_db()
    assert post.status == PS.PENDING_REVIEW


# --------------------------------------------------------------------------- the queue's clock


def test_submitting_stamps_when_the_post_joined_the_queue(workspace):
    editor = MembershipFactory(workspace=workspace, role="editor").user
    post = _post(workspace, PS.DRAFT)
    before = datetime.now(tz=UTC)

    scheduling.submit_for_review(post=post, actor=editor)

    post.refresh_from_db()
    assert post.status == PS.PENDING_REVIEW
    assert before <= post.submitted_at <= datetime.now(tz=UTC)


def test_an_edit_that_sends_a_post_back_to_review_puts_it_at_the_end_of_the_queue(workspace):
    long_ago = datetime(2026, 1, 1, tzinfo=UTC)
    post = _post(workspace, PS.APPROVED, submitted_at=long_ago)

    scheduling.edit_post(post=post, actor=MembershipFactory(workspace=workspace, role="editor").user, text="New")

    post.refresh_from_db()
    assert post.status == PS.PENDING_REVIEW
    assert post.submitted_at > long_ago


# --------------------------------------------------------------------------- who may review


def test_staff_with_the_approve_permission_review_any_workspace(workspace):
    post = _post(workspace)

    scheduling.approve_post(post=post, actor=_reviewer_staff())

    post.refresh_from_db()
    assert post.status == PS.APPROVED


@pytest.mark.parametrize(
    "make_actor",
    [
        pytest.param(lambda workspace: UserFactory(is_staff=True), id="staff without the permission"),
        pytest.param(lambda workspace: _reviewer_staff(is_active=False), id="inactive staff"),
        pytest.param(
            lambda workspace: UserFactory(is_staff=False, is_superuser=False), id="a customer who is not a member"
        ),
        pytest.param(lambda workspace: MembershipFactory(workspace=workspace, role="editor").user, id="an editor"),
    ],
)
@pytest.mark.parametrize("decision", ["approve", "reject", "changes", "schedule"])
def test_everyone_else_is_refused(workspace, make_actor, decision):
    post = _post(workspace)
    actor = make_actor(workspace)
    calls = {
        "approve": lambda: scheduling.approve_post(post=post, actor=actor),
        "reject": lambda: scheduling.reject_post(post=post, actor=actor, reason="No"),
        "changes": lambda: scheduling.request_changes(post=post, actor=actor, comment="Fix it"),
        "schedule": lambda: scheduling.approve_and_schedule(post=post, actor=actor),
    }

    with pytest.raises(PermissionDenied):
        calls[decision]()

    post.refresh_from_db()
    assert post.status == PS.PENDING_REVIEW
    assert not PostEvent.objects.exists()


@pytest.mark.parametrize("role", ["approver", "admin", "owner"])
def test_workspace_reviewers_may_request_changes(workspace, role):
    post = _post(workspace)

    scheduling.request_changes(
        post=post, actor=MembershipFactory(workspace=workspace, role=role).user, comment="  Shorter  "
    )

    post.refresh_from_db()
    assert post.status == PS.DRAFT
    assert _events(post) == [(PS.PENDING_REVIEW, PS.DRAFT, "Shorter")]


# --------------------------------------------------------------------------- request changes


@pytest.mark.parametrize("comment", ["", "  "])
def test_request_changes_needs_a_comment(workspace, comment):
    post = _post(workspace)

    with pytest.raises(ValidationError) as excinfo:
        scheduling.request_changes(post=post, actor=_reviewer_staff(), comment=comment)

    assert excinfo.value.messages == ["Say what should change, so the author knows what to do."]
    post.refresh_from_db()
    assert post.status == PS.PENDING_REVIEW


@pytest.mark.parametrize("status", [PS.DRAFT, PS.APPROVED, PS.SCHEDULED, PS.REJECTED])
def test_request_changes_only_to_posts_waiting_for_review(workspace, status):
    post = _post(workspace, status)

    with pytest.raises(ValidationError) as excinfo:
        scheduling.request_changes(post=post, actor=_reviewer_staff(), comment="Shorter")

    assert excinfo.value.code == "status"
    post.refresh_from_db()
    assert post.status == status


def test_a_post_sent_back_for_changes_can_be_submitted_again(workspace):
    post = _post(workspace)
    scheduling.request_changes(post=post, actor=_reviewer_staff(), comment="Shorter")

    scheduling.submit_for_review(post=post, actor=MembershipFactory(workspace=workspace, role="editor").user)

    post.refresh_from_db()
    assert post.status == PS.PENDING_REVIEW


# --------------------------------------------------------------------------- approve and schedule


def test_approve_and_schedule_at_a_local_time(workspace, deliveries, django_capture_on_commit_callbacks):
    post = _post(workspace)

    with django_capture_on_commit_callbacks(execute=True):
        scheduling.approve_and_schedule(
            post=post, actor=_reviewer_staff(), when_local=_local(2031, 7, 1, 9, 30), tz="Europe/Berlin"
        )

    post.refresh_from_db()
    target = post.targets.get()
    assert (post.status, target.status) == (PS.SCHEDULED, TS.SCHEDULED)
    assert (target.scheduled_at, target.schedule_timezone) == (datetime(2031, 7, 1, 7, 30, tzinfo=UTC), "Europe/Berlin")
    assert deliveries.call_args_list == [mock.call(at=datetime(2031, 7, 1, 7, 30, tzinfo=UTC))]


def test_approve_and_schedule_at_the_next_free_queue_slot(workspace):
    post = _post(workspace)
    account = post.targets.get().social_account
    QueueSlot.objects.create(workspace=workspace, social_account=account, weekday=2, time_of_day="08:15")
    now = datetime(2030, 6, 3, 12, 0, tzinfo=UTC)  # a Monday

    scheduling.approve_and_schedule(post=post, actor=_reviewer_staff(), now=now)

    target = post.targets.get()
    assert target.scheduled_at == datetime(2030, 6, 5, 6, 15, tzinfo=UTC)  # Wednesday 08:15 in Berlin (UTC+2)


def test_approve_and_schedule_refuses_a_past_time_and_changes_nothing(workspace):
    post = _post(workspace)

    with pytest.raises(ValidationError) as excinfo:
        scheduling.approve_and_schedule(post=post, actor=_reviewer_staff(), when_local=_local(2020, 1, 1, 9, 0))

    assert excinfo.value.code == "past"
    post.refresh_from_db()
    assert post.status == PS.PENDING_REVIEW
    assert not PostEvent.objects.exists()


def test_approve_and_schedule_refuses_an_account_to_reconnect_without_approving(workspace):
    post = _post(workspace)
    SocialAccount.objects.filter(workspace=workspace).update(status=SocialAccount.Status.RECONNECT_NEEDED)

    with pytest.raises(ValidationError) as excinfo:
        scheduling.approve_and_schedule(post=post, actor=_reviewer_staff(), when_local=FUTURE.replace(tzinfo=None))

    assert "Reconnect" in excinfo.value.messages[0]
    post.refresh_from_db()
    assert post.status == PS.PENDING_REVIEW
    assert not PostEvent.objects.exists()

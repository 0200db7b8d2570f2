"""Review: submit, approve, reject, and edits that send a post back to review while keeping its schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from content.models import Post
from publishing.models import AutomationSettings, PostEvent, PostTarget
from publishing.scheduling import (
    BACK_TO_REVIEW_REASON,
    approve_post,
    edit_post,
    reject_post,
    schedule_post,
    submit_for_review,
)
from publishing.tests.factories import PostFactory, PostTargetFactory, SocialAccountFactory
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

PS, TS = Post.Status, PostTarget.Status
# A future date: approving resumes a kept schedule only when its time is still ahead of the real clock.
FUTURE = datetime.now(tz=UTC).replace(microsecond=0) + timedelta(days=30)


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


def _member(workspace, role):
    return MembershipFactory(workspace=workspace, role=role).user


def _post(workspace, status, *, accounts=1, **kwargs):
    post = PostFactory(workspace=workspace, status=status, text="Original text", **kwargs)
    for _ in range(accounts):
        PostTargetFactory(post=post, social_account=SocialAccountFactory(workspace=workspace, platform="x"))
    return post


def _events(post):
    return list(PostEvent.objects.filter(post=post, target=None).values_list("from_status", "to_status", "reason"))


# --------------------------------------------------------------------------- submit


@pytest.mark.parametrize("status", [PS.DRAFT, PS.REJECTED])
def test_submit_for_review(workspace, status):
    editor = _member(workspace, "editor")
    post = _post(workspace, status)

    submit_for_review(post=post, actor=editor)

    post.refresh_from_db()
    assert post.status == PS.PENDING_REVIEW
    assert _events(post) == [(status, PS.PENDING_REVIEW, "Submitted for review.")]


@pytest.mark.parametrize("status", [PS.PENDING_REVIEW, PS.APPROVED, PS.SCHEDULED, PS.PUBLISHED])
def test_submit_refuses_posts_that_are_past_writing(workspace, status):
    post = _post(workspace, status)

    with pytest.raises(ValidationError):
        submit_for_review(post=post, actor=_member(workspace, "editor"))

    post.refresh_from_db()
    assert post.status == status
    assert _events(post) == []


@pytest.mark.parametrize("role", ["viewer", "approver"])
def test_only_writers_submit(workspace, role):
    post = _post(workspace, PS.DRAFT)

    with pytest.raises(PermissionDenied):
        submit_for_review(post=post, actor=_member(workspace, role))

    post.refresh_from_db()
    assert post.status == PS.DRAFT


# --------------------------------------------------------------------------- approve and reject


@pytest.mark.parametrize("role", ["approver", "admin", "owner"])
def test_members_who_may_approve_can(workspace, role):
    post = _post(workspace, PS.PENDING_REVIEW)
    actor = _member(workspace, role)

    approve_post(post=post, actor=actor, reason="Looks good")

    post.refresh_from_db()
    assert post.status == PS.APPROVED
    event = PostEvent.objects.get(post=post)
    assert (event.from_status, event.to_status, event.actor, event.reason) == (
        PS.PENDING_REVIEW,
        PS.APPROVED,
        actor,
        "Looks good",
    )


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_editors_and_viewers_cannot_approve(workspace, role):
    post = _post(workspace, PS.PENDING_REVIEW)

    with pytest.raises(PermissionDenied) as excinfo:
        approve_post(post=post, actor=_member(workspace, role))

    assert str(excinfo.value) == f"Your role ({role}) does not allow this (approve)."
    post.refresh_from_db()
    assert post.status == PS.PENDING_REVIEW
    assert not PostEvent.objects.exists()


def test_an_approver_of_another_workspace_cannot_approve(workspace):
    post = _post(workspace, PS.PENDING_REVIEW)
    outsider = MembershipFactory(role="approver").user

    with pytest.raises(PermissionDenied):
        approve_post(post=post, actor=outsider)

    post.refresh_from_db()
    assert post.status == PS.PENDING_REVIEW


def test_staff_with_the_approve_permission_work_the_review_queue(workspace):
    from django.contrib.auth.models import Permission

    post = _post(workspace, PS.PENDING_REVIEW)
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="approve_post", content_type__app_label="content"))

    approve_post(post=post, actor=staff)

    post.refresh_from_db()
    assert post.status == PS.APPROVED


def test_staff_without_the_approve_permission_cannot_approve(workspace):
    post = _post(workspace, PS.PENDING_REVIEW)

    with pytest.raises(PermissionDenied):
        approve_post(post=post, actor=UserFactory(is_staff=True))


@pytest.mark.parametrize("status", [PS.DRAFT, PS.APPROVED, PS.REJECTED, PS.SCHEDULED])
def test_only_posts_waiting_for_review_are_approved(workspace, status):
    post = _post(workspace, status)

    with pytest.raises(ValidationError) as excinfo:
        approve_post(post=post, actor=_member(workspace, "approver"))

    assert excinfo.value.messages == [
        f"Only a post waiting for review can be approved; this one is {post.get_status_display().lower()}."
    ]
    post.refresh_from_db()
    assert post.status == status


def test_reject_with_a_reason(workspace):
    approver = _member(workspace, "approver")
    post = _post(workspace, PS.PENDING_REVIEW)

    reject_post(post=post, actor=approver, reason="  Wrong product name  ")

    post.refresh_from_db()
    assert post.status == PS.REJECTED
    assert _events(post) == [(PS.PENDING_REVIEW, PS.REJECTED, "Wrong product name")]


@pytest.mark.parametrize("reason", ["", "   "])
def test_reject_needs_a_reason(workspace, reason):
    post = _post(workspace, PS.PENDING_REVIEW)

    with pytest.raises(ValidationError) as excinfo:
        reject_post(post=post, actor=_member(workspace, "approver"), reason=reason)

    assert excinfo.value.messages == ["Say why the post is rejected, so the author can fix it."]
    post.refresh_from_db()
    assert post.status == PS.PENDING_REVIEW
    assert not PostEvent.objects.exists()


def test_editor_cannot_reject(workspace):
    post = _post(workspace, PS.PENDING_REVIEW)

    with pytest.raises(PermissionDenied):
        reject_post(post=post, actor=_member(workspace, "editor"), reason="No")

    post.refresh_from_db()
    assert post.status == PS.PENDING_REVIEW


# --------------------------------------------------------------------------- editing sends back to review


def test_editing_an_approved_post_sends_it_back_to_review(workspace):
    post = _post(workspace, PS.APPROVED)

    edit_post(post=post, actor=_member(workspace, "editor"), text="New text")

    post.refresh_from_db()
    assert (post.status, post.text) == (PS.PENDING_REVIEW, "New text")
    assert _events(post) == [("", "", "Edited."), (PS.APPROVED, PS.PENDING_REVIEW, BACK_TO_REVIEW_REASON)]


def test_editing_a_scheduled_post_sends_it_back_to_review_and_keeps_the_schedule(
    workspace, deliveries, django_capture_on_commit_callbacks
):
    editor = _member(workspace, "editor")
    post = _post(workspace, PS.APPROVED, accounts=2)
    schedule_post(post=post, actor=editor, when_local=None, tz="Europe/Berlin", post_now=True, now=FUTURE)
    deliveries.reset_mock()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        edit_post(post=post, actor=editor, text="New text")

    post.refresh_from_db()
    assert (post.status, post.text) == (PS.PENDING_REVIEW, "New text")
    assert (
        list(post.targets.values_list("status", "scheduled_at", "schedule_timezone"))
        == [(TS.PENDING, FUTURE, "Europe/Berlin")] * 2
    )
    assert callbacks == []
    assert deliveries.call_count == 0


def test_approving_again_in_time_puts_the_kept_schedule_back(workspace, deliveries, django_capture_on_commit_callbacks):
    editor = _member(workspace, "editor")
    post = _post(workspace, PS.APPROVED, accounts=2)
    schedule_post(post=post, actor=editor, when_local=None, tz="Europe/Berlin", post_now=True, now=FUTURE)
    edit_post(post=post, actor=editor, text="New text")
    deliveries.reset_mock()

    with django_capture_on_commit_callbacks(execute=True):
        approve_post(post=post, actor=_member(workspace, "approver"))

    post.refresh_from_db()
    assert post.status == PS.SCHEDULED
    targets = list(post.targets.order_by("pk"))
    assert [(t.status, t.scheduled_at) for t in targets] == [(TS.SCHEDULED, FUTURE)] * 2
    assert deliveries.call_args_list == [mock.call(at=FUTURE)]


def test_approving_after_the_kept_time_leaves_the_post_approved(workspace, deliveries):
    post = _post(workspace, PS.PENDING_REVIEW)
    past = datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    post.targets.update(scheduled_at=past, schedule_timezone="Europe/Berlin")

    approve_post(post=post, actor=_member(workspace, "approver"))

    post.refresh_from_db()
    assert post.status == PS.APPROVED
    assert list(post.targets.values_list("status", "scheduled_at")) == [(TS.PENDING, past)]
    assert deliveries.call_count == 0


def test_editing_a_variant_of_a_scheduled_post_also_sends_it_back(workspace, deliveries):
    editor = _member(workspace, "editor")
    post = _post(workspace, PS.APPROVED)
    schedule_post(post=post, actor=editor, when_local=None, tz="Europe/Berlin", post_now=True, now=FUTURE)
    target = post.targets.get()

    edit_post(post=post, actor=editor, variants={target.social_account_id: "Just for X"})

    post.refresh_from_db()
    target.refresh_from_db()
    assert (post.status, post.text, target.text, target.status) == (
        PS.PENDING_REVIEW,
        "Original text",
        "Just for X",
        TS.PENDING,
    )


def test_an_edit_that_changes_nothing_does_nothing(workspace):
    post = _post(workspace, PS.APPROVED)

    edit_post(post=post, actor=_member(workspace, "editor"), text="Original text")

    post.refresh_from_db()
    assert post.status == PS.APPROVED
    assert not PostEvent.objects.exists()


def test_editing_a_draft_keeps_it_a_draft(workspace):
    post = _post(workspace, PS.DRAFT)

    edit_post(post=post, actor=_member(workspace, "editor"), text="Better")

    post.refresh_from_db()
    assert (post.status, post.text) == (PS.DRAFT, "Better")


def test_without_review_an_edited_manual_post_stays_scheduled(workspace, deliveries):
    AutomationSettings.objects.create(workspace=workspace, review_before_posting=False)
    editor = _member(workspace, "editor")
    post = _post(workspace, PS.APPROVED)
    schedule_post(post=post, actor=editor, when_local=None, tz="Europe/Berlin", post_now=True, now=FUTURE)

    edit_post(post=post, actor=editor, text="New text")

    post.refresh_from_db()
    assert (post.status, post.text) == (PS.SCHEDULED, "New text")
    assert list(post.targets.values_list("status", "scheduled_at")) == [(TS.SCHEDULED, FUTURE)]


def test_without_review_an_edited_ai_post_still_goes_back_to_review(workspace, deliveries):
    AutomationSettings.objects.create(workspace=workspace, review_before_posting=False)
    post = _post(workspace, PS.APPROVED, source=Post.Source.AI)

    edit_post(post=post, actor=_member(workspace, "editor"), text="New text")

    post.refresh_from_db()
    assert post.status == PS.PENDING_REVIEW


def test_an_edit_the_platform_would_refuse_changes_nothing(workspace, deliveries):
    editor = _member(workspace, "editor")
    post = _post(workspace, PS.APPROVED)
    schedule_post(post=post, actor=editor, when_local=None, tz="Europe/Berlin", post_now=True, now=FUTURE)
    events_before = PostEvent.objects.count()

    with pytest.raises(ValidationError) as excinfo:
        edit_post(post=post, actor=editor, text="a" * 300)

    assert excinfo.value.messages[0].endswith(
        "X counts this post as 300 characters; the limit is 280. "
        "Every link counts 23, and emoji and CJK characters count 2."
    )
    post.refresh_from_db()
    assert (post.status, post.text) == (PS.SCHEDULED, "Original text")
    assert list(post.targets.values_list("status", flat=True)) == [TS.SCHEDULED]
    assert PostEvent.objects.count() == events_before


@pytest.mark.parametrize("status", [PS.PUBLISHING, PS.PUBLISHED, PS.PARTIALLY_PUBLISHED, PS.FAILED, PS.CANCELLED])
def test_posts_that_went_out_or_ended_cannot_be_edited(workspace, status):
    post = _post(workspace, status)

    with pytest.raises(ValidationError):
        edit_post(post=post, actor=_member(workspace, "editor"), text="New text")

    post.refresh_from_db()
    assert (post.status, post.text) == (status, "Original text")


def test_viewer_cannot_edit(workspace):
    post = _post(workspace, PS.DRAFT)

    with pytest.raises(PermissionDenied):
        edit_post(post=post, actor=_member(workspace, "viewer"), text="New text")

    post.refresh_from_db()
    assert post.text == "Original text"

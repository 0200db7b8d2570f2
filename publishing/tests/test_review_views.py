"""Review on the site: the queue, and approve / reject / request changes by the workspace's approvers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from accounts.models import Membership
from content.models import Post
from publishing import scheduling
from publishing.models import PostEvent, PostTarget
from publishing.scheduling import approve_post, describe
from publishing.tests.factories import PostFactory, PostTargetFactory, SocialAccountFactory
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

PS, TS = Post.Status, PostTarget.Status
FUTURE = datetime.now(tz=UTC).replace(microsecond=0) + timedelta(days=30)


@pytest.fixture(autouse=True)
def deliveries(monkeypatch):
    """No dispatcher in these tests: approving a post with a kept time only asks for a delivery."""
    from publishing import dispatch

    request = mock.Mock()
    monkeypatch.setattr(dispatch, "request_dispatch", request)
    return request


@pytest.fixture
def workspace():
    return WorkspaceFactory(name="Acme", slug="acme", timezone="Europe/Berlin")


@pytest.fixture
def author(workspace):
    return MembershipFactory(workspace=workspace, role=Membership.Role.EDITOR).user


@pytest.fixture
def approver(workspace):
    return MembershipFactory(workspace=workspace, role=Membership.Role.APPROVER).user


@pytest.fixture
def approver_client(client, approver):
    client.force_login(approver)
    return client


def _pending(workspace, author=None, *, submitted_at=None, text="Spring sale starts Monday", when=None, accounts=1):
    post = PostFactory(
        workspace=workspace,
        author=author,
        status=PS.PENDING_REVIEW,
        text=text,
        submitted_at=submitted_at or datetime.now(tz=UTC),
    )
    for _ in range(accounts):
        PostTargetFactory(
            post=post,
            social_account=SocialAccountFactory(workspace=workspace, platform="x"),
            scheduled_at=when,
            schedule_timezone="Europe/Berlin" if when else "",
        )
    return post


def _url(name, workspace, **kwargs):
    return reverse(f"publishing:{name}", kwargs={"workspace_slug": workspace.slug, **kwargs})


def _messages(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def _decisions(post):
    return list(PostEvent.objects.filter(post=post, target=None).values_list("from_status", "to_status", "reason"))


# --------------------------------------------------------------------------- decisions


def test_an_approver_approves_with_a_note_and_goes_back_to_the_post(approver_client, workspace, author):
    post = _pending(workspace, author)

    response = approver_client.post(_url("post_approve", workspace, pk=post.pk), {"note": "Looks great"})

    assert response.status_code == 302
    assert response.url == _url("post_detail", workspace, pk=post.pk)
    post.refresh_from_db()
    assert post.status == PS.APPROVED
    assert _decisions(post) == [(PS.PENDING_REVIEW, PS.APPROVED, "Looks great")]
    assert _messages(response) == ["Approved. It is ready to be scheduled."]


def test_approving_a_post_with_a_kept_time_says_when_it_goes_out(approver_client, workspace, author, deliveries):
    post = _pending(workspace, author, when=FUTURE)

    response = approver_client.post(_url("post_approve", workspace, pk=post.pk))

    post.refresh_from_db()
    assert post.status == PS.SCHEDULED
    [message] = _messages(response)
    assert message.startswith("Approved. It goes out at ")
    assert message.endswith("(Europe/Berlin).")
    assert describe(FUTURE.astimezone(ZoneInfo("Europe/Berlin"))) in message
    deliveries.assert_called()


def test_an_approver_rejects_with_a_reason_the_author_then_sees(client, approver_client, workspace, author):
    post = _pending(workspace, author)

    response = approver_client.post(_url("post_reject", workspace, pk=post.pk), {"reason": "Wrong price in the text"})

    post.refresh_from_db()
    assert post.status == PS.REJECTED
    assert _decisions(post) == [(PS.PENDING_REVIEW, PS.REJECTED, "Wrong price in the text")]
    assert _messages(response) == ["Rejected: the author sees your reason."]
    client.force_login(author)
    page = client.get(_url("post_detail", workspace, pk=post.pk)).content.decode()
    assert 'data-testid="review-note"' in page
    assert "Wrong price in the text" in page
    assert 'data-testid="review-card"' not in page


def test_an_approver_requests_changes_with_a_comment(client, approver_client, workspace, author):
    post = _pending(workspace, author)

    response = approver_client.post(
        _url("post_request_changes", workspace, pk=post.pk), {"comment": "Add the store hours"}
    )

    post.refresh_from_db()
    assert post.status == PS.DRAFT
    assert _decisions(post) == [(PS.PENDING_REVIEW, PS.DRAFT, "Add the store hours")]
    assert _messages(response) == ["Sent back to the author with your comment."]
    client.force_login(author)
    page = client.get(_url("post_detail", workspace, pk=post.pk)).content.decode()
    assert "Changes requested" in page
    assert "Add the store hours" in page


def test_the_shared_review_form_field_works_for_every_decision(approver_client, workspace, author):
    post = _pending(workspace, author)

    approver_client.post(_url("post_reject", workspace, pk=post.pk), {"note": "Off brand"})

    post.refresh_from_db()
    assert _decisions(post) == [(PS.PENDING_REVIEW, PS.REJECTED, "Off brand")]


@pytest.mark.parametrize(
    ("name", "field", "expected"),
    [
        ("post_reject", "reason", "Say why the post is rejected, so the author can fix it."),
        ("post_request_changes", "comment", "Say what should change, so the author knows what to do."),
    ],
)
def test_an_empty_reason_is_refused_on_the_post_page_and_nothing_changes(
    approver_client, workspace, author, name, field, expected
):
    post = _pending(workspace, author)
    queue = _url("review_queue", workspace)

    response = approver_client.post(_url(name, workspace, pk=post.pk), {field: "   ", "next": queue}, follow=True)

    assert response.redirect_chain[-1][0] == _url("post_detail", workspace, pk=post.pk)
    assert expected in response.content.decode()
    post.refresh_from_db()
    assert post.status == PS.PENDING_REVIEW
    assert _decisions(post) == []


def test_a_post_no_longer_waiting_says_so(approver_client, workspace, author, approver):
    post = _pending(workspace, author)
    approve_post(post=post, actor=approver)

    response = approver_client.post(_url("post_reject", workspace, pk=post.pk), {"reason": "Too late"})

    post.refresh_from_db()
    assert post.status == PS.APPROVED
    assert _messages(response) == ["This post is no longer waiting for review (it is approved)."]


def test_a_post_decided_by_someone_else_meanwhile_says_so(approver_client, workspace, author):
    post = _pending(workspace, author)
    other_approver = MembershipFactory(workspace=workspace, role=Membership.Role.APPROVER).user
    real_reject = scheduling.reject_post

    def decided_first(*, post, actor, reason):
        # Another approver's decision lands between the page's check and this service's lock.
        approve_post(post=Post.objects.get(pk=post.pk), actor=other_approver)
        return real_reject(post=post, actor=actor, reason=reason)

    with mock.patch.object(scheduling, "reject_post", decided_first):
        response = approver_client.post(_url("post_reject", workspace, pk=post.pk), {"reason": "No"})

    assert _messages(response) == ["This post is no longer waiting for review (it is approved)."]


def test_a_decision_from_the_queue_goes_back_to_the_queue(approver_client, workspace, author):
    post = _pending(workspace, author)
    queue = _url("review_queue", workspace) + "?page=1"

    response = approver_client.post(_url("post_approve", workspace, pk=post.pk), {"next": queue})

    assert response.status_code == 302
    assert response.url == queue


@pytest.mark.parametrize(
    "target", ["https://evil.example/steal", "//evil.example/", "javascript:alert(1)", "http://testserver.evil/"]
)
def test_next_to_another_site_is_refused(approver_client, workspace, author, target):
    post = _pending(workspace, author)

    response = approver_client.post(_url("post_approve", workspace, pk=post.pk), {"next": target})

    assert response.status_code == 302
    assert response.url == _url("post_detail", workspace, pk=post.pk)
    post.refresh_from_db()
    assert post.status == PS.APPROVED


@pytest.mark.parametrize("role", [Membership.Role.EDITOR, Membership.Role.VIEWER])
@pytest.mark.parametrize("name", ["post_approve", "post_reject", "post_request_changes"])
def test_editors_and_viewers_cannot_decide(client, workspace, author, role, name):
    post = _pending(workspace, author)
    client.force_login(MembershipFactory(workspace=workspace, role=role).user)

    response = client.post(_url(name, workspace, pk=post.pk), {"note": "Fine", "reason": "x", "comment": "x"})

    assert response.status_code == 403
    post.refresh_from_db()
    assert post.status == PS.PENDING_REVIEW
    assert _decisions(post) == []


@pytest.mark.parametrize("role", [Membership.Role.OWNER, Membership.Role.ADMIN])
def test_owners_and_admins_may_decide(client, workspace, author, role):
    post = _pending(workspace, author)
    client.force_login(MembershipFactory(workspace=workspace, role=role).user)

    client.post(_url("post_approve", workspace, pk=post.pk))

    post.refresh_from_db()
    assert post.status == PS.APPROVED


def test_another_workspaces_post_is_404_and_untouched(approver_client, workspace):
    other = _pending(WorkspaceFactory())

    response = approver_client.post(_url("post_approve", workspace, pk=other.pk))

    assert response.status_code == 404
    other.refresh_from_db()
    assert other.status == PS.PENDING_REVIEW


def test_get_on_a_decision_leads_to_the_post(approver_client, workspace, author):
    post = _pending(workspace, author)

    response = approver_client.get(_url("post_approve", workspace, pk=post.pk))

    assert response.status_code == 302
    assert response.url == _url("post_detail", workspace, pk=post.pk)
    post.refresh_from_db()
    assert post.status == PS.PENDING_REVIEW


# --------------------------------------------------------------------------- the post page and the list


def test_the_review_card_shows_only_to_approvers_of_a_pending_post(client, approver_client, workspace, author):
    post = _pending(workspace, author)
    url = _url("post_detail", workspace, pk=post.pk)

    assert 'data-testid="review-card"' in approver_client.get(url).content.decode()
    client.force_login(author)
    assert 'data-testid="review-card"' not in client.get(url).content.decode()


def test_the_review_note_is_gone_once_the_post_is_resubmitted(client, approver_client, workspace, author):
    from publishing.scheduling import submit_for_review

    post = _pending(workspace, author)
    approver_client.post(_url("post_request_changes", workspace, pk=post.pk), {"comment": "Shorter please"})
    post.refresh_from_db()
    submit_for_review(post=post, actor=author)

    client.force_login(author)
    page = client.get(_url("post_detail", workspace, pk=post.pk)).content.decode()

    assert 'data-testid="review-note"' not in page
    assert "Shorter please" in page  # still in the history


def test_the_post_list_links_to_review_for_approvers_only(client, approver_client, workspace, author):
    url = _url("posts", workspace)

    assert 'data-testid="review-link"' in approver_client.get(url).content.decode()
    client.force_login(author)
    assert 'data-testid="review-link"' not in client.get(url).content.decode()


# --------------------------------------------------------------------------- the queue


def test_the_queue_lists_only_this_workspaces_pending_posts_oldest_first(approver_client, workspace, author):
    now = datetime.now(tz=UTC)
    newer = _pending(workspace, author, submitted_at=now - timedelta(hours=1), text="Newer one")
    older = _pending(workspace, author, submitted_at=now - timedelta(days=2), text="Older one", when=FUTURE)
    tie_a = _pending(workspace, author, submitted_at=now - timedelta(hours=5), text="Tie A")
    tie_b = PostFactory(workspace=workspace, status=PS.PENDING_REVIEW, submitted_at=tie_a.submitted_at, text="Tie B")
    PostFactory(workspace=workspace, status=PS.DRAFT, text="A draft here")
    PostFactory(workspace=workspace, status=PS.APPROVED, text="Approved here")
    _pending(WorkspaceFactory(), text="Another workspace's")

    response = approver_client.get(_url("review_queue", workspace))

    assert response.status_code == 200
    assert [row.post.pk for row in response.context["rows"]] == [older.pk, tie_a.pk, tie_b.pk, newer.pk]
    page = response.content.decode()
    assert "Review (4)" in page
    assert "A draft here" not in page
    assert "Approved here" not in page
    assert "Another workspace" not in page
    assert 'data-testid="review-form-' in page
    first = response.context["rows"][0]
    assert first.proposed_at == FUTURE
    assert first.accounts == [f"{older.targets.get().social_account.handle} (X)"]
    assert "no time proposed" in page


def test_viewers_see_the_queue_without_buttons(client, workspace, author):
    _pending(workspace, author)
    client.force_login(MembershipFactory(workspace=workspace, role=Membership.Role.VIEWER).user)

    response = client.get(_url("review_queue", workspace))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Spring sale starts Monday" in page
    assert 'data-testid="review-form-' not in page
    assert 'data-testid="read-only"' in page


def test_the_queue_is_404_for_non_members(client, workspace):
    _pending(workspace)
    client.force_login(UserFactory())

    assert client.get(_url("review_queue", workspace)).status_code == 404


def test_the_queue_is_paginated(approver_client, workspace, author):
    for _ in range(26):
        PostFactory(workspace=workspace, author=author, status=PS.PENDING_REVIEW, submitted_at=datetime.now(tz=UTC))

    first = approver_client.get(_url("review_queue", workspace))
    second = approver_client.get(_url("review_queue", workspace) + "?page=2")

    assert len(first.context["rows"]) == 25
    assert len(second.context["rows"]) == 1
    assert "Review (26)" in first.content.decode()


@pytest.mark.parametrize("count", [3, 30])
def test_the_queue_takes_a_constant_number_of_queries(approver_client, workspace, count, django_assert_max_num_queries):
    for index in range(count):
        author = MembershipFactory(workspace=workspace, role=Membership.Role.EDITOR).user
        _pending(workspace, author, accounts=2, text=f"Post {index}")
    approver_client.get(_url("review_queue", workspace))  # the session's first visit writes once

    # Session, user, membership, count, posts, targets with accounts; base.html: workspaces, notifications, stop.
    with django_assert_max_num_queries(9):
        response = approver_client.get(_url("review_queue", workspace))

    assert response.status_code == 200
    assert len(response.context["rows"]) == min(count, 25)


def test_a_refusal_from_the_service_is_a_message_not_an_error_page(approver_client, workspace, author):
    from django.core.exceptions import PermissionDenied

    post = _pending(workspace, author)
    refusal = mock.Mock(side_effect=PermissionDenied("Your role (viewer) does not allow this (approve)."))

    with mock.patch.object(scheduling, "approve_post", refusal):
        response = approver_client.post(_url("post_approve", workspace, pk=post.pk), follow=True)

    assert response.status_code == 200
    assert "Your role (viewer) does not allow this (approve)." in response.content.decode()
    post.refresh_from_db()
    assert post.status == PS.PENDING_REVIEW


# --------------------------------------------------------------------------- scheduling an approved post from its page


def _approved(workspace, author):
    post = _pending(workspace, author)
    PostFactory._meta.model.objects.filter(pk=post.pk).update(status=PS.APPROVED)
    post.refresh_from_db()
    return post


def test_the_post_page_offers_scheduling_once_approved(client, workspace, author):
    post = _approved(workspace, author)
    client.force_login(author)

    page = client.get(_url("post_detail", workspace, pk=post.pk)).content.decode()

    assert 'data-testid="schedule-card"' in page


@pytest.mark.parametrize(
    ("data", "expected"),
    [({"when": "now"}, "Going out now."), ({"when": "at", "scheduled_at": "2099-06-01T09:30"}, "Scheduled for")],
)
def test_an_editor_schedules_an_approved_post_from_its_page(client, workspace, author, deliveries, data, expected):
    post = _approved(workspace, author)
    client.force_login(author)

    response = client.post(_url("post_schedule", workspace, pk=post.pk), {**data, "timezone": "Europe/Berlin"})

    assert response.status_code == 302
    post.refresh_from_db()
    assert post.status == PS.SCHEDULED
    assert any(expected in message for message in _messages(response))
    assert deliveries.called


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"when": "at", "scheduled_at": "not a time"}, "Give a date and a time"),
        ({"when": "at", "scheduled_at": "2001-01-01T09:30"}, "already passed"),
        ({"when": "sometime"}, "Choose when to post it"),
    ],
)
def test_a_bad_schedule_is_refused_with_a_message(client, workspace, author, data, message):
    post = _approved(workspace, author)
    client.force_login(author)

    response = client.post(_url("post_schedule", workspace, pk=post.pk), {**data, "timezone": "Europe/Berlin"})

    assert response.status_code == 302
    post.refresh_from_db()
    assert post.status == PS.APPROVED
    assert any(message in text for text in _messages(response))


def test_a_viewer_cannot_schedule(client, workspace, author):
    post = _approved(workspace, author)
    viewer = MembershipFactory(workspace=workspace, role=Membership.Role.VIEWER).user
    client.force_login(viewer)

    response = client.post(_url("post_schedule", workspace, pk=post.pk), {"when": "now"})

    assert response.status_code == 403
    post.refresh_from_db()
    assert post.status == PS.APPROVED

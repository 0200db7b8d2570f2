"""Post pages: the list, one post's delivery (errors, retry, cancel, history) and the new-post form."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from accounts.models import Membership
from content.models import Post
from publishing.models import AutomationSettings, PostEvent, PostTarget
from publishing.tests.factories import PostFactory, PostTargetFactory, SocialAccountFactory
from publishing.tests.test_stop_views import with_banner  # noqa: F401 - a fixture
from publishing.transitions import record_event
from tests.factories import MembershipFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

PS = Post.Status
TS = PostTarget.Status


@pytest.fixture
def workspace():
    return WorkspaceFactory(name="Acme", slug="acme", timezone="Europe/Berlin")


@pytest.fixture
def editor(workspace):
    return MembershipFactory(workspace=workspace, role=Membership.Role.EDITOR).user


@pytest.fixture
def client(client, editor):
    client.force_login(editor)
    return client


@pytest.fixture
def x_account(workspace):
    return SocialAccountFactory(workspace=workspace, platform="x", handle="acme_news")


@pytest.fixture
def mastodon_account(workspace):
    return SocialAccountFactory(
        workspace=workspace, platform="mastodon", handle="acme@mastodon.social", config={"instance": "mastodon.social"}
    )


def _url(name: str, workspace, **kwargs) -> str:
    return reverse(f"publishing:{name}", kwargs={"workspace_slug": workspace.slug, **kwargs})


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _post(workspace, *, status=PS.SCHEDULED, text="Hello world", targets=()):
    """A post with targets given as (account, target fields) pairs."""
    post = PostFactory(workspace=workspace, text=text, status=status)
    for account, fields in targets:
        PostTargetFactory(post=post, social_account=account, **fields)
    return post


# --------------------------------------------------------------------------- the list


def test_the_list_shows_status_platforms_and_local_time(client, workspace, x_account, mastodon_account):
    partial = _post(
        workspace,
        status=PS.PARTIALLY_PUBLISHED,
        text="Half out",
        targets=[
            (x_account, {"status": TS.PUBLISHED, "scheduled_at": datetime(2030, 6, 1, 7, 30, tzinfo=UTC)}),
            (mastodon_account, {"status": TS.FAILED, "scheduled_at": datetime(2030, 6, 1, 7, 30, tzinfo=UTC)}),
        ],
    )
    scheduled = _post(
        workspace,
        text="Later",
        targets=[(x_account, {"status": TS.SCHEDULED, "scheduled_at": datetime(2030, 12, 24, 17, 0, tzinfo=UTC)})],
    )
    _post(WorkspaceFactory(), text="Someone else's")

    response = client.get(_url("posts", workspace))

    html = response.content.decode()
    assert response.status_code == 200
    assert [row.post for row in response.context["rows"]] == [scheduled, partial]
    assert "Someone else" not in html
    assert '<span class="badge text-bg-warning" data-testid="status">Partially published</span>' in html
    assert '<span class="badge text-bg-primary" data-testid="status">Scheduled</span>' in html
    assert [[p.slug for p in row.platforms] for row in response.context["rows"]] == [["x"], ["x", "mastodon"]]
    assert 'class="bi bi-mastodon me-1" title="Mastodon"' in html
    # 07:30 UTC is 09:30 in Berlin (summer time); 17:00 UTC is 18:00 (winter time).
    assert "Sat 1 Jun 2030, 09:30" in html
    assert "Tue 24 Dec 2030, 18:00" in html
    assert "1 needs attention" in html


def test_the_list_filters_by_status(client, workspace):
    failed = _post(workspace, status=PS.FAILED)
    _post(workspace, status=PS.DRAFT)

    response = client.get(_url("posts", workspace) + "?status=failed")

    assert [row.post for row in response.context["rows"]] == [failed]


def test_the_list_is_paginated(client, workspace):
    posts = [_post(workspace, text=f"Post {n}") for n in range(26)]

    first = client.get(_url("posts", workspace))
    second = client.get(_url("posts", workspace) + "?page=2")

    assert len(first.context["rows"]) == 25
    assert [row.post for row in second.context["rows"]] == [posts[0]]
    assert "Page 2 of 2" in second.content.decode()


@pytest.mark.usefixtures("with_banner")
def test_the_list_costs_the_same_queries_for_many_posts(
    client, workspace, x_account, mastodon_account, django_assert_max_num_queries
):
    def add_posts(count: int) -> None:
        for n in range(count):
            _post(
                workspace,
                text=f"Post {n}",
                targets=[(x_account, {"status": TS.SCHEDULED}), (mastodon_account, {"status": TS.FAILED})],
            )

    add_posts(1)
    client.get(_url("posts", workspace))  # warm the session and the content types
    with django_assert_max_num_queries(20) as few:
        client.get(_url("posts", workspace))
    add_posts(30)

    with django_assert_max_num_queries(len(few.captured_queries)) as many:
        response = client.get(_url("posts", workspace))

    assert len(response.context["rows"]) == 25
    # session, user, membership, count, page, targets with accounts, the posts' tags, the workspace's tags (the
    # tag filter), the switcher's memberships, the stop banner, the bell's unread count
    assert len(many.captured_queries) == len(few.captured_queries) == 11


def test_the_list_links_to_the_new_post_form_only_for_writers(client, workspace):
    viewer = MembershipFactory(workspace=workspace, role=Membership.Role.VIEWER).user

    editor_html = client.get(_url("posts", workspace)).content.decode()
    client.force_login(viewer)
    viewer_html = client.get(_url("posts", workspace)).content.decode()

    assert _url("post_create", workspace) in editor_html
    assert _url("post_create", workspace) not in viewer_html


# --------------------------------------------------------------------------- one post


@pytest.fixture
def mixed_post(workspace, x_account, mastodon_account):
    """Published on X; failed on Mastodon with the platform's message."""
    post = _post(
        workspace,
        status=PS.PARTIALLY_PUBLISHED,
        text="Big news",
        targets=[
            (
                x_account,
                {
                    "status": TS.PUBLISHED,
                    "scheduled_at": datetime(2030, 6, 1, 7, 30, tzinfo=UTC),
                    "published_at": datetime(2030, 6, 1, 7, 30, 4, tzinfo=UTC),
                    "remote_url": "https://x.com/acme_news/status/1",
                    "remote_id": "1",
                },
            ),
            (
                mastodon_account,
                {
                    "status": TS.FAILED,
                    "scheduled_at": datetime(2030, 6, 1, 7, 30, tzinfo=UTC),
                    "attempts": 3,
                    "error_kind": "auth_expired",
                    "last_error": "The access token was revoked",
                },
            ),
        ],
    )
    record_event(post=post, actor_label="dispatcher", reason="Sent.")
    return post


def test_the_post_page_shows_each_target_and_the_error_in_plain_words(client, workspace, mixed_post):
    response = client.get(_url("post_detail", workspace, pk=mixed_post.pk))

    html = response.content.decode()
    assert response.status_code == 200
    assert '<span class="badge text-bg-warning" data-testid="post-status">Partially published</span>' in html
    assert '<span class="badge text-bg-success" data-testid="target-status">Published</span>' in html
    assert '<span class="badge text-bg-danger" data-testid="target-status">Failed</span>' in html
    assert "published Sat 1 Jun 2030, 09:30:04" in html
    assert 'href="https://x.com/acme_news/status/1"' in html
    assert "<strong>The connection has expired.</strong>" in html
    assert "Reconnect the account on the Connections page, then retry." in html
    assert "Mastodon said: “The access token was revoked”" in html
    assert "3 attempts." in html
    assert "dispatcher" in html and "Sent." in html


@pytest.mark.parametrize(
    ("kind", "message", "title"),
    [
        ("plan_limit", "Not published: The Free plan allows 2 posts per day; upgrade to add more.", "Over the plan"),
        ("account", "The account needs reconnecting.", "The account could not publish"),
        ("missed", "Not published: it was 3 hours late.", "Missed its time"),
        ("unconfirmed", "The post is not on Mastodon, and we tried 5 times; we stopped.", "Not confirmed"),
    ],
)
def test_what_letsgrow_found_itself_is_not_put_in_the_platforms_mouth(
    client, workspace, mastodon_account, kind, message, title
):
    post = _post(
        workspace,
        status=PS.FAILED,
        text="Big news",
        targets=[(mastodon_account, {"status": TS.FAILED, "error_kind": kind, "last_error": message})],
    )

    html = client.get(_url("post_detail", workspace, pk=post.pk)).content.decode()

    assert f"<strong>{title}" in html
    assert message.replace("'", "&#x27;") in html
    assert "Mastodon said" not in html


def test_retry_is_offered_for_failed_and_missed_targets_never_published_ones(client, workspace, mixed_post, x_account):
    x_target, mastodon_target = mixed_post.targets.order_by("pk")
    missed = PostTargetFactory(
        post=mixed_post, social_account=SocialAccountFactory(workspace=workspace, platform="bluesky"), status=TS.MISSED
    )

    response = client.get(_url("post_detail", workspace, pk=mixed_post.pk))

    html = response.content.decode()
    assert [row.target.pk for row in response.context["targets"] if row.may_retry] == [mastodon_target.pk, missed.pk]
    assert _url("target_retry", workspace, pk=mastodon_target.pk) in html
    assert _url("target_retry", workspace, pk=missed.pk) in html
    assert _url("target_retry", workspace, pk=x_target.pk) not in html
    assert "<strong>Missed its time.</strong>" in html


def test_a_viewer_sees_no_retry_or_cancel_buttons(client, workspace, mixed_post):
    client.force_login(MembershipFactory(workspace=workspace, role=Membership.Role.VIEWER).user)

    response = client.get(_url("post_detail", workspace, pk=mixed_post.pk))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="retry-form"' not in html
    assert 'data-testid="cancel-form"' not in html


def test_retry_sends_a_failed_target_again(client, workspace, mixed_post, editor):
    _x_target, mastodon_target = mixed_post.targets.order_by("pk")

    response = client.post(_url("target_retry", workspace, pk=mastodon_target.pk))

    assert response.status_code == 302
    assert response["Location"] == _url("post_detail", workspace, pk=mixed_post.pk)
    mastodon_target.refresh_from_db()
    assert (mastodon_target.status, mastodon_target.attempts, mastodon_target.last_error) == (TS.SCHEDULED, 0, "")
    assert PostEvent.objects.filter(target=mastodon_target, to_status=TS.SCHEDULED, actor=editor).count() == 1
    assert _messages(response) == ["Retrying now: it goes out in a moment."]


def test_retry_refuses_a_published_target(client, workspace, mixed_post):
    x_target, _mastodon_target = mixed_post.targets.order_by("pk")
    events = PostEvent.objects.count()

    response = client.post(_url("target_retry", workspace, pk=x_target.pk))

    x_target.refresh_from_db()
    assert response.status_code == 302
    assert x_target.status == TS.PUBLISHED
    assert PostEvent.objects.count() == events
    assert _messages(response) == ["This was already published; LetsGrow never posts it twice."]


def test_a_viewer_may_not_retry(client, workspace, mixed_post):
    _x_target, mastodon_target = mixed_post.targets.order_by("pk")
    client.force_login(MembershipFactory(workspace=workspace, role=Membership.Role.VIEWER).user)

    response = client.post(_url("target_retry", workspace, pk=mastodon_target.pk))

    mastodon_target.refresh_from_db()
    assert response.status_code == 403
    assert mastodon_target.status == TS.FAILED


def test_cancel_cancels_what_has_not_gone_out(client, workspace, x_account):
    post = _post(
        workspace,
        targets=[(x_account, {"status": TS.SCHEDULED, "scheduled_at": datetime(2030, 6, 1, 7, 30, tzinfo=UTC)})],
    )

    response = client.post(_url("post_cancel", workspace, pk=post.pk))

    post.refresh_from_db()
    assert response.status_code == 302
    assert post.status == PS.CANCELLED
    assert list(post.targets.values_list("status", flat=True)) == [TS.CANCELLED]
    assert _messages(response) == ["Cancelled: nothing more of this post will be published."]


def test_cancel_of_a_published_post_says_why_not(client, workspace, x_account):
    post = _post(workspace, status=PS.PUBLISHED, targets=[(x_account, {"status": TS.PUBLISHED})])

    response = client.post(_url("post_cancel", workspace, pk=post.pk))

    post.refresh_from_db()
    assert post.status == PS.PUBLISHED
    assert _messages(response) == ["This post is already published."]


# --------------------------------------------------------------------------- a new post


def _form(account_ids, **values) -> dict:
    return {
        "text": "Launch day!",
        "accounts": [str(pk) for pk in account_ids],
        "link": "",
        "when": "at",
        "scheduled_at": "2030-06-01T09:30",
        "timezone": "Europe/Berlin",
        **values,
    }


def test_the_form_offers_connected_accounts_and_the_workspace_timezone(client, workspace, x_account):
    SocialAccountFactory(workspace=workspace, handle="gone", status="revoked")
    SocialAccountFactory(handle="elsewhere")

    response = client.get(_url("post_create", workspace))

    form = response.context["form"]
    assert response.status_code == 200
    assert form.fields["accounts"].choices == [(str(x_account.pk), "X · acme_news")]
    assert form["timezone"].value() == "Europe/Berlin"
    assert form["when"].value() == "at"


def test_a_new_post_is_scheduled_at_the_local_time_when_review_is_off(client, workspace, x_account, editor):
    AutomationSettings.objects.create(workspace=workspace, review_before_posting=False)

    response = client.post(_url("post_create", workspace), _form([x_account.pk]))

    post = Post.objects.get(workspace=workspace)
    assert response.status_code == 302
    assert response["Location"] == _url("post_detail", workspace, pk=post.pk)
    assert (post.status, post.text, post.author) == (PS.SCHEDULED, "Launch day!", editor)
    assert list(post.targets.values_list("status", "scheduled_at", "schedule_timezone")) == [
        (TS.SCHEDULED, datetime(2030, 6, 1, 7, 30, tzinfo=UTC), "Europe/Berlin")
    ]
    assert _messages(response) == ["Scheduled."]


def test_a_new_post_goes_to_review_when_the_workspace_reviews(client, workspace, x_account):
    response = client.post(_url("post_create", workspace), _form([x_account.pk]))

    post = Post.objects.get(workspace=workspace)
    assert response.status_code == 302
    assert post.status == PS.PENDING_REVIEW
    # The chosen time is kept on the still-pending target; approval schedules it.
    assert list(post.targets.values_list("status", "scheduled_at", "schedule_timezone")) == [
        (TS.PENDING, datetime(2030, 6, 1, 7, 30, tzinfo=UTC), "Europe/Berlin")
    ]
    assert _messages(response) == [
        "Sent for review: this workspace approves posts before they go out. "
        "Once approved it goes out at the time you chose; if it is still waiting then, it waits."
    ]


def test_approving_a_post_with_a_kept_time_schedules_it_then(
    client, workspace, x_account, django_capture_on_commit_callbacks
):
    from publishing import scheduling

    client.post(_url("post_create", workspace), _form([x_account.pk]))
    post = Post.objects.get(workspace=workspace)

    with django_capture_on_commit_callbacks():
        scheduling.approve_post(post=post, actor=MembershipFactory(workspace=workspace, role="approver").user)

    post.refresh_from_db()
    assert post.status == PS.SCHEDULED
    assert list(post.targets.values_list("status", "scheduled_at")) == [
        (TS.SCHEDULED, datetime(2030, 6, 1, 7, 30, tzinfo=UTC))
    ]


def test_post_now(client, workspace, x_account):
    AutomationSettings.objects.create(workspace=workspace, review_before_posting=False)

    response = client.post(_url("post_create", workspace), _form([x_account.pk], when="now", scheduled_at=""))

    post = Post.objects.get(workspace=workspace)
    assert post.status == PS.SCHEDULED
    assert post.targets.get().scheduled_at is not None
    assert _messages(response) == ["Posting now."]


def test_add_to_queue(client, workspace, x_account):
    AutomationSettings.objects.create(workspace=workspace, review_before_posting=False, posting_times=["10:00"])

    response = client.post(_url("post_create", workspace), _form([x_account.pk], when="queue", scheduled_at=""))

    post = Post.objects.get(workspace=workspace)
    target = post.targets.get()
    assert post.status == PS.SCHEDULED
    assert f"{target.scheduled_at.astimezone(ZoneInfo('Europe/Berlin')):%H:%M}" == "10:00"
    assert _messages(response) == ["Added to the queue."]


def test_save_as_draft(client, workspace, x_account):
    response = client.post(_url("post_create", workspace), _form([x_account.pk], when="draft", scheduled_at=""))

    assert list(Post.objects.values_list("status", flat=True)) == [PS.DRAFT]
    assert _messages(response) == ["Saved as a draft."]


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"scheduled_at": ""}, "scheduled_at", "Choose a date and time, or post now or add it to the queue."),
        ({"scheduled_at": "next tuesday"}, "scheduled_at", "Give the date and time as YYYY-MM-DD HH:MM."),
        ({"accounts": []}, "accounts", "This field is required."),
        ({"text": ""}, "text", "This field is required."),
        (
            {"scheduled_at": "2030-03-31T02:30"},
            "scheduled_at",
            "02:30 does not exist on Sunday 31 March 2030 in Europe/Berlin: the clocks go forward from 02:00 to "
            "03:00. Did you mean 03:30?",
        ),
    ],
)
def test_form_errors_create_nothing(client, workspace, x_account, values, field, message):
    AutomationSettings.objects.create(workspace=workspace, review_before_posting=False)

    response = client.post(_url("post_create", workspace), _form([x_account.pk], **values))

    assert response.status_code == 400
    assert response.context["form"].errors[field] == [message]
    assert Post.objects.count() == 0


def test_a_past_time_is_refused_and_no_draft_is_left_behind(client, workspace, x_account):
    AutomationSettings.objects.create(workspace=workspace, review_before_posting=False)

    response = client.post(_url("post_create", workspace), _form([x_account.pk], scheduled_at="2020-01-01T09:00"))

    assert response.status_code == 400
    [error] = response.context["form"].errors["scheduled_at"]
    assert error.startswith("That time has already passed (09:00 on Wednesday 1 January 2020 in Europe/Berlin;")
    assert Post.objects.count() == 0
    assert PostEvent.objects.count() == 0


def test_an_account_of_another_workspace_cannot_be_chosen(client, workspace, x_account):
    stranger = SocialAccountFactory(handle="theirs")

    response = client.post(_url("post_create", workspace), _form([stranger.pk]))

    assert response.status_code == 400
    assert response.context["form"].errors["accounts"] == [
        f"Select a valid choice. {stranger.pk} is not one of the available choices."
    ]
    assert Post.objects.count() == 0


@pytest.mark.parametrize("role", [Membership.Role.VIEWER, Membership.Role.APPROVER])
def test_only_writers_may_create_posts(client, workspace, x_account, role):
    client.force_login(MembershipFactory(workspace=workspace, role=role).user)

    assert client.get(_url("post_create", workspace)).status_code == 403
    assert client.post(_url("post_create", workspace), _form([x_account.pk])).status_code == 403
    assert Post.objects.count() == 0

"""The approval queue in Django Admin: the list, its filters and cost, the review page, and every decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from content import admin as review_admin
from content.models import Post
from publishing.models import PostEvent, PostTarget, QueueSlot
from publishing.tests.factories import PostFactory, PostTargetFactory, SocialAccountFactory
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

PS, TS = Post.Status, PostTarget.Status
CHANGELIST = "admin:content_pendingreviewpost_changelist"
NOW = datetime.now(tz=UTC).replace(microsecond=0)


@pytest.fixture(autouse=True)
def _no_staff_2fa(settings):
    # Two-factor login of staff is covered by tests/test_browser_review.py and accounts' own tests.
    settings.STAFF_REQUIRE_2FA = False


@pytest.fixture(autouse=True)
def _fresh_filter_options():
    cache.clear()  # the sidebar's busiest workspaces and authors are cached for a minute
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def deliveries(monkeypatch):
    """The dispatcher's trigger, mocked: scheduling enqueues nothing real."""
    from publishing import dispatch

    request = mock.Mock()
    monkeypatch.setattr(dispatch, "request_dispatch", request)
    return request


def _staff(*codenames: str, email: str = ""):
    user = UserFactory(is_staff=True, **({"email": email} if email else {}))
    for codename in codenames:
        user.user_permissions.add(Permission.objects.get(codename=codename, content_type__app_label="content"))
    return user


@pytest.fixture
def reviewer(client):
    user = _staff("approve_post")
    client.force_login(user)
    return user


@pytest.fixture
def workspace():
    return WorkspaceFactory(name="Acme Bakery", slug="acme-bakery", timezone="Europe/Berlin")


def _pending(
    workspace,
    *,
    text="Fresh bread every morning",
    source=Post.Source.MANUAL,
    platforms=("x",),
    waited=timedelta(hours=1),
    author=None,
    scheduled_at=None,
    **kwargs,
):
    post = PostFactory(
        workspace=workspace,
        status=PS.PENDING_REVIEW,
        text=text,
        source=source,
        author=author,
        submitted_at=NOW - waited,
        **kwargs,
    )
    for platform in platforms:
        PostTargetFactory(
            post=post,
            social_account=SocialAccountFactory(workspace=workspace, platform=platform, handle=f"acme_{platform}"),
            scheduled_at=scheduled_at,
            schedule_timezone="Europe/Berlin" if scheduled_at else "",
        )
    return post


def _rows(response) -> list[int]:
    return [post.pk for post in response.context["cl"].result_list]


def _events(post):
    return list(PostEvent.objects.filter(post=post, target=None).values_list("from_status", "to_status", "reason"))


def _message_texts(response) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


# --------------------------------------------------------------------------- the list


def test_the_queue_lists_posts_waiting_for_review_oldest_first_with_what_staff_need(client, reviewer, workspace):
    author = UserFactory(name="Maya Baker")
    newest = _pending(workspace, text="Newest", waited=timedelta(minutes=5))
    oldest = _pending(
        workspace,
        text="Oldest",
        waited=timedelta(days=3, hours=2),
        source=Post.Source.AI,
        platforms=("x", "linkedin"),
        author=author,
        scheduled_at=NOW + timedelta(days=1),
    )
    middle = _pending(workspace, text="Middle", waited=timedelta(hours=5), source=Post.Source.TEMPLATE)
    PostFactory(workspace=workspace, status=PS.DRAFT, text="A draft")
    PostFactory(workspace=workspace, status=PS.APPROVED, text="Approved already")

    response = client.get(reverse(CHANGELIST))

    assert response.status_code == 200
    assert _rows(response) == [oldest.pk, middle.pk, newest.pk]
    html = response.content.decode()
    assert "Acme Bakery" in html and "acme-bakery" in html
    assert "Maya Baker" in html
    assert '<span class="review-source review-source-ai">AI</span>' in html
    assert '<span class="review-source review-source-template">Template</span>' in html
    assert '<span title="acme_x">X</span>, <span title="acme_linkedin">LinkedIn</span>' in html
    assert f"{oldest.targets.first().scheduled_at:%Y-%m-%d %H:%M} UTC" in html
    assert "3\xa0days, 2\xa0hours" in html
    assert "A draft" not in html and "Approved already" not in html
    assert 'data-testid="queue-count">3 posts awaiting review<' in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("source=ai", ["ai post"]),
        ("source=template", ["template post"]),
        ("platform=linkedin", ["ai post"]),
        ("platform=mastodon", []),
        ("when=overdue", ["overdue post"]),
        ("when=24h", ["template post"]),
        ("when=7d", ["ai post", "template post"]),
        ("when=later", []),
        ("when=none", ["other workspace post"]),
        ("q=TEMPLATE", ["template post"]),
        ("q=other-shop", ["other workspace post"]),
        ("source=nonsense", []),
        ("platform=nonsense", []),
        ("when=nonsense", []),
        ("workspace=abc", []),
        ("author=-3", []),
    ],
)
def test_filters_and_search(client, reviewer, workspace, query, expected):
    other = WorkspaceFactory(name="Other", slug="other-shop")
    _pending(workspace, text="overdue post", waited=timedelta(days=2), scheduled_at=NOW - timedelta(hours=1))
    _pending(
        workspace,
        text="ai post",
        source=Post.Source.AI,
        platforms=("x", "linkedin"),
        waited=timedelta(days=1),
        scheduled_at=NOW + timedelta(days=3),
    )
    _pending(workspace, text="template post", source=Post.Source.TEMPLATE, scheduled_at=NOW + timedelta(hours=2))
    _pending(other, text="other workspace post", waited=timedelta(minutes=1))

    response = client.get(reverse(CHANGELIST) + "?" + query)

    assert response.status_code == 200
    assert [post.text for post in response.context["cl"].result_list] == expected


def test_workspace_and_author_filters_offer_only_who_has_posts_waiting(client, reviewer, workspace):
    idle = WorkspaceFactory(name="Idle Shop", slug="idle-shop")
    maya, sam = UserFactory(name="Maya Baker"), UserFactory(name="Sam Idle")
    mine = _pending(workspace, author=maya)
    PostFactory(workspace=idle, status=PS.DRAFT, author=sam)

    page = client.get(reverse(CHANGELIST))
    by_workspace = client.get(reverse(CHANGELIST) + f"?workspace={workspace.pk}")
    by_author = client.get(reverse(CHANGELIST) + f"?author={maya.pk}")

    html = page.content.decode()
    assert "Acme Bakery (acme-bakery): 1" in html and "Maya Baker: 1" in html
    assert "Idle Shop" not in html and "Sam Idle" not in html
    assert _rows(by_workspace) == [mine.pk]
    assert _rows(by_author) == [mine.pk]


def test_the_count_stops_at_the_cap(client, reviewer, workspace, monkeypatch):
    monkeypatch.setattr(review_admin, "COUNT_CAP", 3)
    for number in range(5):
        _pending(workspace, text=f"post {number}", waited=timedelta(hours=10 - number))

    response = client.get(reverse(CHANGELIST))

    assert 'data-testid="queue-count">More than 3 posts awaiting review' in response.content.decode()
    assert response.context["cl"].paginator.is_capped is True


def _render_queue(client, query: str = "", *, cold: bool = True) -> int:
    if cold:
        cache.clear()  # the worst case: the sidebar's options are built again
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse(CHANGELIST) + query)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("query", ["", "?source=ai", "?platform=x&when=7d", "?q=bread", "?workspace=1&author=1"])
def test_the_list_costs_the_same_few_queries_with_5_or_60_posts(client, reviewer, query):
    workspaces = [WorkspaceFactory() for _ in range(3)]

    def add(count: int) -> None:
        for number in range(count):
            workspace = workspaces[number % 3]
            _pending(
                workspace,
                text=f"bread {number}",
                source=[Post.Source.AI, Post.Source.MANUAL][number % 2],
                platforms=("x", "mastodon"),
                author=UserFactory(),
                scheduled_at=NOW + timedelta(days=2),
                waited=timedelta(minutes=number),
            )

    add(5)
    few = _render_queue(client, query)
    add(55)
    many = _render_queue(client, query)
    warm = _render_queue(client, query, cold=False)

    assert few == many
    assert many <= 12
    assert warm == many - 2  # the busiest workspaces and authors come from the cache


# --------------------------------------------------------------------------- the review page


def test_the_review_page_previews_each_platform_with_its_count_and_cut(client, reviewer, workspace):
    post = _pending(workspace, text="a" * 300, platforms=("x", "linkedin"))

    response = client.get(reverse("admin:content_pendingreviewpost_change", args=[post.pk]))

    assert response.status_code == 200
    previews = {row["preview"]["platform"]: row["preview"] for row in response.context["previews"]}
    assert (previews["x"]["length"], previews["x"]["max_length"]) == (300, 280)
    assert previews["x"]["text_shown"] == "a" * 280 and previews["x"]["text_cut"] == "a" * 20
    assert (previews["linkedin"]["length"], previews["linkedin"]["max_length"]) == (300, 3000)
    assert previews["linkedin"]["text_cut"] == ""
    html = response.content.decode()
    assert "300 / 280" in html and "300 / 3000" in html
    assert f'data-testid="preview-cut">{"a" * 20}</span>' in html
    assert "Blocks publishing:" in html


def test_an_ai_posts_review_page_shows_the_prompt_context_and_score(client, reviewer, workspace):
    post = _pending(
        workspace,
        source=Post.Source.AI,
        generation={
            "prompt": "Announce our sourdough workshop",
            "model": "llama-3.1-8b (primary)",
            "domain": "food",
            "documents": [{"id": 4, "name": "Workshop flyer.pdf"}],
            "controls": {"hashtags": True, "emojis": False, "platforms": ["x"]},
            "temperature": 0.7,
            "system_prompt": "Bakery in Berlin; friendly tone.",
        },
        performance_score=72,
        score_reasons=["It has 2 hashtag(s), like your best posts (about 2)."],
    )

    response = client.get(reverse("admin:content_pendingreviewpost_change", args=[post.pk]))

    rows = dict(response.context["generation"])
    assert rows["Prompt"] == "Announce our sourdough workshop"
    assert rows["Model"] == "llama-3.1-8b (primary)"
    assert rows["Documents used"] == "Workshop flyer.pdf"
    assert rows["Controls"] == "emojis: False; hashtags: True; platforms: x"
    assert rows["Context given to the model"] == "Bakery in Berlin; friendly tone."
    html = response.content.decode()
    assert "Announce our sourdough workshop" in html
    assert "<strong>72</strong>/100" in html
    assert "It has 2 hashtag(s), like your best posts (about 2)." in html


def test_the_history_shows_every_event_oldest_first_with_changes_read_only(client, reviewer, workspace):
    author = UserFactory(name="Maya Baker")
    post = _pending(workspace, author=author)
    PostEvent.objects.create(
        workspace=workspace, post=post, actor=author, from_status=PS.DRAFT, to_status=PS.PENDING_REVIEW, reason="Sent"
    )
    PostEvent.objects.create(
        workspace=workspace,
        post=post,
        actor=author,
        reason="Edited.",
        changes={"text": {"before": "Old words", "after": "New words"}},
    )

    response = client.get(reverse("admin:content_pendingreviewpost_change", args=[post.pk]))

    history = response.context["events"]
    assert [row["event"].reason for row in history] == ["Sent", "Edited."]
    assert history[1]["changes"] == [("text", "Old words", "New words")]
    html = response.content.decode()
    assert "<del>Old words</del> &rarr; <ins>New words</ins>" in html
    assert "draft &rarr; pending_review" in html
    # Read-only: the history holds no form field, and no admin page edits events.
    table = html[html.index('data-testid="history"') : html.index("</table>", html.index('data-testid="history"'))]
    assert "<form" not in table and "<input" not in table and "<textarea" not in table
    events_admin = admin.site._registry.get(PostEvent)
    if events_admin is not None:  # the audit log's own admin page, if there is one, is read-only too
        request = RequestFactory().get("/")
        request.user = UserFactory(is_staff=True, is_superuser=True)
        assert not events_admin.has_add_permission(request)
        assert not events_admin.has_change_permission(request, history[0]["event"])
        assert not events_admin.has_delete_permission(request, history[0]["event"])


def test_an_unknown_post_is_404(client, reviewer):
    assert client.get(reverse("admin:content_pendingreviewpost_change", args=["999999"])).status_code == 404
    assert client.get(reverse("admin:content_pendingreviewpost_change", args=["abc"])).status_code == 404


# --------------------------------------------------------------------------- one post's decision


def _decide(client, post, **data):
    return client.post(reverse("admin:content_pendingreviewpost_decide", args=[post.pk]), data)


def test_approve_from_the_review_page(client, reviewer, workspace):
    post = _pending(workspace)

    response = _decide(client, post, decision="approve", note="Nice one")

    assert response.status_code == 302
    assert response["Location"] == reverse(CHANGELIST)
    post.refresh_from_db()
    assert post.status == PS.APPROVED
    event = PostEvent.objects.get(post=post)
    assert (event.actor, event.reason) == (reviewer, "Nice one")


def test_approve_and_schedule_at_the_next_queue_slot(client, reviewer, workspace):
    post = _pending(workspace)
    account = post.targets.get().social_account
    QueueSlot.objects.create(workspace=workspace, social_account=account, weekday=0, time_of_day="09:30")

    response = _decide(client, post, decision="schedule", mode="queue")

    assert response.status_code == 302
    post.refresh_from_db()
    target = post.targets.get()
    local = target.scheduled_at.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Berlin"))
    assert (post.status, target.status) == (PS.SCHEDULED, TS.SCHEDULED)
    assert (local.weekday(), local.hour, local.minute) == (0, 9, 30)
    assert target.scheduled_at > NOW
    assert [to for _, to, _ in _events(post)] == [PS.APPROVED, PS.SCHEDULED]


def test_approve_and_schedule_at_a_given_local_time(client, reviewer, workspace):
    post = _pending(workspace)
    year = NOW.year + 1

    response = _decide(
        client, post, decision="schedule", mode="time", when=f"{year}-07-01T09:30", timezone="America/New_York"
    )

    assert response.status_code == 302
    target = post.targets.get()
    assert target.status == TS.SCHEDULED
    assert target.scheduled_at == datetime(year, 7, 1, 13, 30, tzinfo=UTC)
    assert target.schedule_timezone == "America/New_York"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"mode": "time", "when": ""}, "Choose the date and time it should go out."),
        ({"mode": "time", "when": "tomorrow"}, "Write the time as YYYY-MM-DD HH:MM, e.g. 2026-05-04 09:30."),
        ({"mode": "time", "when": "2020-01-01T10:00", "timezone": "UTC"}, "That time has already passed"),
        (
            {"mode": "time", "when": "2030-01-01T10:00", "timezone": "Mars/Base"},
            "Choose a time zone from the list, e.g. Europe/Berlin.",
        ),
        ({"mode": "sometime"}, "Choose the next queue slot or a time."),
    ],
)
def test_approve_and_schedule_refuses_bad_times_and_changes_nothing(client, reviewer, workspace, data, message):
    post = _pending(workspace)

    response = _decide(client, post, decision="schedule", **data)

    assert response.status_code == 400
    assert message in response.content.decode()
    post.refresh_from_db()
    assert post.status == PS.PENDING_REVIEW
    assert not PostEvent.objects.filter(post=post).exists()


@pytest.mark.parametrize("reason", ["", "   "])
def test_reject_needs_a_reason(client, reviewer, workspace, reason):
    post = _pending(workspace)

    response = _decide(client, post, decision="reject", reason=reason)

    assert response.status_code == 400
    assert "Say why the post is rejected, so the author can fix it." in response.content.decode()
    post.refresh_from_db()
    assert post.status == PS.PENDING_REVIEW
    assert not PostEvent.objects.filter(post=post).exists()


def test_reject_with_a_reason(client, reviewer, workspace):
    post = _pending(workspace)

    response = _decide(client, post, decision="reject", reason="  The price is wrong  ")

    assert response.status_code == 302
    post.refresh_from_db()
    assert post.status == PS.REJECTED
    assert _events(post) == [(PS.PENDING_REVIEW, PS.REJECTED, "The price is wrong")]


def test_request_changes_needs_a_comment_then_sends_the_post_back_as_a_draft(client, reviewer, workspace):
    post = _pending(workspace)

    refused = _decide(client, post, decision="changes", comment=" ")
    sent_back = _decide(client, post, decision="changes", comment="Add the workshop date")

    assert refused.status_code == 400
    assert "Say what should change, so the author knows what to do." in refused.content.decode()
    assert sent_back.status_code == 302
    post.refresh_from_db()
    assert post.status == PS.DRAFT
    assert _events(post) == [(PS.PENDING_REVIEW, PS.DRAFT, "Add the workshop date")]


def test_a_post_decided_meanwhile_is_not_decided_twice(client, reviewer, workspace):
    post = _pending(workspace)
    _decide(client, post, decision="approve")

    response = _decide(client, post, decision="reject", reason="Too late")

    assert response.status_code == 400
    assert "Not rejected: already approved." in response.content.decode()
    post.refresh_from_db()
    assert post.status == PS.APPROVED
    page = client.get(reverse("admin:content_pendingreviewpost_change", args=[post.pk]))
    assert 'data-testid="decided"' in page.content.decode()


def test_an_unknown_decision_changes_nothing(client, reviewer, workspace):
    post = _pending(workspace)

    response = _decide(client, post, decision="publish-now")

    assert response.status_code == 302
    post.refresh_from_db()
    assert post.status == PS.PENDING_REVIEW


def test_the_queue_filters_survive_a_decision(client, reviewer, workspace):
    post = _pending(workspace)

    response = _decide(client, post, decision="approve", _changelist_filters="source=manual")

    assert response["Location"] == reverse(CHANGELIST) + "?source=manual"


# --------------------------------------------------------------------------- bulk decisions


def _action(client, action, posts, **extra):
    data = {"action": action, ACTION_CHECKBOX_NAME: [post.pk for post in posts], **extra}
    return client.post(reverse(CHANGELIST), data, follow=True)


def test_bulk_approve_reports_counts_and_groups_skipped_reasons(client, reviewer, workspace):
    waiting = [_pending(workspace, text=f"waiting {n}") for n in range(3)]
    published = _pending(workspace, text="gone out")
    rejected = _pending(workspace, text="rejected meanwhile")
    Post.objects.filter(pk=published.pk).update(status=PS.PUBLISHED)
    Post.objects.filter(pk=rejected.pk).update(status=PS.REJECTED)

    response = _action(client, "approve_selected", [*waiting, published, rejected])

    assert _message_texts(response) == ["3 approved, 2 skipped: 1 already published; 1 already rejected."]
    assert sorted(Post.objects.values_list("status", flat=True)) == sorted(
        [PS.APPROVED] * 3 + [PS.PUBLISHED, PS.REJECTED]
    )


def test_bulk_approve_with_one_skip_says_why(client, reviewer, workspace):
    waiting = _pending(workspace)
    published = _pending(workspace)
    Post.objects.filter(pk=published.pk).update(status=PS.PUBLISHED)

    response = _action(client, "approve_selected", [waiting, published])

    assert _message_texts(response) == ["1 approved, 1 skipped: already published."]


def test_bulk_reject_asks_for_one_reason_first(client, reviewer, workspace):
    posts = [_pending(workspace, text=f"post {n}") for n in range(2)]

    confirm = _action(client, "reject_selected", posts)
    without_reason = _action(client, "reject_selected", posts, confirm="yes", reason="  ")
    done = _action(client, "reject_selected", posts, confirm="yes", reason="Off brand")

    assert "Reject 2 posts" in confirm.content.decode()
    assert "Say why the post is rejected, so the author can fix it." in without_reason.content.decode()
    assert _message_texts(done) == ["2 rejected."]
    for post in posts:
        assert _events(post) == [(PS.PENDING_REVIEW, PS.REJECTED, "Off brand")]


def test_bulk_request_changes_and_bulk_approve_and_schedule(client, reviewer, workspace):
    first, second = _pending(workspace, text="first"), _pending(workspace, text="second")
    year = NOW.year + 1

    changes = _action(client, "request_changes_selected", [first], confirm="yes", comment="Shorter, please")
    scheduled = _action(
        client,
        "approve_and_schedule_selected",
        [second],
        confirm="yes",
        mode="time",
        when=f"{year}-03-02 08:00",
        timezone="",
    )

    assert _message_texts(changes) == ["1 sent back for changes."]
    assert _message_texts(scheduled) == ["1 approved and scheduled."]
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (PS.DRAFT, PS.SCHEDULED)
    # No zone chosen: the workspace's (Europe/Berlin, UTC+1 in March).
    assert second.targets.get().scheduled_at == datetime(year, 3, 2, 7, 0, tzinfo=UTC)


def test_bulk_actions_refuse_more_than_the_limit(client, reviewer, workspace, monkeypatch):
    monkeypatch.setattr(review_admin, "BULK_LIMIT", 2)
    posts = [_pending(workspace, text=f"post {n}") for n in range(3)]

    response = _action(client, "approve_selected", posts)

    assert _message_texts(response) == [
        "Select at most 2 posts at a time: each one is decided, recorded and notified on its own."
    ]
    assert set(Post.objects.values_list("status", flat=True)) == {PS.PENDING_REVIEW}


# --------------------------------------------------------------------------- who may do what


def test_staff_with_only_the_view_permission_see_the_queue_read_only(client, workspace):
    client.force_login(_staff("view_pendingreviewpost"))
    post = _pending(workspace)

    listing = client.get(reverse(CHANGELIST))
    review = client.get(reverse("admin:content_pendingreviewpost_change", args=[post.pk]))
    decided = _decide(client, post, decision="approve")
    bulk = _action(client, "approve_selected", [post])

    assert listing.status_code == 200
    assert _rows(listing) == [post.pk]
    assert 'name="action"' not in listing.content.decode()
    assert review.status_code == 200
    assert 'data-testid="read-only"' in review.content.decode()
    assert 'data-testid="approve-form"' not in review.content.decode()
    assert decided.status_code == 403
    assert bulk.status_code == 200
    post.refresh_from_db()
    assert post.status == PS.PENDING_REVIEW
    assert not PostEvent.objects.exists()


def test_staff_without_permissions_do_not_see_the_queue(client, workspace):
    client.force_login(_staff())
    post = _pending(workspace)

    assert client.get(reverse(CHANGELIST)).status_code == 403
    assert client.get(reverse("admin:content_pendingreviewpost_change", args=[post.pk])).status_code == 403
    assert _decide(client, post, decision="approve").status_code == 403
    post.refresh_from_db()
    assert post.status == PS.PENDING_REVIEW


@pytest.mark.parametrize("logged_in", [False, True])
def test_customers_are_sent_to_log_in(client, workspace, logged_in):
    post = _pending(workspace)
    if logged_in:
        # Even an approver of this very workspace: they approve on the site, not in admin.
        client.force_login(MembershipFactory(workspace=workspace, role="approver").user)

    listing = client.get(reverse(CHANGELIST))
    decided = _decide(client, post, decision="approve")

    assert listing.status_code == 302 and "/login/" in listing["Location"]
    assert decided.status_code == 302 and "/login/" in decided["Location"]
    post.refresh_from_db()
    assert post.status == PS.PENDING_REVIEW


def test_nothing_in_the_queue_is_added_edited_or_deleted_in_admin(client, reviewer, workspace):
    post = _pending(workspace)

    assert client.get(reverse("admin:content_pendingreviewpost_add")).status_code == 403
    assert client.post(reverse("admin:content_pendingreviewpost_delete", args=[post.pk])).status_code == 403
    assert (
        client.post(reverse("admin:content_pendingreviewpost_change", args=[post.pk]), {"text": "x"}).status_code == 302
    )
    post.refresh_from_db()
    assert (post.status, post.text) == (PS.PENDING_REVIEW, "Fresh bread every morning")

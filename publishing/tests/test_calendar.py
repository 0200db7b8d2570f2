"""The content calendar: targets placed on their local day, month and week views, filters, isolation, queries."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Membership
from content.models import Post
from publishing import views_calendar
from publishing.models import PostTarget
from publishing.tests.factories import PostFactory, PostTargetFactory, SocialAccountFactory
from publishing.tests.test_stop_views import with_banner  # noqa: F401 - a fixture
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

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


@pytest.fixture
def now(monkeypatch):
    """Set the calendar's clock (only the calendar's: sessions and auto_now fields keep the real one)."""

    def set_now(moment: datetime) -> None:
        monkeypatch.setattr(views_calendar, "timezone", SimpleNamespace(now=lambda: moment))

    return set_now


def _url(workspace, **params) -> str:
    url = reverse("publishing:calendar", kwargs={"workspace_slug": workspace.slug})
    if params:
        url += "?" + "&".join(f"{key}={value}" for key, value in params.items())
    return url


def _target(account, *, text="", post_text="Hello world", status=TS.SCHEDULED, **fields) -> PostTarget:
    post = PostFactory(workspace=account.workspace, text=post_text, status=Post.Status.SCHEDULED)
    return PostTargetFactory(post=post, social_account=account, text=text, status=status, **fields)


def _placed(response) -> dict[str, list[int]]:
    """Each day with entries → its targets' ids, in order."""
    return {
        day.day.isoformat(): [entry.target.pk for entry in day.entries]
        for week in response.context["weeks"]
        for day in week
        if day.entries
    }


def _cell(response, day: date):
    return next(cell for week in response.context["weeks"] for cell in week if cell.day == day)


def _days(response) -> list[date]:
    return [day.day for week in response.context["weeks"] for day in week]


# --------------------------------------------------------------------------- placement


def test_the_month_places_targets_on_their_local_day(client, workspace, x_account):
    # Berlin is UTC+1 in January: 23:30 UTC on the 14th is 00:30 on the 15th.
    late = _target(x_account, scheduled_at=datetime(2026, 1, 14, 23, 30, tzinfo=UTC))
    noon = _target(x_account, scheduled_at=datetime(2026, 1, 14, 11, 0, tzinfo=UTC))
    # Published two days after its planned time: it sits where it went out.
    published = _target(
        x_account,
        status=TS.PUBLISHED,
        scheduled_at=datetime(2026, 1, 10, 9, 0, tzinfo=UTC),
        published_at=datetime(2026, 1, 12, 9, 0, 5, tzinfo=UTC),
    )
    unplanned = _target(x_account, status=TS.PENDING)  # no time at all: not on the calendar
    next_month = _target(x_account, scheduled_at=datetime(2026, 2, 10, 9, 0, tzinfo=UTC))

    response = client.get(_url(workspace, month="2026-01"))

    html = response.content.decode()
    assert response.status_code == 200
    assert _placed(response) == {"2026-01-12": [published.pk], "2026-01-14": [noon.pk], "2026-01-15": [late.pk]}
    assert f'data-testid="entry-{unplanned.pk}"' not in html
    assert f'data-testid="entry-{next_month.pk}"' not in html
    assert '<time class="fw-semibold" datetime="2026-01-15T00:30:00+01:00"' in html
    assert ">00:30</time>" in html
    assert ">12:00</time>" in html
    # The grid is whole weeks, Monday first: 29 Dec 2025 to 1 Feb 2026.
    assert _days(response)[0] == date(2025, 12, 29)
    assert _days(response)[-1] == date(2026, 2, 1)
    assert response.context["period"].first == date(2026, 1, 1)
    assert "January 2026" in html


def test_a_grid_day_of_the_next_month_shows_its_targets(client, workspace, x_account):
    # January's grid ends on Sunday 1 February: what is planned then is on the page, in a muted cell.
    first_of_february = _target(x_account, scheduled_at=datetime(2026, 2, 1, 10, 0, tzinfo=UTC))

    response = client.get(_url(workspace, month="2026-01"))

    assert _placed(response) == {"2026-02-01": [first_of_february.pk]}
    assert _cell(response, date(2026, 2, 1)).in_period is False
    assert _cell(response, date(2026, 1, 31)).in_period is True


def test_the_day_berlin_leaves_summer_time(client, workspace, x_account):
    # 25 Oct 2026: 03:00 CEST (UTC+2) becomes 02:00 CET (UTC+1).
    before = _target(x_account, scheduled_at=datetime(2026, 10, 24, 22, 30, tzinfo=UTC))  # 00:30 on the 25th, +2
    after = _target(x_account, scheduled_at=datetime(2026, 10, 25, 22, 30, tzinfo=UTC))  # 23:30 on the 25th, +1
    next_day = _target(x_account, scheduled_at=datetime(2026, 10, 25, 23, 30, tzinfo=UTC))  # 00:30 on the 26th, +1

    response = client.get(_url(workspace, month="2026-10"))

    html = response.content.decode()
    assert _placed(response) == {"2026-10-25": [before.pk, after.pk], "2026-10-26": [next_day.pk]}
    assert 'datetime="2026-10-25T00:30:00+02:00"' in html
    assert 'datetime="2026-10-25T23:30:00+01:00"' in html
    assert 'datetime="2026-10-26T00:30:00+01:00"' in html


def test_an_entry_shows_time_platform_account_status_excerpt_and_link(client, workspace, mastodon_account):
    target = _target(
        mastodon_account,
        text="The Mastodon version of the announcement, which is much longer than sixty characters in all",
        post_text="The post's own text",
        status=TS.FAILED,
        scheduled_at=datetime(2026, 3, 5, 8, 15, tzinfo=UTC),
    )
    plain = _target(
        mastodon_account, post_text="Only the post's text", scheduled_at=datetime(2026, 3, 6, 8, 0, tzinfo=UTC)
    )

    response = client.get(_url(workspace, month="2026-03"))

    html = response.content.decode()
    entry = _cell(response, date(2026, 3, 5)).entries[0]
    assert entry.target == target
    assert entry.excerpt == "The Mastodon version of the announcement, which is much lon…"
    assert len(entry.excerpt) == 60
    assert ">09:15</time>" in html
    assert '<i class="bi bi-mastodon" aria-hidden="true"></i> Mastodon' in html
    assert "acme@mastodon.social" in html
    assert '<span class="badge text-bg-danger" data-testid="status">Failed</span>' in html
    detail = reverse("publishing:post_detail", kwargs={"workspace_slug": workspace.slug, "pk": target.post_id})
    assert f'href="{detail}">The Mastodon version of the announcement' in html
    assert "The post&#x27;s own text" not in html
    assert "Only the post&#x27;s text" in html
    assert [e.target for e in _cell(response, date(2026, 3, 6)).entries] == [plain]


def test_failed_missed_and_unconfirmed_stand_out_and_cancelled_is_muted(client, workspace, x_account):
    at = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    targets = {
        status: _target(SocialAccountFactory(workspace=workspace), status=status, scheduled_at=at)
        for status in (TS.SCHEDULED, TS.FAILED, TS.MISSED, TS.UNCONFIRMED, TS.CANCELLED)
    }

    response = client.get(_url(workspace, month="2026-03"))

    html = response.content.decode()
    entries = {entry.target.status: entry for entry in _cell(response, date(2026, 3, 10)).entries}
    assert set(entries) == set(targets)
    assert entries[TS.SCHEDULED].attention == ""
    assert entries[TS.FAILED].attention == "border border-danger"
    assert entries[TS.MISSED].attention == "border border-warning"
    assert entries[TS.UNCONFIRMED].attention == "border border-warning"
    assert [status for status, entry in entries.items() if entry.muted] == [TS.CANCELLED]
    cancelled = targets[TS.CANCELLED].pk
    assert f'opacity-50" data-testid="entry-{cancelled}" data-status="cancelled"' in html
    assert '<span class="badge text-bg-secondary" data-testid="status">Cancelled</span>' in html
    assert '<span class="badge text-bg-warning" data-testid="status">Missed</span>' in html


# --------------------------------------------------------------------------- periods and links


def test_the_week_view_shows_monday_to_sunday(client, workspace, x_account):
    sunday_before = _target(x_account, scheduled_at=datetime(2026, 10, 25, 12, 0, tzinfo=UTC))
    monday = _target(x_account, scheduled_at=datetime(2026, 10, 26, 7, 0, tzinfo=UTC))
    sunday = _target(x_account, scheduled_at=datetime(2026, 11, 1, 22, 59, tzinfo=UTC))  # 23:59 in Berlin
    next_monday = _target(x_account, scheduled_at=datetime(2026, 11, 1, 23, 0, tzinfo=UTC))  # 00:00 on the 2nd

    response = client.get(_url(workspace, view="week", week="2026-10-28"))  # a Wednesday

    html = response.content.decode()
    assert response.status_code == 200
    assert _days(response) == [date(2026, 10, 26 + n) for n in range(6)] + [date(2026, 11, 1)]
    assert _placed(response) == {"2026-10-26": [monday.pk], "2026-11-01": [sunday.pk]}
    assert f'data-testid="entry-{sunday_before.pk}"' not in html
    assert f'data-testid="entry-{next_monday.pk}"' not in html
    assert "26 Oct \N{EN DASH} 1 Nov 2026" in html
    assert 'data-view="week"' in html


def test_month_links_go_to_the_neighbouring_months_and_keep_the_account(client, workspace, x_account):
    response = client.get(_url(workspace, month="2026-01", account=x_account.pk))

    links = response.context["links"]
    assert links["previous"] == f"?view=month&month=2025-12&account={x_account.pk}"
    assert links["next"] == f"?view=month&month=2026-02&account={x_account.pk}"
    assert links["today"] == f"?view=month&account={x_account.pk}"
    assert links["week"] == f"?view=week&week=2026-01-01&account={x_account.pk}"
    html = response.content.decode()
    assert f'href="?view=month&amp;month=2025-12&amp;account={x_account.pk}" data-testid="calendar-previous"' in html


def test_week_links_go_seven_days_and_switch_to_the_weeks_month(client, workspace):
    response = client.get(_url(workspace, view="week", week="2026-01-01"))

    links = response.context["links"]
    assert links["previous"] == "?view=week&week=2025-12-22"
    assert links["next"] == "?view=week&week=2026-01-05"
    assert links["today"] == "?view=week"
    assert links["month"] == "?view=month&month=2025-12"  # the week starts on Monday 29 December


def test_the_default_period_holds_today_in_the_workspaces_zone(client, workspace, x_account, now):
    # 23:30 UTC on 31 March is already 1 April in Berlin.
    now(datetime(2026, 3, 31, 23, 30, tzinfo=UTC))
    target = _target(x_account, scheduled_at=datetime(2026, 4, 1, 6, 0, tzinfo=UTC))

    month = client.get(_url(workspace))
    week = client.get(_url(workspace, view="week"))

    assert month.context["period"].first == date(2026, 4, 1)
    assert week.context["period"].first == date(2026, 3, 30)
    assert _placed(month) == _placed(week) == {"2026-04-01": [target.pk]}
    today = [day.day for week_ in month.context["weeks"] for day in week_ if day.is_today]
    assert today == [date(2026, 4, 1)]
    assert 'data-testid="day-2026-04-01" aria-current="date"' in month.content.decode()
    assert month.context["links"]["week"] == "?view=week&week=2026-04-01"


@pytest.mark.parametrize(
    ("params", "notice"),
    [
        ({"month": "2026-13"}, "Could not read the month “2026-13”; showing this month."),
        ({"month": "soon"}, "Could not read the month “soon”; showing this month."),
        ({"month": "0001-01"}, "Could not read the month “0001-01”; showing this month."),
        ({"view": "year"}, "Could not read the view “year”; showing the month."),
        ({"view": "week", "week": "2026-02-30"}, "Could not read the week “2026-02-30”; showing this week."),
        ({"view": "week", "week": "2026-W09-1"}, "Could not read the week “2026-W09-1”; showing this week."),
        ({"account": "abc"}, "Could not find the account “abc” in this workspace; showing every account."),
    ],
)
def test_unreadable_parameters_fall_back_with_a_notice(client, workspace, x_account, now, params, notice):
    now(datetime(2026, 2, 18, 12, 0, tzinfo=UTC))
    target = _target(x_account, scheduled_at=datetime(2026, 2, 18, 9, 0, tzinfo=UTC))

    response = client.get(_url(workspace, **params))

    assert response.status_code == 200
    assert response.context["notices"] == [notice]
    assert f'<div class="alert alert-warning" role="alert" data-testid="calendar-notice">{notice}</div>' in (
        response.content.decode()
    )
    assert response.context["period"].first in (date(2026, 2, 1), date(2026, 2, 16))
    assert _placed(response) == {"2026-02-18": [target.pk]}


def test_a_long_unreadable_value_is_quoted_short(client, workspace):
    response = client.get(_url(workspace, month="x" * 500))

    assert response.status_code == 200
    assert response.context["notices"] == [f"Could not read the month “{'x' * 39}…”; showing this month."]


# --------------------------------------------------------------------------- accounts and isolation


def test_the_account_filter_shows_one_accounts_targets(client, workspace, x_account, mastodon_account):
    on_x = _target(x_account, scheduled_at=datetime(2026, 5, 4, 9, 0, tzinfo=UTC))
    _target(mastodon_account, scheduled_at=datetime(2026, 5, 4, 9, 0, tzinfo=UTC))

    response = client.get(_url(workspace, month="2026-05", account=x_account.pk))

    html = response.content.decode()
    assert response.context["notices"] == []
    assert _placed(response) == {"2026-05-04": [on_x.pk]}
    assert f'<option value="{x_account.pk}" selected>X · acme_news</option>' in html
    assert f'<option value="{mastodon_account.pk}">Mastodon · acme@mastodon.social</option>' in html
    # The filter's form keeps the month.
    assert '<input type="hidden" name="month" value="2026-05">' in html


def test_another_workspaces_targets_never_appear(client, workspace, x_account):
    mine = _target(x_account, post_text="Ours", scheduled_at=datetime(2026, 5, 4, 9, 0, tzinfo=UTC))
    other = WorkspaceFactory(timezone="Europe/Berlin")
    theirs = SocialAccountFactory(workspace=other, handle="their_handle")
    _target(theirs, post_text="Someone else's plan", scheduled_at=datetime(2026, 5, 4, 9, 0, tzinfo=UTC))

    plain = client.get(_url(workspace, month="2026-05"))
    filtered = client.get(_url(workspace, month="2026-05", account=theirs.pk))

    for response in (plain, filtered):
        html = response.content.decode()
        assert _placed(response) == {"2026-05-04": [mine.pk]}
        assert "Someone else" not in html
        assert "their_handle" not in html
        assert [account.pk for account in response.context["accounts"]] == [x_account.pk]
    assert filtered.context["account"] is None
    assert filtered.context["notices"] == [
        f"Could not find the account “{theirs.pk}” in this workspace; showing every account."
    ]


def test_a_non_member_gets_404_and_a_visitor_the_login_page(client, workspace):
    outsider = UserFactory()
    MembershipFactory(user=outsider)  # a member of another workspace only
    client.force_login(outsider)

    assert client.get(_url(workspace)).status_code == 404
    client.logout()
    response = client.get(_url(workspace))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_a_viewer_may_look_but_is_not_offered_a_new_post(client, workspace):
    viewer = MembershipFactory(workspace=workspace, role=Membership.Role.VIEWER).user
    create = reverse("publishing:post_create", kwargs={"workspace_slug": workspace.slug})

    editor_html = client.get(_url(workspace, month="2026-05")).content.decode()
    client.force_login(viewer)
    response = client.get(_url(workspace, month="2026-05"))

    assert response.status_code == 200
    assert "Nothing is scheduled or published in this month." in editor_html
    assert f'<a href="{create}">Write a post</a>' in editor_html
    assert "Nothing is scheduled or published in this month." in response.content.decode()
    assert create not in response.content.decode()


def test_the_workspace_nav_links_to_the_calendar(client, workspace):
    calendar = _url(workspace)

    on_calendar = client.get(calendar).content.decode()
    on_posts = client.get(reverse("publishing:posts", kwargs={"workspace_slug": workspace.slug})).content.decode()

    assert f'<a class="nav-link active" href="{calendar}">Calendar</a>' in on_calendar
    assert f'<a class="nav-link" href="{calendar}">Calendar</a>' in on_posts


# --------------------------------------------------------------------------- the query budget


@pytest.mark.usefixtures("with_banner")
def test_the_calendar_costs_the_same_queries_for_many_targets(client, workspace, x_account, mastodon_account):
    def add_targets(count: int) -> None:
        for n in range(count):
            account = x_account if n % 2 else mastodon_account
            _target(account, post_text=f"Post {n}", scheduled_at=datetime(2026, 6, 1 + n, 9, 0, tzinfo=UTC))

    url = _url(workspace, month="2026-06")
    add_targets(2)
    client.get(url)  # warm the session and the remembered workspace
    with CaptureQueriesContext(connection) as few:
        response = client.get(url)
    assert response.context["entry_count"] == 2
    PostTarget.objects.all().delete()
    add_targets(20)

    with CaptureQueriesContext(connection) as many:
        response = client.get(url)

    assert response.context["entry_count"] == 20
    # session, user, membership, accounts, targets with posts and accounts, the switcher's memberships,
    # the stop banner, the bell's unread count
    assert len(many.captured_queries) == len(few.captured_queries) == 8


def test_the_entries_stop_at_the_cap_and_the_page_says_so(client, workspace, x_account, monkeypatch):
    monkeypatch.setattr(views_calendar, "MAX_ENTRIES", 3)
    targets = [_target(x_account, scheduled_at=datetime(2026, 7, 1 + n, 9, 0, tzinfo=UTC)) for n in range(4)]

    response = client.get(_url(workspace, month="2026-07"))

    html = response.content.decode()
    assert response.context["capped"] is True
    assert [entry for day in _placed(response).values() for entry in day] == [t.pk for t in targets[:3]]
    assert "has more than 3 posts to show: the calendar stops after the first 3, at Fri 3 Jul, 11:00" in html


def test_exactly_the_cap_is_not_capped(client, workspace, x_account, monkeypatch):
    monkeypatch.setattr(views_calendar, "MAX_ENTRIES", 2)
    for n in range(2):
        _target(x_account, scheduled_at=datetime(2026, 7, 1 + n, 9, 0, tzinfo=UTC))

    response = client.get(_url(workspace, month="2026-07"))

    assert response.context["capped"] is False
    assert 'data-testid="calendar-capped"' not in response.content.decode()


def test_a_time_asked_for_a_post_in_review_reads_awaiting_review(client, workspace, x_account):
    waiting = _target(x_account, status=TS.PENDING, scheduled_at=datetime(2026, 5, 4, 9, 0, tzinfo=UTC))
    waiting.post.status = Post.Status.PENDING_REVIEW
    waiting.post.save(update_fields=["status"])

    response = client.get(_url(workspace, month="2026-05"))

    (entry,) = [entry for week in response.context["weeks"] for day in week for entry in day.entries]
    assert entry.label == "Awaiting review"
    assert 'data-testid="status">Awaiting review</span>' in response.content.decode()

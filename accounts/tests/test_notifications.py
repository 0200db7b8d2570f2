"""The bell: each person sees and marks only their own notifications; the unread count is in every page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts import notifications
from accounts.models import Notification
from tests.factories import DEFAULT_PASSWORD, UserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

LIST = "/notifications/"
READ = "/notifications/read/"


@pytest.fixture
def ann():
    return UserFactory(email="ann@example.com")


@pytest.fixture
def bob():
    return UserFactory(email="bob@example.com")


def _notify(user, title="Post approved: Hello", *, read=False, **fields) -> Notification:
    return Notification.objects.create(
        user=user,
        kind=fields.pop("kind", Notification.Kind.APPROVED),
        title=title,
        url=fields.pop("url", "/w/acme/posts/1/"),
        read_at=timezone.now() if read else None,
        **fields,
    )


def _client(client, user):
    client.force_login(user)
    return client


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _unread(user) -> list[str]:
    return list(
        Notification.objects.filter(user=user, read_at__isnull=True).order_by("pk").values_list("title", flat=True)
    )


# --------------------------------------------------------------------------- services


def test_the_urls_are_the_documented_ones():
    assert reverse("accounts:notifications") == LIST
    assert reverse("accounts:notifications_read") == READ


def test_unread_count_counts_only_the_users_unread(ann, bob, django_assert_num_queries):
    _notify(ann)
    _notify(ann)
    _notify(ann, read=True)
    _notify(bob)

    with django_assert_num_queries(1):
        assert notifications.unread_count(ann) == 2
    assert notifications.unread_count(bob) == 1


def test_mark_read_by_ids_ignores_other_peoples_ids(ann, bob):
    mine = _notify(ann, "mine")
    _notify(ann, "also mine")
    theirs = _notify(bob, "theirs")

    changed = notifications.mark_read(user=ann, ids=[mine.pk, theirs.pk])

    assert changed == 1
    assert _unread(ann) == ["also mine"]
    assert _unread(bob) == ["theirs"]


def test_mark_read_everything_marks_all_of_the_users_and_no_one_elses(ann, bob):
    _notify(ann, "one")
    _notify(ann, "two")
    _notify(bob, "theirs")

    assert notifications.mark_read(user=ann, everything=True) == 2
    assert _unread(ann) == []
    assert _unread(bob) == ["theirs"]


def test_mark_read_keeps_the_first_read_time(ann):
    earlier = timezone.now() - timedelta(days=2)
    old = _notify(ann)
    Notification.objects.filter(pk=old.pk).update(read_at=earlier)

    assert notifications.mark_read(user=ann, ids=[old.pk]) == 0
    old.refresh_from_db()
    assert old.read_at == earlier


def test_mark_read_needs_something_to_mark(ann):
    with pytest.raises(ValidationError, match="Choose the notifications"):
        notifications.mark_read(user=ann, ids=[])


def test_create_notifications_makes_one_per_user_in_one_query(ann, bob, django_assert_num_queries):
    workspace = WorkspaceFactory()

    with django_assert_num_queries(1):
        created = notifications.create_notifications(
            users=[ann, bob],
            kind=Notification.Kind.REJECTED,
            title="Post  rejected:\n Hi",
            body="Reason: no",
            url="/x/",
            workspace=workspace,
        )

    assert len(created) == 2
    rows = Notification.objects.order_by("user__email").values_list("user__email", "title", "kind", "workspace")
    assert list(rows) == [
        ("ann@example.com", "Post rejected: Hi", "rejected", workspace.pk),
        ("bob@example.com", "Post rejected: Hi", "rejected", workspace.pk),
    ]


def test_create_notifications_cuts_a_long_title_and_refuses_an_unknown_kind(ann):
    (notice,) = notifications.create_notifications(users=[ann], kind="approved", title="x" * 500)
    assert len(notice.title) == 200 and notice.title.endswith("\N{HORIZONTAL ELLIPSIS}")

    with pytest.raises(ValueError, match="Unknown notification kind"):
        notifications.create_notifications(users=[ann], kind="party", title="Hi")


# --------------------------------------------------------------------------- the list page


def test_the_list_needs_a_login(client):
    response = client.get(LIST)

    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


def test_a_user_sees_only_their_own_notifications(client, ann, bob):
    _notify(ann, "Ann's post was approved")
    _notify(bob, "Bob's post was rejected")

    response = _client(client, ann).get(LIST)

    html = response.content.decode()
    assert response.status_code == 200
    assert "Ann&#x27;s post was approved" in html
    assert "Bob" not in html
    assert [n.title for n in response.context["page"].object_list] == ["Ann's post was approved"]


def test_the_list_shows_newest_first_and_can_show_unread_only(client, ann):
    old = _notify(ann, "old and read", read=True)
    Notification.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=1))
    _notify(ann, "new and unread", body="Reason: too long")

    everything = _client(client, ann).get(LIST)
    unread = client.get(LIST, {"show": "unread"})

    assert [n.title for n in everything.context["page"].object_list] == ["new and unread", "old and read"]
    assert [n.title for n in unread.context["page"].object_list] == ["new and unread"]
    assert "Reason: too long" in everything.content.decode()
    assert 'data-testid="unread-total">1<' in everything.content.decode()


def test_the_list_never_links_off_site(client, ann):
    _notify(ann, "evil", url="https://evil.example/steal")
    _notify(ann, "scripted", url="javascript:alert(1)")
    _notify(ann, "ours", url="/w/acme/posts/7/#target-3")

    html = _client(client, ann).get(LIST).content.decode()

    assert "evil.example" not in html
    assert "javascript:" not in html
    assert 'value="/w/acme/posts/7/#target-3"' in html


def test_a_bad_page_number_shows_a_page(client, ann):
    _notify(ann)

    response = _client(client, ann).get(LIST, {"page": "lots"})

    assert response.status_code == 200
    assert response.context["page"].number == 1


# --------------------------------------------------------------------------- marking read


def test_marking_one_read_from_the_list(client, ann):
    first = _notify(ann, "first")
    _notify(ann, "second")

    response = _client(client, ann).post(READ, {"ids": [str(first.pk)]})

    assert response.status_code == 302
    assert response.url == LIST
    assert _unread(ann) == ["second"]
    assert _messages(response) == ["Marked 1 notification as read."]


def test_opening_a_notification_marks_it_read_and_goes_to_what_it_is_about(client, ann):
    notice = _notify(ann, url="/w/acme/posts/9/")

    response = _client(client, ann).post(READ, {"ids": [str(notice.pk)], "next": notice.url})

    assert response.status_code == 302
    assert response.url == "/w/acme/posts/9/"
    assert _unread(ann) == []


def test_marking_all_read(client, ann, bob):
    _notify(ann, "one")
    _notify(ann, "two")
    _notify(bob, "theirs")

    response = _client(client, ann).post(READ, {"everything": "on"})

    assert response.url == LIST
    assert _unread(ann) == []
    assert _unread(bob) == ["theirs"]
    assert _messages(response) == ["All your notifications are marked as read."]


def test_another_persons_notification_cannot_be_marked_read(client, ann, bob):
    theirs = _notify(bob, "theirs")

    response = _client(client, ann).post(READ, {"ids": [str(theirs.pk)]})

    assert response.status_code == 302
    assert _unread(bob) == ["theirs"]
    assert _messages(response) == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Choose the notifications to mark as read."),
        ({"ids": ["abc"]}, "That is not a notification of yours. Reload the page and try again."),
        ({"ids": ["-3"]}, "That is not a notification of yours. Reload the page and try again."),
        ({"ids": ["9" * 40]}, "That is not a notification of yours. Reload the page and try again."),
        ({"ids": [str(n) for n in range(1, 300)]}, "Mark at most 200 notifications at once, or mark all of them read."),
    ],
    ids=["nothing", "letters", "negative", "huge", "too-many"],
)
def test_bad_input_is_refused_with_a_message_not_a_500(client, ann, data, message):
    _notify(ann)

    response = _client(client, ann).post(READ, data)

    assert response.status_code == 302
    assert response.url == LIST
    assert _messages(response) == [message]
    assert len(_unread(ann)) == 1


def test_next_never_leads_off_site(client, ann):
    notice = _notify(ann)

    response = _client(client, ann).post(READ, {"ids": [str(notice.pk)], "next": "//evil.example/"})

    assert response.url == LIST
    assert _unread(ann) == []


def test_marking_read_needs_a_login_and_a_post(client, ann):
    notice = _notify(ann)

    anonymous = client.post(READ, {"everything": "on"})
    get = _client(client, ann).get(READ)

    assert anonymous.status_code == 302 and anonymous.url.startswith(reverse("account_login"))
    assert get.status_code == 405
    assert _unread(ann) == [notice.title]


def test_marking_read_is_csrf_protected(ann):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(ann)
    _notify(ann)

    response = client.post(READ, {"everything": "on"})

    assert response.status_code == 403
    assert len(_unread(ann)) == 1


# --------------------------------------------------------------------------- the bell in every page


def test_the_bell_shows_the_unread_count(client, ann, bob):
    _notify(ann)
    _notify(ann)
    _notify(ann, read=True)
    _notify(bob)

    html = _client(client, ann).get(reverse("accounts:profile")).content.decode()

    assert 'data-testid="notification-bell"' in html
    assert 'data-testid="unread-count">2</span>' in html
    assert f'href="{LIST}"' in html
    assert 'aria-label="Notifications, 2 unread"' in html


def test_the_bell_shows_no_count_when_all_is_read(client, ann):
    _notify(ann, read=True)

    html = _client(client, ann).get(reverse("accounts:profile")).content.decode()

    assert 'data-testid="notification-bell"' in html
    assert 'data-testid="unread-count"' not in html


def test_a_big_count_is_shortened(client, ann):
    Notification.objects.bulk_create(
        [Notification(user=ann, kind=Notification.Kind.OTHER, title=f"n{n}") for n in range(120)]
    )

    html = _client(client, ann).get(reverse("accounts:profile")).content.decode()

    assert 'data-testid="unread-count">99+</span>' in html


def test_anonymous_visitors_get_no_bell_and_no_query(client, django_assert_num_queries):
    from accounts.context_processors import workspaces

    class Anonymous:
        is_authenticated = False

    class Request:
        user = Anonymous()

    with django_assert_num_queries(0):
        assert workspaces(Request()) == {}
    assert 'data-testid="notification-bell"' not in client.get(reverse("home")).content.decode()


def test_the_count_costs_one_query_and_only_when_shown(ann, django_assert_num_queries):
    from accounts.context_processors import workspaces

    class Request:
        user = ann

    _notify(ann)
    with django_assert_num_queries(0):
        context = workspaces(Request())
    with django_assert_num_queries(1):
        assert context["unread_notifications"] == 1
        assert bool(context["unread_notifications"]) is True


def test_the_password_login_works_with_the_bell(client, ann):
    # The whole page renders for a real login too (not only force_login).
    assert client.login(email=ann.email, password=DEFAULT_PASSWORD)
    assert client.get(LIST).status_code == 200

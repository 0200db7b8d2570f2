"""In-app notifications: what a person sees under the bell, and marking it read.

Every read and write here is scoped to one user: nobody ever sees or touches
another person's notifications, whatever ids they send.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import Notification

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from accounts.models import User, Workspace

TITLE_MAX_LENGTH = Notification._meta.get_field("title").max_length or 200


def unread_count(user: User) -> int:
    """How many of `user`'s notifications are unread (0 for an anonymous user). One query."""
    if not getattr(user, "is_authenticated", False):
        return 0
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def notifications_for(user: User, *, unread_only: bool = False) -> QuerySet[Notification]:
    """`user`'s notifications, newest first, with their workspace."""
    notifications = Notification.objects.filter(user=user).select_related("workspace").order_by("-created_at", "-pk")
    if unread_only:
        notifications = notifications.filter(read_at__isnull=True)
    return notifications


def mark_read(*, user: User, ids: Collection[int] | None = None, everything: bool = False) -> int:
    """Mark `user`'s notifications `ids` (or all of them, with `everything=True`) read; return how many changed.

    One UPDATE (atomic by itself), which only touches unread rows: the first read time stays.

    Ids of other people's notifications, or of ones already read, are ignored:
    they are simply not `user`'s unread notifications.
    """
    if not everything and not ids:
        raise ValidationError("Choose the notifications to mark as read.")
    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if not everything:
        unread = unread.filter(pk__in=list(ids or ()))
    return unread.update(read_at=timezone.now())


def create_notifications(
    *,
    users: Iterable[User],
    kind: str,
    title: str,
    body: str = "",
    url: str = "",
    workspace: Workspace | None = None,
) -> list[Notification]:
    """Create one notification per user, in one INSERT (atomic by itself), in the caller's transaction; return them.

    `url` is site-relative (a path of ours). The title is cut to what the
    column holds rather than refused: a long post excerpt must not lose the notice.
    """
    if kind not in Notification.Kind.values:
        raise ValueError(f"Unknown notification kind {kind!r}.")
    title = " ".join(title.split())
    if len(title) > TITLE_MAX_LENGTH:
        title = title[: TITLE_MAX_LENGTH - 1].rstrip() + "\N{HORIZONTAL ELLIPSIS}"
    rows = [Notification(user=user, workspace=workspace, kind=kind, title=title, body=body, url=url) for user in users]
    return Notification.objects.bulk_create(rows)

"""Telling people what happened to their posts: in-app notifications and email.

Who hears: the post's author (while still an active member of the workspace)
and the workspace's owner, each once, even when the author is the owner.
Review outcomes skip the person who made the decision (an owner approving on
the site needs no notice of their own click).

Each recipient gets one `accounts.Notification` (created in bulk, in the
caller's transaction) and one plain-text email with a link to the post page.
Emails go out only once the caller's transaction commits, so a decision that is
rolled back tells nobody; an email that cannot be sent is logged, never raised:
the decision or the failure it reports has already happened.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from smtplib import SMTPException
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.sites.models import Site
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.models import Membership, Notification, User
from accounts.notifications import create_notifications
from publishing.models import PostEvent, PostTarget
from publishing.providers import DISPLAY_NAMES

if TYPE_CHECKING:
    from content.models import Post

logger = logging.getLogger(__name__)

Kind = Notification.Kind
REVIEW_KINDS = frozenset({Kind.APPROVED, Kind.REJECTED, Kind.CHANGES_REQUESTED})
SNIPPET_LENGTH = 60
# Staff decide in Django admin and are not members; the notice names the team, not the person.
STAFF_LABEL = "the LetsGrow review team"


@dataclass(frozen=True)
class _Mail:
    to: str
    subject: str
    body: str


def snippet(post: Post) -> str:
    """The post's first words on one line, for titles and subjects."""
    words = " ".join((post.text or "").split())
    if not words:
        return "(empty post)"
    if len(words) <= SNIPPET_LENGTH:
        return words
    return words[: SNIPPET_LENGTH - 1].rstrip() + "\N{HORIZONTAL ELLIPSIS}"


def recipients(*, post: Post, exclude: User | None = None) -> list[User]:
    """The post's author (if still an active member) and the workspace's owner, deduplicated. One query."""
    involved = Q(role=Membership.Role.OWNER)
    if post.author_id is not None:
        involved |= Q(user_id=post.author_id)
    member_ids = Membership.objects.filter(involved, workspace_id=post.workspace_id).values("user_id")
    users = User.objects.filter(pk__in=member_ids, is_active=True).order_by("pk")
    if exclude is not None and exclude.pk is not None:
        users = users.exclude(pk=exclude.pk)
    return list(users)


def post_path(post: Post) -> str:
    return reverse("publishing:post_detail", kwargs={"workspace_slug": post.workspace.slug, "pk": post.pk})


def absolute_url(path: str) -> str:
    protocol = getattr(settings, "ACCOUNT_DEFAULT_HTTP_PROTOCOL", "https")
    return f"{protocol}://{Site.objects.get_current().domain}{path}"


def _actor_name(actor: User | None, *, post: Post) -> str:
    if actor is None:
        return STAFF_LABEL
    is_member = Membership.objects.filter(workspace_id=post.workspace_id, user_id=actor.pk).exists()
    if not is_member:
        return STAFF_LABEL
    return actor.name or actor.email


def _render_mail(*, template: str, context: dict[str, object], to: str) -> _Mail:
    # One line: a newline in a post's text or a workspace name must not break (or inject) mail headers.
    subject = " ".join(render_to_string(f"publishing/email/{template}_subject.txt", context).split())
    body = render_to_string(f"publishing/email/{template}_body.txt", context)
    prefix = getattr(settings, "ACCOUNT_EMAIL_SUBJECT_PREFIX", "")
    return _Mail(to=to, subject=f"{prefix}{subject}", body=body)


def _send_after_commit(mails: list[_Mail], *, what: str) -> None:
    if not mails:
        return
    transaction.on_commit(lambda: send_mails(mails, what=what), robust=True)


def send_mails(mails: list[_Mail], *, what: str) -> int:
    """Send each mail on its own (one recipient each); log, never raise, what fails. Return how many went out."""
    sent = 0
    connection = get_connection()
    for mail in mails:
        message = EmailMessage(mail.subject, mail.body, settings.DEFAULT_FROM_EMAIL, [mail.to], connection=connection)
        try:
            sent += message.send()
        except (SMTPException, OSError):
            logger.exception("Could not email %s about %s.", mail.to, what)
    try:
        connection.close()
    except (SMTPException, OSError):
        logger.warning("Closing the mail connection failed after emailing about %s.", what, exc_info=True)
    return sent


@transaction.atomic
def notify_review_outcome(*, post: Post, kind: str, actor: User | None, message: str) -> int:
    """Tell the post's author and the workspace's owners that it was approved, rejected or sent back.

    `kind` is `Notification.Kind.APPROVED`, `REJECTED` or `CHANGES_REQUESTED`;
    `message` (the reviewer's note or reason) is passed on verbatim. The actor
    is not told of their own decision. Returns how many people were notified.
    """
    if kind not in REVIEW_KINDS:
        raise ValueError(f"{kind!r} is not a review outcome: use approved, rejected or changes_requested.")
    kind = Kind(kind)
    people = recipients(post=post, exclude=actor)
    if not people:
        return 0
    workspace = post.workspace
    path = post_path(post)
    excerpt = snippet(post)
    decided_by = _actor_name(actor, post=post)
    message = message.strip()
    titles = {
        Kind.APPROVED: f"Post approved: {excerpt}",
        Kind.REJECTED: f"Post rejected: {excerpt}",
        Kind.CHANGES_REQUESTED: f"Changes requested: {excerpt}",
    }
    labels = {
        Kind.APPROVED: "Note",
        Kind.REJECTED: "Reason",
        Kind.CHANGES_REQUESTED: "What to change",
    }
    body = f"{labels[kind]}: {message}" if message else ""
    create_notifications(users=people, kind=kind, title=titles[kind], body=body, url=path, workspace=workspace)

    url = absolute_url(path)
    mails = []
    for person in people:
        if not person.email:
            continue
        context = {
            "recipient": person,
            "is_author": person.pk == post.author_id,
            "post": post,
            "workspace": workspace,
            "kind": str(kind),
            "snippet": excerpt,
            "message": message,
            "decided_by": decided_by,
            "url": url,
        }
        mails.append(_render_mail(template="review_outcome", context=context, to=person.email))
    _send_after_commit(mails, what=f"the review of post {post.pk} ({kind})")
    return len(people)


def _failure_since(target: PostTarget) -> datetime:
    """When the target's current failure began: its last move to `failed` (the row's update time without one)."""
    event = (
        PostEvent.objects.filter(target=target, to_status=PostTarget.Status.FAILED)
        .order_by("-created_at", "-pk")
        .first()
    )
    return event.created_at if event is not None else target.updated_at


@transaction.atomic
def notify_publish_failed(*, target: PostTarget, email_owners: bool = True) -> int:
    """Tell the post's author and the workspace's owners that a target failed, and why.

    At most once per failure: the target row is locked, and nothing is sent
    when it is no longer failed or when this failure was already notified (a
    retried task, a second caller). `email_owners=False` notifies the owners
    in-app only, for failures another email already told them about (an
    account that needs reconnecting). Returns how many people were notified.
    """
    target = (
        PostTarget.objects.select_for_update(of=("self",))
        .select_related("post__workspace", "social_account")
        .filter(pk=target.pk)
        .first()
    )
    if target is None or target.status != PostTarget.Status.FAILED:
        return 0
    post = target.post
    # The anchor makes each target's failure its own notice, and is the key for "already notified".
    path = f"{post_path(post)}#target-{target.pk}"
    already = Notification.objects.filter(
        kind=Kind.PUBLISH_FAILED, url=path, created_at__gte=_failure_since(target)
    ).exists()
    if already:
        return 0
    people = recipients(post=post)
    if not people:
        return 0
    account = target.social_account
    platform = DISPLAY_NAMES.get(account.platform, account.platform)
    reason = target.last_error.strip() or "The platform did not say why."
    excerpt = snippet(post)
    create_notifications(
        users=people,
        kind=Kind.PUBLISH_FAILED,
        title=f"Not published on {platform} ({account.handle}): {excerpt}",
        body=f"What went wrong: {reason}",
        url=path,
        workspace=post.workspace,
    )

    owner_ids = set(
        Membership.objects.filter(workspace_id=post.workspace_id, role=Membership.Role.OWNER).values_list(
            "user_id", flat=True
        )
    )
    url = absolute_url(path)
    mails = []
    for person in people:
        if not person.email or (not email_owners and person.pk in owner_ids):
            continue
        context = {
            "recipient": person,
            "is_author": person.pk == post.author_id,
            "post": post,
            "workspace": post.workspace,
            "snippet": excerpt,
            "platform_name": platform,
            "handle": account.handle,
            "reason": reason,
            "scheduled_at": target.scheduled_at,
            "url": url,
        }
        mails.append(_render_mail(template="publish_failed", context=context, to=person.email))
    _send_after_commit(mails, what=f"the failure of target {target.pk}")
    return len(people)

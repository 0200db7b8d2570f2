"""Review helpers for post pages whose views do not pass them (`{% load review %}`).

- `{{ membership|may:"approve" }}`: whether the member's role allows an action (accounts.permissions).
- `{% review_note post events as note %}`: the review decision the author must act on, if any.
"""

from __future__ import annotations

from collections.abc import Iterable

from django import template

from accounts.permissions import Action, can
from content.models import Post
from publishing.models import PostEvent

register = template.Library()

PS = Post.Status
# A reviewer's decision that sends the post back: rejected, or changes requested (back to draft).
SENT_BACK = frozenset({PS.REJECTED, PS.DRAFT})
# A later submission or approval makes an earlier decision history, not something left to act on.
SUPERSEDING = frozenset({PS.PENDING_REVIEW, PS.APPROVED, PS.SCHEDULED})


@register.filter
def may(membership: object, action: str) -> bool:
    """Whether `membership` (a Membership, or None) may do `action` (an `Action` value); unknown actions: no."""
    try:
        wanted = Action(action)
    except ValueError:
        return False
    return can(getattr(membership, "role", None), wanted)


@register.simple_tag
def review_note(post: Post, events: Iterable[PostEvent]) -> PostEvent | None:
    """The last post-level event that sent `post` from review back to its author, while it still stands.

    `events` is the post's history the page already loaded (so no query). Only while the post is
    rejected or a draft: once it is resubmitted the note is history, not something to act on.
    """
    if post.status not in SENT_BACK:
        return None
    note = None
    for event in events:
        if event.target_id is not None or not event.to_status:
            continue
        if event.from_status == PS.PENDING_REVIEW and event.to_status in SENT_BACK:
            note = event
        elif event.to_status in SUPERSEDING:
            note = None
    return note if note is not None and note.reason else None

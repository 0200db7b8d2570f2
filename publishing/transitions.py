"""The post lifecycle state machine: the only code that changes a post's or a target's status.

Every change is a compare-and-set UPDATE (`WHERE status = <the status we saw>`)
plus an event row in the same transaction, so two workers can never both move
the same target, and every move is on the record (STYLE §4).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from content.models import Post
from publishing.models import PostEvent, PostTarget

PS = Post.Status
TS = PostTarget.Status

POST_ALLOWED: dict[str, frozenset[str]] = {
    PS.DRAFT: frozenset({PS.PENDING_REVIEW, PS.APPROVED, PS.CANCELLED}),
    PS.PENDING_REVIEW: frozenset({PS.APPROVED, PS.REJECTED, PS.DRAFT, PS.CANCELLED}),
    PS.APPROVED: frozenset({PS.SCHEDULED, PS.PENDING_REVIEW, PS.DRAFT, PS.CANCELLED}),
    PS.REJECTED: frozenset({PS.DRAFT, PS.PENDING_REVIEW, PS.CANCELLED}),
    # From here on the post's status is the roll-up of its targets'.
    PS.SCHEDULED: frozenset(
        {PS.PUBLISHING, PS.PUBLISHED, PS.PARTIALLY_PUBLISHED, PS.FAILED, PS.APPROVED, PS.PENDING_REVIEW, PS.CANCELLED}
    ),
    PS.PUBLISHING: frozenset({PS.SCHEDULED, PS.PUBLISHED, PS.PARTIALLY_PUBLISHED, PS.FAILED}),
    PS.PARTIALLY_PUBLISHED: frozenset({PS.PUBLISHING, PS.SCHEDULED, PS.PUBLISHED, PS.FAILED}),
    PS.FAILED: frozenset({PS.SCHEDULED, PS.PUBLISHING, PS.PARTIALLY_PUBLISHED, PS.PUBLISHED, PS.CANCELLED}),
    PS.PUBLISHED: frozenset(),
    PS.CANCELLED: frozenset({PS.DRAFT}),
}

TARGET_ALLOWED: dict[str, frozenset[str]] = {
    TS.PENDING: frozenset({TS.SCHEDULED, TS.CANCELLED}),
    TS.SCHEDULED: frozenset({TS.PUBLISHING, TS.PENDING, TS.CANCELLED, TS.MISSED, TS.FAILED}),
    # publishing → scheduled: a retry after a transient error, or a lease recovered safely.
    TS.PUBLISHING: frozenset({TS.PUBLISHED, TS.FAILED, TS.UNCONFIRMED, TS.SCHEDULED}),
    # unconfirmed → published (found it) | scheduled (proved absent: safe to send) | failed.
    TS.UNCONFIRMED: frozenset({TS.PUBLISHED, TS.SCHEDULED, TS.FAILED}),
    TS.FAILED: frozenset({TS.SCHEDULED, TS.CANCELLED}),  # "retry" (never for published ones)
    TS.MISSED: frozenset({TS.SCHEDULED, TS.CANCELLED}),
    TS.CANCELLED: frozenset({TS.PENDING, TS.SCHEDULED}),
    TS.PUBLISHED: frozenset(),
}


class InvalidTransition(ValueError):
    """The move is not allowed from the current status."""


class TransitionConflict(RuntimeError):
    """Someone else changed the status first (the compare-and-set found 0 rows)."""


def _allowed(obj: Post | PostTarget) -> dict[str, frozenset[str]]:
    return POST_ALLOWED if isinstance(obj, Post) else TARGET_ALLOWED


def can_transition(obj: Post | PostTarget, to: str) -> bool:
    return to in _allowed(obj).get(obj.status, frozenset())


@transaction.atomic
def transition(
    obj: Post | PostTarget,
    to: str,
    *,
    actor=None,
    actor_label: str = "",
    reason: str = "",
    expected: str | None = None,
    **changes: Any,
) -> Post | PostTarget:
    """Move `obj` to status `to`, setting `changes` in the same UPDATE, and record the event.

    `expected` is the status the caller believes `obj` has (default: `obj.status`).
    Raises InvalidTransition if the move is not allowed, TransitionConflict if the
    row no longer has the expected status. Updates `obj` in memory on success.
    """
    current = expected if expected is not None else obj.status
    allowed = _allowed(obj)
    if to not in allowed.get(current, frozenset()):
        raise InvalidTransition(f"{type(obj).__name__} {obj.pk}: {current} → {to} is not allowed.")
    now = timezone.now()
    rows = type(obj).objects.filter(pk=obj.pk, status=current).update(status=to, updated_at=now, **changes)
    if rows != 1:
        raise TransitionConflict(f"{type(obj).__name__} {obj.pk} is no longer {current}.")
    for field, value in {"status": to, "updated_at": now, **changes}.items():
        setattr(obj, field, value)
    is_target = isinstance(obj, PostTarget)
    PostEvent.objects.create(
        workspace_id=obj.workspace_id,
        post_id=obj.post_id if is_target else obj.pk,
        target=obj if is_target else None,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=actor_label,
        from_status=current,
        to_status=to,
        reason=reason,
    )
    return obj


def record_event(
    *, post: Post, target: PostTarget | None = None, actor=None, actor_label: str = "", reason: str
) -> None:
    """Record an action that changes no status (an edit, a reschedule, a manual retry request)."""
    PostEvent.objects.create(
        workspace_id=post.workspace_id,
        post=post,
        target=target,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=actor_label,
        reason=reason,
    )


# The roll-up: a scheduled post's status follows its targets'.
_LIVE = {TS.SCHEDULED, TS.PUBLISHING, TS.UNCONFIRMED}


def rollup_status(target_statuses: list[str]) -> str | None:
    """The post status its targets add up to, or None while the post is not scheduled yet."""
    statuses = [s for s in target_statuses if s != TS.CANCELLED]
    if not statuses or all(s == TS.PENDING for s in statuses):
        return None
    if any(s == TS.PUBLISHING for s in statuses):
        return PS.PUBLISHING
    published = sum(s == TS.PUBLISHED for s in statuses)
    if published == len(statuses):
        return PS.PUBLISHED
    if any(s in _LIVE for s in statuses):
        return PS.PARTIALLY_PUBLISHED if published else PS.SCHEDULED
    # Everything has finished: some or none went out.
    return PS.PARTIALLY_PUBLISHED if published else PS.FAILED


def refresh_rollup(post: Post, *, actor_label: str = "roll-up") -> Post:
    """Set the post's status to its targets' roll-up when that differs (a no-op before scheduling)."""
    post.refresh_from_db(fields=["status"])
    wanted = rollup_status(list(post.targets.values_list("status", flat=True)))
    if wanted is None or wanted == post.status or not can_transition(post, wanted):
        return post
    try:
        return transition(post, wanted, actor_label=actor_label, reason="targets changed")
    except TransitionConflict:
        # Another worker rolled it up at the same moment; recompute from what it wrote.
        return refresh_rollup(post, actor_label=actor_label)

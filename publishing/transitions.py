"""The post lifecycle state machine: the only code that changes a post's or a target's status.

Every change is a compare-and-set UPDATE (`WHERE status = <the status we saw>`)
plus an event row in the same transaction, so two workers can never both move
the same target, and every move is on the record (STYLE §4).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db import connections, router, transaction
from django.db.models import QuerySet
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


@transaction.atomic(savepoint=False)
def transition_many(
    queryset: QuerySet,
    to: str,
    *,
    expected: str,
    actor=None,
    actor_label: str = "",
    reason: str = "",
    reasons: Mapping[int, str] | None = None,
    limit: int | None = None,
    skip_locked: bool = True,
    changes_by_pk: Mapping[int, Mapping[str, Any]] | None = None,
    locked_rows: Sequence[tuple[int, ...]] | None = None,
    **changes: Any,
) -> list[int]:
    """Move the rows of `queryset` that are `expected` to `to` (at most `limit`, in its order); return their ids.

    The batch form of `transition`, for the delivery engine: the rows are locked
    first (`SELECT … FOR UPDATE`, skipping rows another worker holds unless
    `skip_locked` is False), so the compare-and-set UPDATE that follows moves
    exactly the rows we saw, and one event per row is written with one INSERT.
    `changes` apply to every row; `changes_by_pk` adds per-row values (the same
    fields for every row). `reasons` gives per-row event reasons (default `reason`).
    `locked_rows`: the caller already holds these rows' locks and saw them `expected`
    ((pk, workspace id) for posts, (pk, workspace id, post id) for targets): no SELECT.
    """
    model = queryset.model
    allowed = POST_ALLOWED if model is Post else TARGET_ALLOWED
    if to not in allowed.get(expected, frozenset()):
        raise InvalidTransition(f"{model.__name__}: {expected} → {to} is not allowed.")
    is_target = model is PostTarget
    columns = ("pk", "workspace_id", "post_id") if is_target else ("pk", "workspace_id")
    if locked_rows is not None:
        rows = list(locked_rows)
    else:
        locked = queryset.filter(status=expected).select_for_update(skip_locked=skip_locked, of=("self",))
        rows = list(locked.values_list(*columns)[:limit] if limit is not None else locked.values_list(*columns))
    if not rows:
        return []
    pks = [row[0] for row in rows]
    now = timezone.now()
    fresh = model.objects.filter(pk__in=pks, status=expected)
    if changes_by_pk:
        moved = update_each(model, pks, expected, {"status": to, "updated_at": now, **changes}, changes_by_pk)
    else:
        moved = fresh.update(status=to, updated_at=now, **changes)
    if moved != len(pks):  # the rows are locked: only a database without row locks gets here
        raise TransitionConflict(f"{model.__name__}: {len(pks) - moved} of {len(pks)} rows are no longer {expected}.")
    actor = actor if getattr(actor, "pk", None) else None
    PostEvent.objects.bulk_create(
        PostEvent(
            workspace_id=row[1],
            post_id=row[2] if is_target else row[0],
            target_id=row[0] if is_target else None,
            actor=actor,
            actor_label=actor_label,
            from_status=expected,
            to_status=to,
            reason=(reasons or {}).get(row[0], reason),
        )
        for row in rows
    )
    return pks


def update_each(
    model: type,
    pks: list[int],
    expected: str,
    common: Mapping[str, Any],
    per_row: Mapping[int, Mapping[str, Any]],
    *,
    also: Mapping[str, Any] | None = None,
) -> int:
    """One UPDATE setting `common` on every row of `pks` still `expected`, and each row's `per_row` values.

    Returns the rows updated. `common` carries a status only when called by
    `transition_many` (the state machine); other callers set other fields.
    `also` adds equality conditions (e.g. the claim: `{"claimed_by": worker}`).

    `QuerySet.bulk_update` would write the same with a CASE per field and row,
    whose building cost about 5 ms of CPU per row in the delivery engine's
    profile; this costs one parameter per value.
    """
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    meta = model._meta
    own = sorted(per_row[pks[0]])
    fields = {name: meta.get_field(name) for name in [*common, *own]}
    is_postgres = connection.vendor == "postgresql"

    def slot(name: str) -> str:
        # PostgreSQL types a VALUES list from its literals: say what each column is.
        return f"CAST(%s AS {fields[name].db_type(connection)})" if is_postgres else "%s"

    def prep(name: str, value: Any) -> Any:
        return fields[name].get_db_prep_save(value, connection)

    pk_column = meta.pk.column
    values = ", ".join(
        "("
        + ", ".join(
            [f"CAST(%s AS {meta.pk.db_type(connection)})" if is_postgres else "%s", *(slot(name) for name in own)]
        )
        + ")"
        for _ in pks
    )
    # Parameters in the order their placeholders appear: SET, then VALUES, then WHERE.
    params: list[Any] = [prep(name, value) for name, value in common.items()]
    for pk in pks:
        params.append(pk)
        params.extend(prep(name, per_row[pk][name]) for name in own)
    columns = ", ".join(quote(c) for c in ["id", *(fields[name].column for name in own)])
    table = quote(meta.db_table)
    assignments = [f"{quote(fields[name].column)} = %s" for name in common]
    assignments += [f"{quote(fields[name].column)} = v.{quote(fields[name].column)}" for name in own]
    params.append(expected)
    conditions = ""
    for name, value in (also or {}).items():
        field = meta.get_field(name)
        conditions += f" AND {quote(meta.db_table)}.{quote(field.column)} = %s"
        params.append(field.get_db_prep_save(value, connection))
    # Identifiers come from the model's metadata, quoted; every value is a parameter. The CTE sits in
    # a subquery: SQLite reports no row count for a statement that starts with WITH.
    sql = (
        f"UPDATE {table} SET {', '.join(assignments)} "  # noqa: S608
        f"FROM (WITH v({columns}) AS (VALUES {values}) SELECT * FROM v) AS v "
        f"WHERE {table}.{quote(pk_column)} = v.{quote('id')} AND {table}.{quote('status')} = %s{conditions}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


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
    refresh_rollups([post.pk], actor_label=actor_label)
    post.refresh_from_db(fields=["status", "updated_at"])
    return post


@transaction.atomic(savepoint=False)
def refresh_rollups(post_ids: Iterable[int], *, actor_label: str = "roll-up") -> None:
    """Roll up each post in `post_ids` to its targets' statuses, in a constant number of queries.

    The posts are locked (in id order, so two workers cannot deadlock) before
    their targets are read: two workers finishing two targets of one post at the
    same moment then roll it up one after the other, and the second sees the
    first's target, so the post never keeps a stale roll-up.
    """
    ids = sorted(set(post_ids))
    if not ids:
        return
    locked = Post.objects.select_for_update().filter(pk__in=ids).order_by("pk")
    current = {
        pk: (status, workspace_id) for pk, status, workspace_id in locked.values_list("pk", "status", "workspace_id")
    }
    statuses: dict[int, list[str]] = defaultdict(list)
    for post_id, status in PostTarget.objects.filter(post_id__in=ids).values_list("post_id", "status"):
        statuses[post_id].append(status)
    moves: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for pk, (status, workspace_id) in current.items():
        wanted = rollup_status(statuses[pk])
        if wanted is not None and wanted != status and wanted in POST_ALLOWED.get(status, frozenset()):
            moves[(status, wanted)].append((pk, workspace_id))
    for (status, wanted), rows in moves.items():
        transition_many(
            Post.objects.none(),
            wanted,
            expected=status,
            actor_label=actor_label,
            reason="targets changed",
            locked_rows=rows,
        )

"""The emergency stop: while it is on, nothing is published, globally or for one workspace.

- `is_publishing_stopped(workspace)` answers for one workspace (one query, no
  cache); `active_stops()` reads every stop that is on in one query, which the
  delivery engine does before each batch and again at least every
  `PUBLISH_STOP_RECHECK_MS` while it sends one, so a stop holds on every worker
  within a fraction of a second.
  Targets stay `scheduled` while a stop is on; turning it off needs no special
  work, because the sweep picks the due targets up again on its next tick.
- `set_emergency_stop(...)` is the one way to turn a stop on or off. The global
  stop is for staff (Django admin); a workspace's stop is for its owner, and
  for staff with the `publishing.change_emergencystop` permission (Django
  admin, e.g. a workspace whose posts cause trouble while its owner is away).

Audit: a stop concerns no single post, so it cannot be a `PostEvent` (which
needs a post). Every change is written as a Django admin `LogEntry` on the
`EmergencyStop` row (the same record staff see in the admin's "History" of
the row and in "Recent actions"), and logged through Python logging as a
warning, so it also reaches the log aggregator.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.contrib.admin.models import CHANGE, LogEntry
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import F, Q

from accounts.models import Membership, Workspace
from publishing.models import EmergencyStop

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

GLOBAL_STOP_REASON = "Publishing is paused for every workspace (emergency stop)."
WORKSPACE_STOP_REASON = "Publishing is paused for this workspace (emergency stop)."


def active_stop(workspace: Workspace | int | None) -> EmergencyStop | None:
    """The stop that holds `workspace`'s publishing, or None. The global stop wins. One query.

    `workspace` may be a Workspace, its id, or None (only the global stop is consulted).
    """
    workspace_id = workspace.pk if isinstance(workspace, Workspace) else workspace
    scope = Q(workspace__isnull=True)
    if workspace_id is not None:
        scope |= Q(workspace_id=workspace_id)
    # NULL (the global row) first, so a global stop is the one reported when both are on.
    return (
        EmergencyStop.objects.filter(scope, is_active=True)
        .order_by(F("workspace_id").asc(nulls_first=True))
        .select_related("workspace")
        .first()
    )


def stop_reason(stop: EmergencyStop) -> str:
    """What to tell people about an active stop: the reason given, or a plain default."""
    if stop.reason:
        return stop.reason
    return GLOBAL_STOP_REASON if stop.workspace_id is None else WORKSPACE_STOP_REASON


def is_publishing_stopped(workspace: Workspace | int | None) -> str:
    """Return "" when `workspace` may publish, else why not (never empty while stopped).

    Exactly one query and no cache: a stop must hold from the moment it is saved.
    """
    stop = active_stop(workspace)
    return stop_reason(stop) if stop is not None else ""


def active_stops() -> tuple[str, dict[int, str]]:
    """Every stop that is on, in one query: (the global stop's reason or "", {workspace id: reason}).

    For the delivery engine, which re-reads it at least every
    `PUBLISH_STOP_RECHECK_MS` while it sends a batch of targets.
    """
    global_reason, by_workspace = "", {}
    for stop in EmergencyStop.objects.filter(is_active=True):
        if stop.workspace_id is None:
            global_reason = stop_reason(stop)
        else:
            by_workspace[stop.workspace_id] = stop_reason(stop)
    return global_reason, by_workspace


def may_manage_any_stop(user: User) -> bool:
    """Whether `user` is staff with `publishing.change_emergencystop`: they may switch any workspace's stop."""
    return bool(user.is_active and user.is_staff and user.has_perm("publishing.change_emergencystop"))


def _check_may_change(*, workspace: Workspace | None, actor: User) -> None:
    if not getattr(actor, "is_authenticated", False) or not actor.is_active:
        raise PermissionDenied("Log in to change the emergency stop.")
    if workspace is None:
        if not actor.is_staff:
            raise PermissionDenied("Only staff can turn the global emergency stop on or off.")
        return
    if may_manage_any_stop(actor):
        return
    is_owner = Membership.objects.filter(workspace=workspace, user=actor, role=Membership.Role.OWNER).exists()
    if not is_owner:
        raise PermissionDenied(
            "Only the workspace owner (or staff allowed to manage emergency stops) "
            "can turn its emergency stop on or off."
        )


def _locked_row(workspace: Workspace | None) -> EmergencyStop:
    """The scope's stop row, locked for this transaction; created (off) on first use."""
    rows = EmergencyStop.objects.select_for_update()
    scope = Q(workspace__isnull=True) if workspace is None else Q(workspace=workspace)
    stop = rows.filter(scope).first()
    if stop is not None:
        return stop
    try:
        # A savepoint: when a concurrent request created the row first, the unique
        # constraint refuses ours and the transaction goes on with theirs.
        with transaction.atomic():
            return EmergencyStop.objects.create(workspace=workspace, is_active=False)
    except IntegrityError:
        return rows.get(scope)


@transaction.atomic
def set_emergency_stop(*, workspace: Workspace | None, active: bool, actor: User, reason: str = "") -> EmergencyStop:
    """Turn the emergency stop of `workspace` (None: the global one) on or off, and audit it.

    The global stop requires a staff user; a workspace's stop requires its
    owner or staff with `publishing.change_emergencystop` (PermissionDenied
    otherwise; nothing is written). Every call is
    audited, also one that leaves the state as it was (someone pressed the
    button: the record says so). Returns the stop row.
    """
    _check_may_change(workspace=workspace, actor=actor)
    reason = reason.strip()
    stop = _locked_row(workspace)
    was_active = stop.is_active
    stop.is_active = active
    stop.reason = reason
    stop.changed_by = actor
    stop.save(update_fields=["is_active", "reason", "changed_by", "changed_at"])

    scope = "global" if workspace is None else f"workspace {workspace.slug} ({workspace.pk})"
    verb = "on" if active else "off"
    message = f"Turned the {'global ' if workspace is None else ''}emergency stop {verb}"
    if was_active == active:
        message += " (it already was)"
    if reason:
        message += f": {reason}"
    LogEntry.objects.log_actions(
        user_id=actor.pk, queryset=[stop], action_flag=CHANGE, change_message=message, single_object=True
    )
    logger.warning(
        "Emergency stop %s for %s by user %s (was %s). Reason: %s",
        verb,
        scope,
        actor.pk,
        "on" if was_active else "off",
        reason or "-",
    )
    return stop

"""Delivery: claim one due target, re-check it at send time, publish it once, classify what went wrong.

The engine's rules, in the order a target meets them:

- **Claim.** A worker owns a target only after moving it `scheduled → publishing`
  in one transaction that locks the row (`SELECT … FOR UPDATE SKIP LOCKED`,
  filtered on "scheduled and due") and then runs the state machine's
  compare-and-set. Two workers (or the ETA trigger and the sweep) can never
  both win. The claim carries a lease (`PUBLISH_LEASE_SECONDS`, renewed while
  the worker process lives: publishing/leases.py) and the worker's id
  (`claimed_by`); every later move out of `publishing` re-checks,
  under a row lock, that the worker still owns it, so a worker whose lease was
  recovered by the sweep cannot overwrite what happened since.
- **Re-check at send time.** Emergency stop (held back, stays scheduled),
  account connected, post still approved, the plan's posts per day, the
  missed cutoff, and the rate budget (wait without counting an attempt).
- **Send.** The platform-side handle from `prepare` is saved on the row, and the
  lease renewed, in one UPDATE that succeeds only while the lease is ours and
  unexpired: no publish call starts without a live lease covering it.
- **Classify.** Transient and rate-limited errors retry with exponential backoff
  and full jitter (never sooner than the platform's Retry-After), a bounded
  number of times. An expired token is refreshed once per delivery. Anything the
  platform may have received (`maybe_sent`) becomes `unconfirmed` and is
  reconciled with `lookup`, never blindly sent again.

No function here holds a transaction across an HTTP call; each state change is
its own short transaction, so a crash between two leaves a state the sweep
recovers (publishing.sweep).
"""

from __future__ import annotations

import logging
import random
import socket
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.sites.models import Site
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, User
from billing.limits import Limited, check, plan_for
from billing.plans import Plan
from content.models import Post, PostMedia
from publishing import budgets
from publishing.connections import (
    ConnectionFailed,
    TokenUnavailable,
    credentials_for,
    display_name,
    mark_reconnect_needed,
    provider_for_account,
    renew_bluesky_session,
    save_refreshed_tokens,
)
from publishing.leases import keeper, lease_duration
from publishing.models import PostEvent, PostTarget, SocialAccount
from publishing.providers.base import Credentials, ErrorKind, Provider, ProviderError, PublishResult, Variant
from publishing.stop import active_stops, is_publishing_stopped
from publishing.transitions import (
    InvalidTransition,
    TransitionConflict,
    record_event,
    refresh_rollup,
    refresh_rollups,
    transition,
    transition_many,
    update_each,
)
from publishing.variants import variant_for_target

if TYPE_CHECKING:
    from accounts.models import Workspace

logger = logging.getLogger(__name__)

TS = PostTarget.Status
PS = Post.Status

# Who the events say acted.
DELIVERY_LABEL = "delivery"
RECONCILE_LABEL = "reconcile"
SWEEP_LABEL = "sweep"

# Post statuses in which its targets may go out: approved, and the roll-up states after scheduling.
PUBLISHABLE_POST_STATUSES = frozenset(
    {PS.APPROVED, PS.SCHEDULED, PS.PUBLISHING, PS.PARTIALLY_PUBLISHED, PS.FAILED, PS.PUBLISHED}
)
# Post statuses that mean "someone took it back to edit or review it": its targets wait as pending.
BACK_IN_REVIEW_POST_STATUSES = frozenset({PS.DRAFT, PS.PENDING_REVIEW, PS.REJECTED})

# `error_kind` values besides ErrorKind's (the field holds at most 20 characters).
KIND_ACCOUNT = "account"
KIND_PLAN_LIMIT = "plan_limit"
KIND_TOKEN = "token_unavailable"  # noqa: S105 (an error kind, not a secret)
KIND_LEASE = "lease_expired"
KIND_UNCONFIRMED = "unconfirmed"
KIND_POST = "post"


class Outcome(StrEnum):
    """What one call of `deliver_target` or `reconcile_target` did; tasks log it, tests assert it."""

    PUBLISHED = "published"
    RETRY = "retry"  # back to scheduled after a transient error, with a later next_attempt_at
    FAILED = "failed"
    UNCONFIRMED = "unconfirmed"  # may have been sent; reconciliation goes on
    GAVE_UP = "gave_up"  # unconfirmed, and we stopped checking: the user decides
    RESCHEDULED = "rescheduled"  # reconciliation proved the post absent: safe to send again
    MISSED = "missed"
    HELD = "held"  # emergency stop: stays scheduled
    WAITING = "waiting"  # rate budget spent: back to scheduled until it has room
    PENDING = "pending"  # the post went back to review
    CANCELLED = "cancelled"
    NOT_CLAIMED = "not_claimed"  # not due, not scheduled, or another worker has it
    LOST_LEASE = "lost_lease"  # the sweep recovered the target from this worker
    BUSY = "busy"  # another reconciliation of this target is running
    NOT_UNCONFIRMED = "not_unconfirmed"
    GONE = "gone"  # no such target
    ERROR = "error"  # a bug: logged; the target's lease runs out and the sweep recovers it safely


# --------------------------------------------------------------------------- settings


def max_attempts() -> int:
    return int(getattr(settings, "PUBLISH_MAX_ATTEMPTS", 5))


def missed_cutoff() -> timedelta:
    return timedelta(seconds=getattr(settings, "PUBLISH_MISSED_CUTOFF_SECONDS", 2 * 60 * 60))


def _backoff_base() -> float:
    return float(getattr(settings, "PUBLISH_BACKOFF_BASE_SECONDS", 10))


def _backoff_max() -> float:
    return float(getattr(settings, "PUBLISH_BACKOFF_MAX_SECONDS", 60 * 60))


def _stop_recheck() -> timedelta:
    return timedelta(seconds=getattr(settings, "PUBLISH_STOP_RECHECK_SECONDS", 60))


def _reconcile_max_checks() -> int:
    return int(getattr(settings, "PUBLISH_RECONCILE_MAX_CHECKS", 6))


def _reconcile_settle() -> timedelta:
    return timedelta(seconds=getattr(settings, "PUBLISH_RECONCILE_SETTLE_SECONDS", 30))


def backoff_delay(attempts: int, *, retry_after: float | None = None) -> float:
    """Seconds to wait before attempt `attempts + 1`: exponential backoff with full jitter, capped.

    `uniform(0, min(cap, base * 2 ** (attempts - 1)))`, so workers that failed
    together do not retry together; never less than the platform's `retry_after`
    (which is honoured even beyond the cap: sending earlier only fails again).
    """
    ceiling = min(_backoff_max(), _backoff_base() * 2 ** max(attempts - 1, 0))
    jittered = random.uniform(0, ceiling)  # noqa: S311 (spreading retries, not security)
    return max(float(retry_after or 0), jittered, 1.0)


def worker_id(hostname: str | None = None, task_id: str | None = None) -> str:
    """A `claimed_by` value unique to one delivery: the worker's host name and the task's id."""
    return f"{hostname or socket.gethostname()}/{task_id or uuid.uuid4().hex}"[:120]


def warm_up() -> None:
    """Do the first-use work of the send path now, at worker start, not when the first targets are due.

    Every provider class is imported, and X validates a sample text once: its
    weighted counting compiles large regular expressions on first use (about
    0.4 s of CPU), which would otherwise land on the first posts of a burst, in
    every worker process. No network call (some providers' `validate` asks the
    server for its limits, so only X's is run), no database access.
    """
    from publishing.platforms import provider_for
    from publishing.providers import REGISTRY, provider_class

    try:
        for slug in REGISTRY:
            provider_class(slug)
        provider_for("x").validate(Variant(text="Warming up #letsgrow https://example.com @letsgrow 🌱"))
    except Exception:  # a misconfigured platform must not stop a worker from starting
        logger.exception("Warming up the publishing providers failed.")


# --------------------------------------------------------------------------- due, claimed, released


def due_q(now: datetime) -> Q:
    """Scheduled, its time has come, and any retry wait is over."""
    return Q(status=TS.SCHEDULED, scheduled_at__lte=now) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )


def is_past_cutoff(target: PostTarget, now: datetime) -> bool:
    return target.scheduled_at is not None and target.scheduled_at < now - missed_cutoff()


def claimable_q(now: datetime) -> Q:
    """Due, not past the missed cutoff, and its workspace is not under an emergency stop."""
    return due_q(now) & Q(scheduled_at__gte=now - missed_cutoff()) & ~Q(workspace__emergency_stop__is_active=True)


def claim_due(
    *, worker: str, limit: int, now: datetime | None = None, target_id: int | None = None
) -> list[PostTarget]:
    """Claim up to `limit` due targets for `worker` (`scheduled → publishing`, with a lease), oldest first.

    One transaction: the due rows are locked with SKIP LOCKED (a second claimer
    takes the next ones instead of waiting), moved by the state machine's batch
    compare-and-set with one event each, and their posts rolled up. Returns the
    claimed targets with post, account and workspace loaded (empty when nothing
    is due, or everything due is another worker's). `target_id` claims that one
    target only, if it is due.
    """
    now = now or timezone.now()
    due = PostTarget.objects.filter(claimable_q(now))
    if target_id is not None:
        due = due.filter(pk=target_id)
    ahead = now - timezone.now() > timedelta(milliseconds=500)
    with transaction.atomic():
        claimed = transition_many(
            due.order_by("scheduled_at", "pk"),
            TS.PUBLISHING,
            expected=TS.SCHEDULED,
            limit=limit,
            actor_label=DELIVERY_LABEL,
            reason=f"Sending at {now:%H:%M:%S} UTC (worker {worker})." if ahead else f"Sending now (worker {worker}).",
            claimed_by=worker,
            lease_expires_at=now + lease_duration(),
        )
        if not claimed:
            return []
        targets = list(
            PostTarget.objects.select_related("post", "social_account", "workspace")
            .filter(pk__in=claimed)
            .order_by("scheduled_at", "pk")
        )
        # The loaded posts keep their pre-roll-up status: the roll-up only moves between the
        # publishable statuses, which is all the send-time check looks at.
        refresh_rollups({target.post_id for target in targets}, actor_label=DELIVERY_LABEL)
    return targets


def claim_target(*, target_id: int, worker: str, now: datetime | None = None) -> PostTarget | None:
    """Claim one due target for `worker` (see `claim_due`); None if it is not ours to send."""
    claimed = claim_due(worker=worker, limit=1, now=now, target_id=target_id)
    return claimed[0] if claimed else None


def _owns(target: PostTarget, worker: str) -> bool:
    """Whether `worker` still holds `target` (call inside a transaction: the row stays locked)."""
    return PostTarget.objects.select_for_update().filter(pk=target.pk, status=TS.PUBLISHING, claimed_by=worker).exists()


def _finish(target: PostTarget, to: str, *, worker: str, reason: str, then: str = "", **changes: Any) -> bool:
    """Move a claimed target out of `publishing` (and on to `then`, if given); False if it is no longer ours.

    Clears the claim and the lease. Rolls the post up.
    """
    with transaction.atomic():
        if not _owns(target, worker):
            logger.warning("Target %s: worker %s lost its claim before moving it to %s.", target.pk, worker, to)
            return False
        transition(
            target,
            to,
            expected=TS.PUBLISHING,
            actor_label=DELIVERY_LABEL,
            reason=reason,
            claimed_by="",
            lease_expires_at=None,
            **changes,
        )
        if then:
            transition(target, then, expected=to, actor_label=DELIVERY_LABEL, reason=reason)
        refresh_rollup(target.post, actor_label=DELIVERY_LABEL)
    return True


def _fail(target: PostTarget, *, worker: str, kind: str, message: str, **changes: Any) -> str:
    changes.setdefault("next_attempt_at", None)
    done = _finish(target, TS.FAILED, worker=worker, reason=message, error_kind=kind, last_error=message, **changes)
    if done:
        from publishing.notify import notify_publish_failed

        # An account that needs reconnecting has emailed its owner already (send_reconnect_needed_email), and
        # a disconnected one was disconnected by them: its failures reach owners in-app only, not by email again.
        email_owners = kind not in (ErrorKind.AUTH_EXPIRED, KIND_ACCOUNT)
        transaction.on_commit(lambda: notify_publish_failed(target=target, email_owners=email_owners), robust=True)
    return Outcome.FAILED if done else Outcome.LOST_LEASE


def _enqueue_delivery(target: PostTarget, *, eta: datetime | None = None) -> None:
    """Have the dispatcher send `target` at `eta` (now if None), once the transaction commits.

    Nothing is asked for a time past the missed cutoff: the target would only be
    marked missed then, which the sweep does.
    """
    if eta is not None and target.scheduled_at is not None and eta > target.scheduled_at + missed_cutoff():
        return
    from publishing.dispatch import request_dispatch  # the dispatcher imports this module

    request_dispatch(at=eta)


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def _duration_words(duration: timedelta) -> str:
    minutes = round(duration.total_seconds() / 60)
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


@transaction.atomic
def mark_missed(*, target_id: int, now: datetime | None = None, actor_label: str = DELIVERY_LABEL) -> bool:
    """Mark a scheduled target that is more than the cutoff late as missed; False if it is not (any more)."""
    now = now or timezone.now()
    target = PostTarget.objects.select_related("post").filter(pk=target_id, status=TS.SCHEDULED).first()
    if target is None or not is_past_cutoff(target, now):
        return False
    message = (
        f"Not published: it was due at {target.scheduled_at:%Y-%m-%d %H:%M} UTC and is more than "
        f"{_duration_words(missed_cutoff())} late, so it would have gone out at a surprising time. "
        "Reschedule it to send it."
    )
    try:
        transition(
            target,
            TS.MISSED,
            expected=TS.SCHEDULED,
            actor_label=actor_label,
            reason=message,
            error_kind=TS.MISSED,
            last_error=message,
            next_attempt_at=None,
        )
    except TransitionConflict:
        return False
    refresh_rollup(target.post, actor_label=actor_label)
    return True


# --------------------------------------------------------------------------- checks at send time


def _account_problem(account: SocialAccount) -> str:
    """Why `account` cannot publish, in plain words; "" when it can."""
    if account.status == SocialAccount.Status.ACTIVE:
        return ""
    name = display_name(account.platform)
    if account.status == SocialAccount.Status.REVOKED:
        return f"The {name} account {account.handle} was disconnected. Reconnect it to publish there."
    detail = f" ({account.last_error.rstrip('.')})" if account.last_error else ""
    return f"The {name} account {account.handle} needs reconnecting{detail}. Reconnect it, then retry."


def _day_bounds(workspace: Workspace, now: datetime) -> tuple[datetime, datetime]:
    """Today in the workspace's time zone, as [start, end)."""
    zone = workspace.zone
    today = now.astimezone(zone).date()
    start = datetime.combine(today, datetime.min.time(), tzinfo=zone)
    end = datetime.combine(today + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    return start, end


def published_today(workspace: Workspace, now: datetime) -> int:
    """How many of the workspace's targets were published today, in its own time zone."""
    start, end = _day_bounds(workspace, now)
    return PostTarget.objects.filter(
        workspace=workspace, status=TS.PUBLISHED, published_at__gte=start, published_at__lt=end
    ).count()


def _variant(target: PostTarget, *, media: Sequence[PostMedia] | None = None) -> Variant:
    """What goes to the target's account: its text, link and media, each file fitted to the platform.

    `media`: the post's PostMedia rows, when the caller loaded them for a whole batch.
    """
    return variant_for_target(target, media=media, platform=target.social_account.platform)


# --------------------------------------------------------------------------- deliver


def deliver_target(*, target_id: int, worker: str) -> str:
    """Publish one target if it is due, exactly once; return what happened (an `Outcome`).

    Safe to call any number of times, from every trigger at once: only the
    caller that claims the target sends it. Everything that stops a send is
    stored on the target in plain words (`error_kind`, `last_error`, an event)
    and rolled up to the post. The batch path (`drain`) does the same for many
    targets at a time.
    """
    now = timezone.now()
    target = PostTarget.objects.select_related("workspace").filter(pk=target_id).first()
    if target is None:
        return Outcome.GONE
    if target.status != TS.SCHEDULED:
        return Outcome.NOT_CLAIMED
    # Checked before the claim too, so a stop costs no claim-and-release events per target.
    if is_publishing_stopped(target.workspace):
        return Outcome.HELD
    if is_past_cutoff(target, now):
        return Outcome.MISSED if mark_missed(target_id=target.pk, now=now) else Outcome.NOT_CLAIMED
    claimed = claim_due(worker=worker, limit=1, now=now, target_id=target_id)
    if not claimed:
        return Outcome.NOT_CLAIMED
    return deliver_claimed(claimed, worker=worker)[target_id]


def _stop_recheck_seconds() -> float:
    return float(getattr(settings, "PUBLISH_STOP_RECHECK_MS", 250)) / 1000


def _flush_seconds() -> float:
    return float(getattr(settings, "PUBLISH_FLUSH_SECONDS", 2))


@dataclass
class _Sent:
    target: PostTarget
    result: PublishResult
    at: datetime


@dataclass
class SendContext:
    """What one worker reads once per batch of claimed targets instead of once per target.

    The emergency stops are re-read at most every `PUBLISH_STOP_RECHECK_MS`
    (one query for all of them), so a stop holds within a fraction of a second
    on every worker; the plan and the day's published count once per workspace
    (the count only when the plan has a daily limit); providers, and their HTTP
    connections, once per platform server. Successful sends are recorded
    together (`flush`): one UPDATE, one INSERT of events, one roll-up.
    """

    worker: str
    stops_read_at: float = float("-inf")
    global_stop: str = ""
    workspace_stops: dict[int, str] = field(default_factory=dict)
    plans: dict[int, Plan] = field(default_factory=dict)
    published_today: dict[int, int] = field(default_factory=dict)
    providers: dict[tuple[str, str], Provider] = field(default_factory=dict)
    credentials: dict[int, Credentials] = field(default_factory=dict)
    # Handles prepared and saved for the whole batch at once (providers that make them locally).
    prepared: dict[int, str] = field(default_factory=dict)
    # The batch's posts' media rows (with their files), by post id: one query per batch.
    media: dict[int, list[PostMedia]] = field(default_factory=dict)
    variants: dict[int, Variant] = field(default_factory=dict)
    # Posts' statuses re-read after waiting for the batch's time, by post id.
    post_statuses: dict[int, str] = field(default_factory=dict)
    sent: list[_Sent] = field(default_factory=list)

    def _read_stops(self) -> None:
        if time.monotonic() - self.stops_read_at >= _stop_recheck_seconds():
            self.global_stop, self.workspace_stops = active_stops()
            self.stops_read_at = time.monotonic()

    def stop_reason(self, workspace_id: int) -> str:
        self._read_stops()
        return self.global_stop or self.workspace_stops.get(workspace_id, "")

    def is_stopped_globally(self) -> bool:
        self._read_stops()
        return bool(self.global_stop)

    def start_batch(self) -> None:
        """Forget what may change between batches (a drain reuses its context, with its providers)."""
        self.plans.clear()
        self.published_today.clear()
        self.credentials.clear()
        self.prepared.clear()
        self.variants.clear()
        self.media.clear()
        self.post_statuses.clear()

    def load_media(self, targets: Sequence[PostTarget]) -> None:
        rows = PostMedia.objects.filter(post_id__in={t.post_id for t in targets}).select_related("asset")
        for row in rows:
            self.media.setdefault(row.post_id, []).append(row)

    def variant(self, target: PostTarget) -> Variant:
        if target.pk not in self.variants:
            self.variants[target.pk] = _variant(target, media=self.media.get(target.post_id, []))
        return self.variants[target.pk]

    def credentials_for(self, account: SocialAccount) -> Credentials:
        if account.pk not in self.credentials:
            self.credentials[account.pk] = credentials_for(account)
        return self.credentials[account.pk]

    def prepare_handles(self, targets: Sequence[PostTarget]) -> None:
        """Prepare the batch's handles before sending any of it, and save them in one UPDATE.

        Two kinds: handles a provider makes locally (a Bluesky record key, a
        Mastodon Idempotency-Key), and platform-side containers (Threads,
        Instagram), created first so that the platform processes them while the
        rest of the batch is sent, instead of each publish waiting for its own.
        Saved before anything is sent, as `_start_sending` would one by one: a
        worker that dies later leaves each handle for reconciliation. Anything
        that goes wrong here is left to the one-by-one path, which prepares
        again and classifies the error.
        """
        handles: dict[int, dict[str, str]] = {}
        for target in sorted(targets, key=lambda t: self._prepares_locally(t)):  # containers first
            account = target.social_account
            if _account_problem(account) or target.post.status not in PUBLISHABLE_POST_STATUSES:
                continue
            try:
                provider = self.provider(account)
                if provider.has_idempotency_handle and target.publish_handle:
                    continue  # reused as it is
                if not (provider.prepares_locally or provider.has_idempotency_handle):
                    continue
                handle = provider.prepare(self.credentials_for(account), self.variant(target))
            except (ProviderError, TokenUnavailable):
                continue
            handles[target.pk] = {"publish_handle": handle}
        if not handles:
            return
        pks = list(handles)
        saved = update_each(
            PostTarget, pks, TS.PUBLISHING, {"updated_at": timezone.now()}, handles, also={"claimed_by": self.worker}
        )
        if saved != len(pks):
            return  # some lost their claim meanwhile: let each go the one-by-one way
        for target in targets:
            if target.pk in handles:
                target.publish_handle = self.prepared[target.pk] = handles[target.pk]["publish_handle"]

    def check_prepared(self, targets: Sequence[PostTarget]) -> None:
        """Look once more at the platform-side handles (containers) of targets whose time has not come.

        Done after the batch's checks, when the platform has processed most of
        them: a container found ready now needs one call less in the due second.
        """
        for target in targets:
            handle = self.prepared.get(target.pk)
            when = send_time(target)
            if handle and not self._prepares_locally(target) and when is not None and when > timezone.now():
                account = target.social_account
                self.provider(account).check_prepared(self.credentials_for(account), handle)

    def _prepares_locally(self, target: PostTarget) -> bool:
        try:
            return self.provider(target.social_account).prepares_locally
        except TokenUnavailable:
            return True

    def posts_today_check(self, workspace: Workspace, now: datetime):
        plan = self.plans.get(workspace.pk)
        if plan is None:
            plan = self.plans[workspace.pk] = plan_for(workspace)
        if plan.max_posts_per_day is None:
            return check(workspace, Limited.POST_TODAY, current=0, plan=plan)
        if workspace.pk not in self.published_today:
            self.published_today[workspace.pk] = published_today(workspace, now)
        return check(workspace, Limited.POST_TODAY, current=self.published_today[workspace.pk], plan=plan)

    def provider(self, account: SocialAccount) -> Provider:
        key = (account.platform, account.config.get("instance", "") or account.config.get("pds", ""))
        if key not in self.providers:
            self.providers[key] = provider_for_account(account)
        return self.providers[key]

    def record_sent(self, target: PostTarget, result: PublishResult) -> str:
        self.sent.append(_Sent(target=target, result=result, at=timezone.now()))
        if target.workspace_id in self.published_today:
            self.published_today[target.workspace_id] += 1
        return Outcome.PUBLISHED

    def wait_for(self, target: PostTarget, batch: Sequence[PostTarget]) -> None:
        """Sleep until `target` may go out; after a wait worth noticing, re-read `batch`'s posts' statuses.

        Only targets claimed ahead of their time wait. The emergency stops are
        re-read anyway (`stop_reason`); one query brings the posts up to date,
        so that a post cancelled or taken back to review meanwhile is not sent.
        """
        when = send_time(target)
        delay = (when - timezone.now()).total_seconds() if when is not None else 0.0
        if delay <= 0:
            return
        time.sleep(delay)
        if delay >= _stop_recheck_seconds():
            self.post_statuses.update(
                Post.objects.filter(pk__in={t.post_id for t in batch}).values_list("pk", "status")
            )

    def post_status(self, target: PostTarget) -> str:
        """The post's status as last read: when the batch was claimed, or after a wait for its time."""
        return self.post_statuses.get(target.post_id, target.post.status)

    def should_flush(self) -> bool:
        return bool(self.sent) and (timezone.now() - self.sent[0].at).total_seconds() >= _flush_seconds()

    def flush(self) -> dict[int, str]:
        """Record every successful send so far as published; return their outcomes."""
        sent, self.sent = self.sent, []
        if not sent:
            return {}
        by_pk = {item.target.pk: item for item in sent}
        with transaction.atomic():
            moved = transition_many(
                PostTarget.objects.filter(pk__in=by_pk, claimed_by=self.worker).order_by("pk"),
                TS.PUBLISHED,
                expected=TS.PUBLISHING,
                skip_locked=False,
                actor_label=DELIVERY_LABEL,
                reason="Published.",
                changes_by_pk={
                    pk: {"remote_id": item.result.remote_id, "remote_url": item.result.url, "published_at": item.at}
                    for pk, item in by_pk.items()
                },
                claimed_by="",
                lease_expires_at=None,
                error_kind="",
                last_error="",
                next_attempt_at=None,
            )
            refresh_rollups({by_pk[pk].target.post_id for pk in moved}, actor_label=DELIVERY_LABEL)
        outcomes: dict[int, str] = {}
        for pk in moved:
            logger.info("Target %s published as %s.", pk, by_pk[pk].result.remote_id)
            outcomes[pk] = Outcome.PUBLISHED
        for pk in by_pk.keys() - set(moved):
            # The sweep took it back meanwhile (the lease ran out): the slow path knows what to do.
            outcomes[pk] = _record_published(by_pk[pk].target, worker=self.worker, result=by_pk[pk].result)
        return outcomes


def deliver_claimed(
    targets: Sequence[PostTarget], *, worker: str, context: SendContext | None = None
) -> dict[int, str]:
    """Send targets `worker` has claimed, each at its time; return each one's `Outcome` by id.

    Everything that can be done before a target's time is done first, for the
    whole batch: the checks, the handles, the content and its validation. Then
    each target waits for its time (only those the dispatcher claimed ahead of
    it wait), the emergency stops (and, after a wait, the posts' statuses) are
    looked at once more, and it is sent. A bug while handling one target is
    logged and does not stop the others; that target keeps its lease, and the
    sweep recovers it when the lease runs out (reconciling before any resend).
    Successful sends are recorded at the end, or every `PUBLISH_FLUSH_SECONDS`
    when the platforms are slow.
    """
    context = context or SendContext(worker=worker)
    context.start_batch()
    outcomes: dict[int, str] = {}
    ready: list[PostTarget] = []
    keeper.hold(targets, worker=worker)  # their leases are renewed while the batch has them
    try:
        context.load_media(targets)
        context.prepare_handles(targets)
        for target in targets:
            try:
                now = timezone.now()
                outcome = _check_before_sending(target, worker=worker, now=now, context=context) or _check_content(
                    target, worker=worker, context=context
                )
            except Exception:
                outcome = _unexpected(target)
            if outcome:
                outcomes[target.pk] = outcome
            else:
                ready.append(target)
        context.check_prepared(ready)
        for index, target in enumerate(ready):
            try:
                context.wait_for(target, ready[index:])
                outcomes[target.pk] = _check_at_send_time(target, worker=worker, context=context) or _send(
                    target, worker=worker, context=context
                )
            except Exception:
                outcomes[target.pk] = _unexpected(target)
            if context.should_flush():
                outcomes.update(context.flush())
    finally:
        try:
            outcomes.update(context.flush())
        finally:
            keeper.release(targets, worker=worker)
    return outcomes


def _unexpected(target: PostTarget) -> str:
    logger.exception("Target %s: delivery failed unexpectedly; the sweep will recover it.", target.pk)
    return Outcome.ERROR


def send_time(target: PostTarget) -> datetime | None:
    """When a claimed target may go out: its scheduled time, or its retry time if that is later."""
    times = [when for when in (target.scheduled_at, target.next_attempt_at) if when is not None]
    return max(times, default=None)


def _check_before_sending(target: PostTarget, *, worker: str, now: datetime, context: SendContext) -> str:
    """Re-check everything that may have changed since the target was scheduled; "" to go ahead."""
    workspace, account = target.workspace, target.social_account
    held = _held_back(target, worker=worker, context=context)
    if held:
        return held
    problem = _account_problem(account)
    if problem:
        return _fail(target, worker=worker, kind=KIND_ACCOUNT, message=problem)
    changed = _post_changed(target, worker=worker, context=context)
    if changed:
        return changed
    # Two workers finishing the day's last slot at once may both pass: the plan limit
    # is a business limit, not a safety one, and one post over is better than a lock
    # on the workspace around every publish call.
    limit = context.posts_today_check(workspace, now)
    if not limit.allowed:
        return _fail(target, worker=worker, kind=KIND_PLAN_LIMIT, message=f"Not published: {limit.message}")
    wait = budgets.acquire(account)
    if wait is not None:
        when = now + timedelta(seconds=wait)
        name = display_name(account.platform)
        done = _finish(
            target,
            TS.SCHEDULED,
            worker=worker,
            reason=f"Waiting {wait:.0f} s: the {name} posting limit for {account.handle} is reached for now.",
            next_attempt_at=when,
        )
        if not done:
            return Outcome.LOST_LEASE
        _enqueue_delivery(target, eta=when)
        return Outcome.WAITING
    return ""


def _check_at_send_time(target: PostTarget, *, worker: str, context: SendContext) -> str:
    """The last look just before sending: an emergency stop, or the post taken back since the batch was checked."""
    return _held_back(target, worker=worker, context=context) or _post_changed(target, worker=worker, context=context)


def _held_back(target: PostTarget, *, worker: str, context: SendContext) -> str:
    """Under an emergency stop, the target goes back to scheduled (to be sent once it is lifted)."""
    stop = context.stop_reason(target.workspace_id)
    if not stop:
        return ""
    done = _finish(
        target,
        TS.SCHEDULED,
        worker=worker,
        reason=f"Held back: {stop}",
        next_attempt_at=timezone.now() + _stop_recheck(),
    )
    return Outcome.HELD if done else Outcome.LOST_LEASE


def _post_changed(target: PostTarget, *, worker: str, context: SendContext) -> str:
    """The post was cancelled or taken back to review: the target follows it instead of going out."""
    status = context.post_status(target)
    if status == PS.CANCELLED:
        done = _finish(
            target, TS.SCHEDULED, then=TS.CANCELLED, worker=worker, reason="The post was cancelled; not published."
        )
        return Outcome.CANCELLED if done else Outcome.LOST_LEASE
    if status in BACK_IN_REVIEW_POST_STATUSES:
        done = _finish(
            target,
            TS.SCHEDULED,
            then=TS.PENDING,
            worker=worker,
            reason=f"The post is {PS(status).label.lower()} again; it waits until it is approved.",
        )
        return Outcome.PENDING if done else Outcome.LOST_LEASE
    if status not in PUBLISHABLE_POST_STATUSES:  # a status added later: fail loudly rather than guess
        return _fail(target, worker=worker, kind=KIND_POST, message=f"The post is {status}; it was not published.")
    return ""


def _check_content(target: PostTarget, *, worker: str, context: SendContext) -> str:
    """Have the account's token at hand and the content valid for the platform; "" to go ahead."""
    account = target.social_account
    try:
        provider = context.provider(account)
        context.credentials_for(account)
    except TokenUnavailable as exc:
        return _token_unavailable(target, worker=worker, exc=exc)
    validation = provider.validate(context.variant(target))
    if not validation.is_valid:
        problems = "; ".join(issue.message for issue in validation.issues if issue.is_blocking)
        return _fail(target, worker=worker, kind=ErrorKind.INVALID_CONTENT, message=problems)
    return ""


def _start_sending(target: PostTarget, *, worker: str, handle: str) -> bool:
    """Save the handle and renew the lease for the publish call; False unless the lease is still ours.

    One UPDATE conditioned on our claim and an unexpired lease, so it cannot
    interleave with the sweep's recovery (which needs an expired one). Skipped
    when there is no handle to save and the lease we took at the claim has
    comfortably more time left than a publish call can take: nothing but an
    expired lease lets anyone else move a `publishing` target.
    """
    now = timezone.now()
    margin = timedelta(seconds=float(getattr(settings, "PUBLISH_LEASE_MARGIN_SECONDS", 30)))
    lease = max(filter(None, (target.lease_expires_at, keeper.lease_of(target.pk))), default=None)
    if handle == target.publish_handle and lease is not None and lease - now > margin:
        return True  # the handle is saved already (or there is none)
    rows = PostTarget.objects.filter(
        pk=target.pk, status=TS.PUBLISHING, claimed_by=worker, lease_expires_at__gt=now
    ).update(publish_handle=handle, lease_expires_at=now + lease_duration(), updated_at=now)
    if rows == 1:
        target.publish_handle = handle
        target.lease_expires_at = now + lease_duration()
    return rows == 1


def _send(target: PostTarget, *, worker: str, context: SendContext) -> str:
    """Publish a checked target (`_check_content` has its provider, token and content ready)."""
    account = target.social_account
    provider = context.provider(account)
    credentials = context.credentials_for(account)
    variant = context.variant(target)

    refreshed = False
    while True:
        sending = False
        try:
            # A handle that makes publishing idempotent is reused: a retry then cannot make a second post.
            reuse = provider.has_idempotency_handle and target.publish_handle
            if target.pk in context.prepared:
                handle = context.prepared.pop(target.pk)  # made and saved with the batch's
            else:
                handle = target.publish_handle if reuse else provider.prepare(credentials, variant)
            if not _start_sending(target, worker=worker, handle=handle):
                return Outcome.LOST_LEASE
            sending = True
            result = provider.publish(credentials, variant, handle=handle)
        except ProviderError as exc:
            if exc.kind is ErrorKind.AUTH_EXPIRED and not refreshed:
                refreshed = True
                try:
                    credentials = _refresh(account, provider, credentials, message=exc.message)
                except _RefreshRefused as refusal:
                    return _reconnect_needed(target, worker=worker, account=account, message=refusal.message)
                except ProviderError as refresh_error:  # the token endpoint is down: a transient failure
                    return _retry_or_fail(target, worker=worker, exc=refresh_error)
                continue
            return _handle_error(
                target, worker=worker, provider=provider, credentials=credentials, exc=exc, sent=sending
            )
        return context.record_sent(target, result)


def _record_published(target: PostTarget, *, worker: str, result: PublishResult) -> str:
    now = timezone.now()
    fields = {
        "remote_id": result.remote_id,
        "remote_url": result.url,
        "published_at": now,
        "error_kind": "",
        "last_error": "",
        "next_attempt_at": None,
    }
    if _finish(target, TS.PUBLISHED, worker=worker, reason="Published.", **fields):
        logger.info("Target %s published as %s.", target.pk, result.remote_id)
        return Outcome.PUBLISHED
    # The call outlived the lease and the sweep marked the target unconfirmed meanwhile: we know the answer.
    try:
        with transaction.atomic():
            transition(
                target,
                TS.PUBLISHED,
                expected=TS.UNCONFIRMED,
                actor_label=DELIVERY_LABEL,
                reason="Published (the answer came after the worker's lease ran out).",
                **fields,
            )
            refresh_rollup(target.post, actor_label=DELIVERY_LABEL)
    except (TransitionConflict, InvalidTransition):
        logger.error(
            "Target %s was published as %s after its lease was recovered, and has moved on since; check it.",
            target.pk,
            result.remote_id,
        )
        return Outcome.LOST_LEASE
    return Outcome.PUBLISHED


def _handle_error(
    target: PostTarget,
    *,
    worker: str,
    provider: Provider,
    credentials: Credentials,
    exc: ProviderError,
    sent: bool,
) -> str:
    """Classify a failed publish: retry, fail, or reconcile. `sent`: the publish call itself had started."""
    logger.info("Target %s: %s", target.pk, repr(exc))
    if sent and exc.maybe_sent:
        attempts = target.attempts + 1
        message = f"{exc.message} We are checking whether the post went out; it will not be sent twice."
        done = _finish(
            target,
            TS.UNCONFIRMED,
            worker=worker,
            reason=message,
            attempts=attempts,
            error_kind=KIND_UNCONFIRMED,
            last_error=message,
            # Keeps the sweep's reconciliation off until the check below has had its chance.
            next_attempt_at=timezone.now() + lease_duration(),
        )
        if not done:
            return Outcome.LOST_LEASE
        return reconcile_target(target_id=target.pk)
    if exc.kind in (ErrorKind.TRANSIENT, ErrorKind.RATE_LIMITED):
        return _retry_or_fail(target, worker=worker, exc=exc)
    if exc.kind is ErrorKind.AUTH_EXPIRED:  # again, right after a refresh
        return _reconnect_needed(target, worker=worker, account=target.social_account, message=exc.message)
    if exc.kind is ErrorKind.DUPLICATE:
        return _duplicate(target, worker=worker, provider=provider, credentials=credentials, exc=exc)
    return _fail(target, worker=worker, kind=exc.kind, message=exc.message)


def _retry_or_fail(target: PostTarget, *, worker: str, exc: ProviderError) -> str:
    attempts = target.attempts + 1
    limit = max_attempts()
    if attempts >= limit:
        message = f"{exc.message} We tried {_times(attempts)} and stopped."
        return _fail(target, worker=worker, kind=exc.kind, message=message, attempts=attempts)
    when = timezone.now() + timedelta(seconds=backoff_delay(attempts, retry_after=exc.retry_after))
    done = _finish(
        target,
        TS.SCHEDULED,
        worker=worker,
        reason=f"{exc.message} Trying again at {when:%H:%M:%S} UTC (attempt {attempts + 1} of {limit}).",
        attempts=attempts,
        next_attempt_at=when,
        error_kind=exc.kind,
        last_error=exc.message,
    )
    if not done:
        return Outcome.LOST_LEASE
    _enqueue_delivery(target, eta=when)
    return Outcome.RETRY


def _duplicate(
    target: PostTarget, *, worker: str, provider: Provider, credentials: Credentials, exc: ProviderError
) -> str:
    """The platform already has this text: if the post there is ours, it is published; else say so."""
    try:
        found = provider.lookup(credentials, _variant(target), handle=target.publish_handle)
    except ProviderError as lookup_error:
        logger.info("Target %s: lookup after a duplicate failed: %r", target.pk, lookup_error)
        found = None
    if found is not None:
        return _record_published(target, worker=worker, result=found)
    name = display_name(target.social_account.platform)
    message = (
        f"{name} refused the post as a duplicate of one already on the account ({exc.message.rstrip('.')}). "
        "Change the text to post it again."
    )
    return _fail(target, worker=worker, kind=ErrorKind.DUPLICATE, message=message)


def _token_unavailable(target: PostTarget, *, worker: str, exc: TokenUnavailable) -> str:
    account = target.social_account
    account.refresh_from_db(fields=["status", "last_error"])
    # credentials_for already marks undecryptable tokens as an account error; a missing token needs reconnecting.
    if account.status == SocialAccount.Status.ACTIVE:
        mark_reconnect_needed(account=account, reason=exc.message)
    return _fail(target, worker=worker, kind=KIND_TOKEN, message=exc.message)


# --------------------------------------------------------------------------- tokens


class _RefreshRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _tokens_changed(account: SocialAccount, credentials: Credentials) -> bool:
    """Whether another worker stored new tokens for `account` since `credentials` were read."""
    account.refresh_from_db()
    return account.status == SocialAccount.Status.ACTIVE and account.access_token != credentials.access_token


def _refresh(account: SocialAccount, provider: Provider, credentials: Credentials, *, message: str) -> Credentials:
    """Get working credentials after an AUTH_EXPIRED: refresh the token, or open a new Bluesky session.

    Raises _RefreshRefused when the platform refuses (the account needs
    reconnecting; `message` is the platform's refusal when it offers no refresh),
    ProviderError when it could not be reached (try later).
    Tokens another worker refreshed meanwhile are used as they are: with
    rotating refresh tokens, our own refresh would then be refused.
    """
    if _tokens_changed(account, credentials):
        return credentials_for(account)
    refusal = message
    if provider.supports_refresh:
        try:
            save_refreshed_tokens(account=account, tokens=provider.refresh_credentials(credentials))
            return credentials_for(account)
        except ProviderError as exc:
            if exc.kind in (ErrorKind.TRANSIENT, ErrorKind.RATE_LIMITED):
                raise
            refusal = exc.message
    if provider.auth_kind == "app_password" and account.app_password:
        # The refresh JWT has run out: the saved app password opens a new session.
        try:
            renew_bluesky_session(account=account)
            account.refresh_from_db()
            return credentials_for(account)
        except ConnectionFailed as exc:
            cause = exc.__cause__
            if isinstance(cause, ProviderError) and cause.kind in (ErrorKind.TRANSIENT, ErrorKind.RATE_LIMITED):
                raise cause from None
            refusal = exc.message
        except TokenUnavailable as exc:
            refusal = exc.message
    if _tokens_changed(account, credentials):
        return credentials_for(account)
    raise _RefreshRefused(refusal)


def _reconnect_needed(target: PostTarget, *, worker: str, account: SocialAccount, message: str) -> str:
    """The platform refused our access for good: flag the account, fail its due targets, tell the owner once."""
    now = timezone.now()
    name = display_name(account.platform)
    reason = f"The {name} account {account.handle} needs reconnecting: {message.rstrip('.')}."
    with transaction.atomic():
        # The row lock makes exactly one worker the one that flips the account and sends the email.
        locked = SocialAccount.objects.select_for_update().get(pk=account.pk)
        is_first = locked.status == SocialAccount.Status.ACTIVE
        if is_first:
            mark_reconnect_needed(account=locked, reason=message)
        outcome = _fail(target, worker=worker, kind=ErrorKind.AUTH_EXPIRED, message=reason)
        others = fail_due_targets_of(account=locked, reason=reason, now=now)
        if is_first:
            account_id, failed = account.pk, others + (1 if outcome == Outcome.FAILED else 0)
            transaction.on_commit(
                lambda: send_reconnect_needed_email(account_id=account_id, failed=failed), robust=True
            )
    return outcome


def fail_due_targets_of(*, account: SocialAccount, reason: str, now: datetime) -> int:
    """Fail every scheduled target of `account` that is due; return how many.

    Later ones stay scheduled: the user may reconnect before their time, and
    if not, the account check at send time fails them with the same reason.
    """
    count = 0
    due = PostTarget.objects.select_for_update(skip_locked=True, of=("self",)).select_related("post")
    for other in due.filter(social_account=account, status=TS.SCHEDULED, scheduled_at__lte=now):
        try:
            transition(
                other,
                TS.FAILED,
                expected=TS.SCHEDULED,
                actor_label=DELIVERY_LABEL,
                reason=reason,
                error_kind=ErrorKind.AUTH_EXPIRED,
                last_error=reason,
                next_attempt_at=None,
            )
        except TransitionConflict:
            continue
        refresh_rollup(other.post, actor_label=DELIVERY_LABEL)
        count += 1
    return count


def send_reconnect_needed_email(*, account_id: int, failed: int) -> None:
    """Tell the workspace's owner that an account needs reconnecting. Plain text; never a token."""
    account = SocialAccount.objects.select_related("workspace").filter(pk=account_id).first()
    if account is None:
        return
    workspace = account.workspace
    owners = User.objects.filter(
        memberships__workspace=workspace, memberships__role=Membership.Role.OWNER, is_active=True
    ).values_list("email", flat=True)
    recipients = [email for email in owners if email]
    if not recipients:
        return
    protocol = getattr(settings, "ACCOUNT_DEFAULT_HTTP_PROTOCOL", "https")
    path = reverse("publishing:connections", kwargs={"workspace_slug": workspace.slug})
    context = {
        "workspace": workspace,
        "account": account,
        "platform_name": display_name(account.platform),
        "reason": account.last_error,
        "failed": failed,
        "url": f"{protocol}://{Site.objects.get_current().domain}{path}",
    }
    # One line: a newline in a handle or a workspace name must not break (or inject) mail headers.
    subject = " ".join(render_to_string("publishing/email/reconnect_needed_subject.txt", context).split())
    body = render_to_string("publishing/email/reconnect_needed_body.txt", context)
    prefix = getattr(settings, "ACCOUNT_EMAIL_SUBJECT_PREFIX", "")
    try:
        send_mail(f"{prefix}{subject}", body, settings.DEFAULT_FROM_EMAIL, recipients)
    except OSError:
        logger.exception("Could not email workspace %s that account %s needs reconnecting.", workspace.pk, account.pk)


# --------------------------------------------------------------------------- leases and reconciliation


def expired_lease_q(now: datetime) -> Q:
    """Publishing, and its worker's lease has run out (or it never had one and has sat for a lease's length)."""
    return Q(status=TS.PUBLISHING) & (
        Q(lease_expires_at__lt=now) | Q(lease_expires_at__isnull=True, updated_at__lt=now - lease_duration())
    )


@transaction.atomic
def recover_expired_lease(*, target_id: int, now: datetime | None = None) -> bool:
    """Take a target back from a worker that stopped mid-publish: `publishing → unconfirmed`; False if not expired.

    The worker may have sent it or not; we cannot tell from the row, so we never
    guess: the target is reconciled (looked up on the platform) before any
    resend, and the lost try counts as an attempt, so a target that kills its
    worker every time still ends.
    """
    now = now or timezone.now()
    target = (
        PostTarget.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("post", "social_account")
        .filter(expired_lease_q(now), pk=target_id)
        .first()
    )
    if target is None:
        return False
    name = display_name(target.social_account.platform)
    message = (
        f"The worker sending it to {name} stopped before finishing. "
        "We are checking whether the post went out; it will not be sent twice."
    )
    transition(
        target,
        TS.UNCONFIRMED,
        expected=TS.PUBLISHING,
        actor_label=SWEEP_LABEL,
        reason=f"{message} (worker {target.claimed_by or 'unknown'})",
        claimed_by="",
        lease_expires_at=None,
        attempts=target.attempts + 1,
        next_attempt_at=now,
        error_kind=KIND_LEASE,
        last_error=message,
    )
    refresh_rollup(target.post, actor_label=SWEEP_LABEL)
    return True


def _unconfirmed_since(target: PostTarget) -> datetime:
    since = (
        PostEvent.objects.filter(target=target, to_status=TS.UNCONFIRMED)
        .order_by("-created_at", "-pk")
        .values_list("created_at", flat=True)
        .first()
    )
    return since or target.updated_at


def _failed_checks(target: PostTarget, since: datetime) -> int:
    # Failed lookups are recorded as events (no model field counts them): count this episode's.
    return PostEvent.objects.filter(
        target=target, actor_label=RECONCILE_LABEL, to_status="", created_at__gte=since
    ).count()


def reconcile_target(*, target_id: int, now: datetime | None = None) -> str:
    """Find out whether an unconfirmed target's post exists, and settle it; return an `Outcome`.

    Also takes a `publishing` target whose lease ran out. Then `provider.lookup`:

    - found → `published`, with its remote id and URL;
    - absent → `scheduled` again, sent at once: safe, because the post is not there.
      Absence is trusted at once when the provider has an idempotency handle and
      we saved it (the lookup is exact, and the resend reuses the handle). Other
      providers look among recent posts by content, which a platform may list
      with a delay: their "absent" counts only once `PUBLISH_RECONCILE_SETTLE_SECONDS`
      have passed since the target became unconfirmed. Without attempts left, `failed`;
    - the lookup fails → stays `unconfirmed`, checked again later with backoff;
      after `PUBLISH_RECONCILE_MAX_CHECKS` failures we stop checking and say so
      plainly: it stays unconfirmed and is never sent again on our own.
    """
    now = now or timezone.now()
    target = PostTarget.objects.select_related("post", "social_account", "workspace").filter(pk=target_id).first()
    if target is None:
        return Outcome.GONE
    if target.status == TS.PUBLISHING and recover_expired_lease(target_id=target.pk, now=now):
        target.refresh_from_db()
    if target.status != TS.UNCONFIRMED:
        return Outcome.NOT_UNCONFIRMED
    # A light claim: move next_attempt_at on, compare-and-set, so the sweep and a worker do not check at once.
    rows = PostTarget.objects.filter(
        pk=target.pk, status=TS.UNCONFIRMED, next_attempt_at=target.next_attempt_at
    ).update(next_attempt_at=now + lease_duration(), updated_at=now)
    if rows != 1:
        return Outcome.BUSY
    account = target.social_account
    try:
        provider = provider_for_account(account)
        found = provider.lookup(credentials_for(account), _variant(target), handle=target.publish_handle)
    except (ProviderError, TokenUnavailable) as exc:
        return _reconcile_failed(target, message=exc.message, now=now)
    if found is not None:
        settled = _settle(
            target,
            TS.PUBLISHED,
            reason="Found the post on the platform: it was published once.",
            remote_id=found.remote_id,
            remote_url=found.url,
            published_at=now,
            error_kind="",
            last_error="",
            next_attempt_at=None,
        )
        return Outcome.PUBLISHED if settled else Outcome.NOT_UNCONFIRMED
    since = _unconfirmed_since(target)
    is_exact = provider.has_idempotency_handle and bool(target.publish_handle)
    if not is_exact and now - since < _reconcile_settle():
        PostTarget.objects.filter(pk=target.pk, status=TS.UNCONFIRMED).update(
            next_attempt_at=since + _reconcile_settle(), updated_at=now
        )
        return Outcome.UNCONFIRMED
    name = display_name(account.platform)
    if target.attempts >= max_attempts():
        message = f"The post is not on {name}, and we tried {_times(target.attempts)}; we stopped."
        settled = _settle(
            target, TS.FAILED, reason=message, error_kind=KIND_UNCONFIRMED, last_error=message, next_attempt_at=None
        )
        return Outcome.FAILED if settled else Outcome.NOT_UNCONFIRMED
    settled = _settle(
        target,
        TS.SCHEDULED,
        reason=f"The post is not on {name}: sending it again is safe.",
        # Only an idempotency handle is worth keeping: the resend then cannot make a second post.
        publish_handle=target.publish_handle if provider.has_idempotency_handle else "",
        next_attempt_at=now,
    )
    return Outcome.RESCHEDULED if settled else Outcome.NOT_UNCONFIRMED


def _settle(target: PostTarget, to: str, *, reason: str, **changes: Any) -> bool:
    """Move an unconfirmed target to `to` (and send it, if that is `scheduled`); False if something else did first."""
    with transaction.atomic():
        try:
            transition(target, to, expected=TS.UNCONFIRMED, actor_label=RECONCILE_LABEL, reason=reason, **changes)
        except TransitionConflict:
            return False
        refresh_rollup(target.post, actor_label=RECONCILE_LABEL)
        if to == TS.SCHEDULED:
            _enqueue_delivery(target)
        if to == TS.FAILED:  # the post is not there and no attempt is left: people must know
            from publishing.notify import notify_publish_failed

            transaction.on_commit(lambda: notify_publish_failed(target=target), robust=True)
    return True


def _reconcile_failed(target: PostTarget, *, message: str, now: datetime) -> str:
    since = _unconfirmed_since(target)
    checks = _failed_checks(target, since) + 1
    limit = _reconcile_max_checks()
    record_event(
        post=target.post,
        target=target,
        actor_label=RECONCILE_LABEL,
        reason=f"Could not check whether the post went out ({checks} of {limit}): {message}",
    )
    if checks >= limit:
        name = display_name(target.social_account.platform)
        plain = (
            f"We could not confirm whether this post went out on {name} ({message.rstrip('.')}). "
            f"Check the account on {name}: if the post is not there, retry it; we will not send it again on our own."
        )
        PostTarget.objects.filter(pk=target.pk, status=TS.UNCONFIRMED).update(
            next_attempt_at=None, error_kind=KIND_UNCONFIRMED, last_error=plain, updated_at=now
        )
        logger.warning("Target %s: gave up confirming after %s failed lookups.", target.pk, checks)
        return Outcome.GAVE_UP
    when = now + timedelta(seconds=backoff_delay(checks))
    PostTarget.objects.filter(pk=target.pk, status=TS.UNCONFIRMED).update(next_attempt_at=when, updated_at=now)
    return Outcome.UNCONFIRMED

"""Scheduling and review: a post's way from draft to scheduled, local times, and the queue.

Services (STYLE §2): keyword-only, atomic, permission first, every status
change through `publishing.transitions`, delivery enqueued only on commit.

- Times are taken as a local wall-clock time plus an IANA zone and stored in
  UTC (`to_utc`); `PostTarget.schedule_timezone` keeps the zone for display.
- Review is required by default. A workspace owner may turn it off
  (`AutomationSettings.review_before_posting = False`); then *manual* posts
  are approved automatically when scheduled. AI posts skip review only where
  staff allowed it for the workspace, its plan has advanced AI and the
  `ai_autopost` feature switch is on (`_review_required`); template posts never do.
- Editing an approved or scheduled post sends it back to review. Its targets
  go back to `pending` but keep `scheduled_at`: the delivery engine never
  publishes a pending target, approving again before that time puts the
  schedule back, and `notify_pending_at_time` tells the author when the time
  passes first.
- "Add to queue" gives each target its account's next free queue slot
  (`QueueSlot`, local to the workspace's time zone); an account without slots
  uses the workspace's automation posting times, every day.
"""

from __future__ import annotations

import logging
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count, Q
from django.db.models.functions import Coalesce, TruncDate

from accounts.models import Membership, Workspace
from accounts.permissions import Action, require
from content.models import Post, PostMedia
from publishing import variants as variants_lib
from publishing.models import AutomationSettings, PostEvent, PostTarget, QueueSlot, SocialAccount
from publishing.services import MAX_POSTS_PER_DAY, known_timezones
from publishing.transitions import (
    InvalidTransition,
    TransitionConflict,
    can_transition,
    record_event,
    refresh_rollup,
    transition,
)

if TYPE_CHECKING:
    from accounts.models import User
    from billing.plans import Plan

logger = logging.getLogger(__name__)

PS = Post.Status
TS = PostTarget.Status

# How far ahead "add to queue" looks for a free slot.
QUEUE_HORIZON_DAYS = 366
AUTO_APPROVAL_LABEL = "auto-approval"
AUTO_APPROVED_REASON = "Approved automatically: this workspace posts manual posts without review."
AUTO_APPROVED_AI_REASON = "Approved automatically: staff allowed this workspace's AI posts to go out without review."
BACK_TO_REVIEW_REASON = "Edited after approval: it needs review again."
CONFLICT_MESSAGE = "Someone else changed this post just now. Reload the page and try again."
# Statuses in which a post's content may still change.
EDITABLE = frozenset({PS.DRAFT, PS.PENDING_REVIEW, PS.APPROVED, PS.REJECTED, PS.SCHEDULED})
_HH_MM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


# --------------------------------------------------------------------------- local time → UTC


def _zone(tz: str) -> ZoneInfo:
    if tz not in known_timezones():
        raise ValidationError(
            f"“{tz}” is not a time zone we know. Choose one like Europe/Berlin or America/New_York.", code="timezone"
        )
    return ZoneInfo(tz)


def _errors(messages: list[str], code: str) -> ValidationError:
    """One ValidationError holding several messages, with `code` on it too (Django keeps it only on the parts)."""
    error = ValidationError([ValidationError(message, code=code) for message in messages])
    error.code = code
    return error


def describe(local: datetime) -> str:
    """A local time as people read it: "09:00 on Monday 30 March 2026"."""
    return f"{local:%H:%M} on {local:%A} {local.day} {local:%B} {local.year}"


def _first_instant_with_offset(zone: ZoneInfo, low: datetime, high: datetime, offset: timedelta) -> datetime:
    """The first UTC instant in (low, high] at which `zone` has `offset` (it has the other one at `low`)."""
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == offset:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


def _gap_message(naive: datetime, zone: ZoneInfo, tz: str) -> str:
    """Why `naive` does not exist in `zone`, and the time the user most likely meant."""
    before = naive.replace(tzinfo=zone, fold=0).utcoffset()
    after = naive.replace(tzinfo=zone, fold=1).utcoffset()
    assert before is not None and after is not None  # noqa: S101 - ZoneInfo always has an offset
    # In a gap, fold=1 reads the time with the offset after the change (the earlier UTC instant).
    change = _first_instant_with_offset(
        zone, (naive - after).replace(tzinfo=UTC), (naive - before).replace(tzinfo=UTC), after
    )
    jump_from = (change + before).replace(tzinfo=None)
    jump_to = (change + after).replace(tzinfo=None)
    meant = naive + (after - before)
    return (
        f"{naive:%H:%M} does not exist on {naive:%A} {naive.day} {naive:%B} {naive.year} in {tz}: "
        f"the clocks go forward from {jump_from:%H:%M} to {jump_to:%H:%M}. Did you mean {meant:%H:%M}?"
    )


def to_utc(local: datetime | date, tz: str, at: time | None = None) -> datetime:
    """Turn a wall-clock time in the IANA zone `tz` into an aware UTC datetime.

    `local` is a naive datetime, or a date with the time of day in `at`.

    - A time that does not exist (skipped when the clocks go forward, e.g.
      02:30 in Europe/Berlin on 29 March 2026) raises ValidationError saying
      so and suggesting the time the user most likely meant (03:30).
    - A time that happens twice (the clocks go back, e.g. 02:30 in
      Europe/Berlin on 25 October 2026) means its *first* occurrence, still on
      summer time (fold=0): the earlier instant, so a post is never later than
      the user could have meant.
    - An unknown zone raises ValidationError. An aware `local` is a programming
      error (ValueError): the zone would be ambiguous.
    """
    zone = _zone(tz)
    if isinstance(local, datetime):
        if at is not None:
            raise ValueError("Pass a naive datetime, or a date and `at`, not both.")
        if local.tzinfo is not None:
            raise ValueError("to_utc() takes a naive local time; this one already has a time zone.")
        naive = local
    else:
        if at is None:
            raise ValueError("Pass the time of day in `at` along with a date.")
        naive = datetime.combine(local, at)
    in_utc = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if in_utc.astimezone(zone).replace(tzinfo=None) != naive:
        raise ValidationError(_gap_message(naive, zone, tz), code="nonexistent_time")
    return in_utc


# --------------------------------------------------------------------------- shared helpers


def _role(user: User | None, workspace: Workspace | int) -> str | None:
    if user is None or not getattr(user, "pk", None) or not user.is_active:
        return None
    workspace_id = workspace.pk if isinstance(workspace, Workspace) else workspace
    return Membership.objects.filter(user=user, workspace_id=workspace_id).values_list("role", flat=True).first()


def _require(actor: User | None, workspace: Workspace | int, action: Action) -> None:
    require(_role(actor, workspace), action)


APPROVE_PERMISSION = "content.approve_post"


def _require_reviewer(actor: User | None, workspace: Workspace | int) -> None:
    """Allow staff holding `content.approve_post` (any workspace), and the workspace's approvers, admins and owners.

    LetsGrow staff work the review queue in Django admin; being staff alone is not
    enough, or anyone who may open admin could approve customers' posts.
    """
    if (
        actor is not None
        and getattr(actor, "is_staff", False)
        and actor.is_active
        and actor.has_perm(APPROVE_PERMISSION)
    ):
        return
    _require(actor, workspace, Action.APPROVE)


def _lock(obj: Post | PostTarget) -> None:
    """Lock `obj`'s row for this transaction and reload it, so checks see the current status."""
    list(type(obj).objects.select_for_update().filter(pk=obj.pk).values_list("pk", flat=True))
    obj.refresh_from_db()


def _move(obj: Post | PostTarget, to: str, **kwargs: Any) -> None:
    """`transition`, with a lost race turned into a message for people."""
    try:
        transition(obj, to, **kwargs)
    except (TransitionConflict, InvalidTransition) as exc:
        raise ValidationError(CONFLICT_MESSAGE, code="conflict") from exc


def _status_name(post: Post) -> str:
    return post.get_status_display().lower()


def _live_targets(post: Post) -> list[PostTarget]:
    """The post's targets that are not cancelled, with their accounts."""
    return list(post.targets.exclude(status=TS.CANCELLED).select_related("social_account").order_by("pk"))


def _review_required(post: Post) -> bool:
    """Whether `post` must be approved by a person before it is scheduled (the review policy).

    - Manual posts: yes, unless the workspace's owner turned review off
      (`AutomationSettings.review_before_posting = False`).
    - AI posts: yes, unless all three allow skipping it: staff
      (`AutomationSettings.ai_autopost_allowed`), the workspace's plan
      (`advanced_ai`) and the `letsgrow.features.AI_AUTOPOST` switch.
    - Template posts, and anything else: always.
    """
    from billing.limits import plan_for
    from letsgrow import features

    automation = (
        AutomationSettings.objects.filter(workspace_id=post.workspace_id)
        .values("review_before_posting", "ai_autopost_allowed")
        .first()
    )
    if post.source == Post.Source.MANUAL:
        return automation is None or automation["review_before_posting"] is not False
    if post.source == Post.Source.AI:
        # Cheapest first: most workspaces stop at the staff flag, before the plan and the switch are read.
        allowed = (
            automation is not None
            and automation["ai_autopost_allowed"]
            and plan_for(post.workspace).advanced_ai
            and features.is_enabled(features.AI_AUTOPOST)
        )
        return not allowed
    return True


def _check_usable(targets: Iterable[PostTarget]) -> None:
    unusable = [str(target.social_account) for target in targets if not target.social_account.is_usable]
    if unusable:
        raise ValidationError(
            f"Reconnect {', '.join(unusable)} before scheduling: LetsGrow cannot post there now.", code="account"
        )


def _enqueue_delivery(targets: Iterable[PostTarget]) -> None:
    """Ask the dispatcher to send each target at its time (one trigger per second, after commit; the sweep backs it)."""
    # Imported here: the delivery engine's modules may be imported later than this one (and not at all in
    # processes that only schedule).
    from publishing.dispatch import request_dispatch

    for when in sorted({target.scheduled_at for target in targets if target.scheduled_at is not None}):
        request_dispatch(at=when)


def _posts_per_local_day(
    workspace: Workspace, zone: ZoneInfo, first: date, last: date, *, exclude: Iterable[int] = ()
) -> Counter[date]:
    """The workspace's posts on each local day from `first` to `last`, as the engine counts them against the plan.

    A day's posts are the targets published on it and those scheduled (or being sent) for it. One query.
    """
    start = datetime.combine(first, time.min, tzinfo=zone)
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone)
    rows = (
        PostTarget.objects.filter(workspace=workspace)
        .filter(
            Q(status=TS.PUBLISHED, published_at__gte=start, published_at__lt=end)
            | Q(status__in=(TS.SCHEDULED, TS.PUBLISHING), scheduled_at__gte=start, scheduled_at__lt=end)
        )
        .exclude(pk__in=list(exclude))
        .annotate(day=TruncDate(Coalesce("published_at", "scheduled_at"), tzinfo=zone))
        .values("day")
        .annotate(posts=Count("pk"))
        .values_list("day", "posts")
    )
    return Counter(dict(rows))


def _plan(workspace: Workspace) -> Plan:
    from billing.limits import plan_for

    return plan_for(workspace)


def _check_daily_limit(workspace: Workspace, times: Sequence[datetime], *, moving: Iterable[int] = ()) -> None:
    """Refuse times that would put more posts on one day than the workspace's plan allows.

    The engine checks the plan again at send time and fails what does not fit;
    this says so now, while the person can still choose another day. A day is
    the workspace's local day, as the engine counts it (`_posts_per_local_day`),
    leaving out `moving` (the targets being scheduled, which `times` stand for).
    """
    plan = _plan(workspace)
    limit = plan.max_posts_per_day
    if limit is None or not times:
        return
    zone = _zone(workspace.timezone)
    wanted = Counter(when.astimezone(zone).date() for when in times)
    counts = _posts_per_local_day(workspace, zone, min(wanted), max(wanted), exclude=moving)
    for day, new in sorted(wanted.items()):
        already = counts[day]
        if already + new <= limit:
            continue
        on_day = f"{day:%a} {day.day} {day:%b}"
        has = f"{on_day} already has {already} (published or scheduled)" if already else f"this goes to {new} accounts"
        raise ValidationError(
            f"The {plan.name} plan allows {limit} posts per day and {has}, so it would not all go out. "
            "Choose another day, post to fewer accounts, or upgrade.",
            code="plan_limit",
        )


def _ensure_approved(post: Post, actor: User | None) -> None:
    """Make sure `post` may be scheduled: approved, or approved now when the workspace skips review."""
    if post.status == PS.APPROVED:
        return
    if post.status in (PS.DRAFT, PS.PENDING_REVIEW) and not _review_required(post):
        reason = AUTO_APPROVED_AI_REASON if post.source == Post.Source.AI else AUTO_APPROVED_REASON
        _move(post, PS.APPROVED, actor=actor, actor_label=AUTO_APPROVAL_LABEL, reason=reason)
        return
    if post.status in (PS.DRAFT, PS.PENDING_REVIEW):
        raise ValidationError("This post needs to be approved before it can be scheduled.", code="not_approved")
    if post.status == PS.REJECTED:
        raise ValidationError(
            "This post was rejected: edit it and submit it for review again before scheduling it.", code="rejected"
        )
    raise ValidationError(f"A {_status_name(post)} post cannot be scheduled.", code="status")


def _schedule_targets(
    post: Post, targets: Sequence[PostTarget], plan: Mapping[int, tuple[datetime, str]], actor: User | None
) -> None:
    """Move `targets` (pending) to scheduled at `plan[target.pk]` (UTC time, zone), the post too; enqueue delivery."""
    for target in targets:
        when, tz = plan[target.pk]
        _move(
            target,
            TS.SCHEDULED,
            actor=actor,
            reason=f"Scheduled for {describe(when.astimezone(ZoneInfo(tz)))} ({tz}).",
            expected=TS.PENDING,
            scheduled_at=when,
            schedule_timezone=tz,
        )
    first, tz = min(plan[target.pk] for target in targets)
    _move(post, PS.SCHEDULED, actor=actor, reason=f"Scheduled from {describe(first.astimezone(ZoneInfo(tz)))} ({tz}).")
    _enqueue_delivery(targets)


# --------------------------------------------------------------------------- writing


def _accounts_for(workspace: Workspace, account_ids: Iterable[int | str]) -> list[SocialAccount]:
    try:
        wanted = list(dict.fromkeys(int(account_id) for account_id in account_ids))
    except (TypeError, ValueError) as exc:
        raise ValidationError("Choose the accounts to post to from the list.", code="accounts") from exc
    if not wanted:
        raise ValidationError("Choose at least one account to post to.", code="accounts")
    found = SocialAccount.objects.for_workspace(workspace).in_bulk(wanted)
    if len(found) != len(wanted):
        raise ValidationError("One of the chosen accounts is not connected to this workspace.", code="accounts")
    accounts = [found[account_id] for account_id in wanted]
    unusable = [str(account) for account in accounts if not account.is_usable]
    if unusable:
        raise ValidationError(f"Reconnect {', '.join(unusable)} before posting to it.", code="accounts")
    return accounts


def _newlines(text: str | None) -> str | None:
    """Text with Unix line ends: browsers send a textarea's as CRLF, and an unchanged post must compare equal."""
    return None if text is None else text.replace("\r\n", "\n").replace("\r", "\n")


def _clean_variants(variants: Mapping[int | str, str] | None, account_ids: set[int]) -> dict[int, str]:
    """Variants keyed by account id; an empty text means "use the post's text"."""
    cleaned: dict[int, str] = {}
    for key, text in (variants or {}).items():
        try:
            account_id = int(key)
        except (TypeError, ValueError) as exc:
            raise ValidationError("A variant names an account that is not in the list.", code="variants") from exc
        if account_id not in account_ids:
            raise ValidationError("A variant was given for an account this post does not go to.", code="variants")
        cleaned[account_id] = _newlines(text) if (text or "").strip() else ""
    return cleaned


@transaction.atomic
def create_post(
    *,
    workspace: Workspace,
    author: User,
    text: str,
    account_ids: Sequence[int | str],
    source: str = Post.Source.MANUAL,
    variants: Mapping[int | str, str] | None = None,
    link: str = "",
    links: Mapping[int | str, str] | None = None,
    media_ids: Sequence[int | str] | None = None,
    target_media: Mapping[int | str, Sequence[int | str]] | None = None,
    tags: Sequence[str] | None = None,
    template_id: int | str | None = None,
    domain_key: str | None = None,
) -> Post:
    """Create a draft post going to `account_ids` (this workspace's connected accounts), one pending target each.

    - `variants` maps an account id to that account's own text (empty: the post's text); `links` to its own
      link (empty: `link`, the post's).
    - `media_ids`: files of the workspace's media library, in order, for every account; `target_media`
      maps an account id to its own files instead (empty: the post's). Another workspace's file is refused.
    - `tags`: names, trimmed, matched case-insensitively to the workspace's tags (created when new); at
      most 10, each at most 50 characters. `template_id` / `domain_key`: the workspace's template and
      content domain the post comes from.

    Each account's provider validates what it would be sent (text, link, media); blocking issues raise
    ValidationError with the platform's messages and nothing is created.
    """
    _require(author, workspace, Action.EDIT_CONTENT)
    if source not in Post.Source.values:
        raise ValidationError(f"“{source}” is not a kind of post.", code="source")
    text = _newlines(text) or ""
    link = variants_lib.clean_link(link)
    accounts = _accounts_for(workspace, account_ids)
    chosen = {account.pk for account in accounts}
    cleaned = _clean_variants(variants, chosen)
    own_links = variants_lib.clean_links(links, chosen)
    shared_media = variants_lib.library_assets(workspace, media_ids or [])
    own_media = variants_lib.clean_target_media(workspace.pk, target_media, chosen)
    tag_names = variants_lib.clean_tags(tags or [])
    template = variants_lib.template_of(workspace.pk, template_id)
    domain = variants_lib.domain_of(workspace.pk, domain_key)
    variants_lib.check_drafts(
        [
            (
                account,
                variants_lib.Draft(
                    text=cleaned.get(account.pk) or text,
                    link=own_links.get(account.pk, link),
                    assets=tuple(own_media.get(account.pk) or shared_media),
                ),
            )
            for account in accounts
        ]
    )
    post = Post.objects.create(
        workspace=workspace, author=author, text=text, source=source, template=template, domain=domain
    )
    PostTarget.objects.bulk_create(
        PostTarget(
            workspace=workspace,
            post=post,
            social_account=account,
            text=cleaned.get(account.pk, ""),
            link=own_links.get(account.pk, link),
        )
        for account in accounts
    )
    variants_lib.save_media(post, shared_media)
    if any(own_media.values()):
        for target in post.targets.all():
            if own_media.get(target.social_account_id):
                variants_lib.save_media(post, own_media[target.social_account_id], target=target)
    post.tags.set(variants_lib.tags_for(workspace.pk, tag_names))
    record_event(post=post, actor=author, reason="Created.")
    return post


@transaction.atomic
def edit_post(
    *,
    post: Post,
    actor: User,
    text: str | None = None,
    variants: Mapping[int | str, str] | None = None,
    link: str | None = None,
    links: Mapping[int | str, str] | None = None,
    media_ids: Sequence[int | str] | None = None,
    target_media: Mapping[int | str, Sequence[int | str]] | None = None,
    tags: Sequence[str] | None = None,
    template_id: int | str | None = None,
    domain_key: str | None = None,
) -> Post:
    """Change what the post says and where it comes from; `None` leaves a part as it is.

    - `text`; `variants` (account id → text, "" for the post's text).
    - `link` (every account's link) and `links` (account id → its own link; "" for `link`, or for the
      account's current link when `link` is None).
    - `media_ids` (the post's files, in order; [] removes them); `target_media` (account id → its own
      files; [] goes back to the post's).
    - `tags` (the whole set); `template_id` and `domain_key` ("" or 0 clears them).

    Validated like `create_post`. A change to what is sent (text, links, media) of an approved or
    scheduled post that needs review sends it back to `pending_review`: its targets go back to
    `pending` and keep their `scheduled_at`, so approving it again in time puts the schedule back.
    (A manual post in a workspace that skips review stays as it is.) Tags, template and domain are
    the workspace's own bookkeeping and change no status. Posts that are publishing or done cannot
    be edited.
    """
    _require(actor, post.workspace_id, Action.EDIT_CONTENT)
    _lock(post)
    if post.status not in EDITABLE:
        raise ValidationError(f"A {_status_name(post)} post cannot be edited.", code="status")
    targets = _live_targets(post)
    if any(target.status not in (TS.PENDING, TS.SCHEDULED) for target in targets):
        raise ValidationError("This post is already going out, so it can no longer be edited.", code="status")
    by_account = {target.social_account_id: target for target in targets}
    new_text = post.text if text is None else _newlines(text)
    new_variants = {account_id: target.text for account_id, target in by_account.items()}
    new_variants.update(_clean_variants(variants, set(by_account)))

    new_links = {account_id: target.link for account_id, target in by_account.items()}
    if link is not None or links is not None:
        default = variants_lib.clean_link(link) if link is not None else None
        own_links = variants_lib.clean_links(links, set(by_account))
        for account_id in by_account:
            if account_id in own_links:
                new_links[account_id] = own_links[account_id]
            elif default is not None:
                new_links[account_id] = default

    rows = list(post.media.select_related("asset").order_by("position", "pk"))
    old_shared = [row.asset for row in rows if row.target_id is None]
    old_own = {
        account_id: [row.asset for row in rows if row.target_id == target.pk]
        for account_id, target in by_account.items()
    }
    new_shared = old_shared if media_ids is None else variants_lib.library_assets(post.workspace_id, media_ids)
    new_own = {**old_own, **variants_lib.clean_target_media(post.workspace_id, target_media, set(by_account))}

    def media_changed(account_id: int) -> bool:
        return [asset.pk for asset in new_own[account_id]] != [asset.pk for asset in old_own[account_id]]

    shared_changed = [asset.pk for asset in new_shared] != [asset.pk for asset in old_shared]
    changed = [
        target
        for account_id, target in by_account.items()
        if new_variants[account_id] != target.text or new_links[account_id] != target.link
    ]
    content_changed = new_text != post.text or bool(changed) or shared_changed or any(map(media_changed, by_account))

    old_tags = list(post.tags.order_by("name"))
    tag_names = None if tags is None else variants_lib.clean_tags(tags)
    tags_changed = tag_names is not None and sorted(name.casefold() for name in tag_names) != sorted(
        tag.name.casefold() for tag in old_tags
    )
    template = post.template if template_id is None else variants_lib.template_of(post.workspace_id, template_id)
    domain = post.domain if domain_key is None else variants_lib.domain_of(post.workspace_id, domain_key)
    about_changed = tags_changed or template != post.template or domain != post.domain
    if not content_changed and not about_changed:
        return post

    if content_changed:
        variants_lib.check_drafts(
            [
                (
                    target.social_account,
                    variants_lib.Draft(
                        text=new_variants[account_id] or new_text,
                        link=new_links[account_id],
                        assets=tuple(new_own[account_id] or new_shared),
                    ),
                )
                for account_id, target in by_account.items()
            ]
        )
    Post.objects.filter(pk=post.pk).update(
        text=new_text, template=template, domain=domain, updated_at=datetime.now(tz=UTC)
    )
    post.text, post.template, post.domain = new_text, template, domain
    for target in changed:
        target.text = new_variants[target.social_account_id]
        target.link = new_links[target.social_account_id]
        target.save(update_fields=["text", "link", "updated_at"])
    if shared_changed:
        variants_lib.save_media(post, new_shared)
    for account_id, target in by_account.items():
        if media_changed(account_id):
            variants_lib.save_media(post, new_own[account_id], target=target)
    if tags_changed and tag_names is not None:
        post.tags.set(variants_lib.tags_for(post.workspace_id, tag_names))
    record_event(post=post, actor=actor, reason="Edited.")

    if content_changed and post.status in (PS.APPROVED, PS.SCHEDULED) and _review_required(post):
        for target in targets:
            if target.status == TS.SCHEDULED:
                # scheduled_at stays: the delivery engine skips pending targets, and approval can resume it.
                _move(target, TS.PENDING, actor=actor, reason=BACK_TO_REVIEW_REASON, expected=TS.SCHEDULED)
        _move(post, PS.PENDING_REVIEW, actor=actor, reason=BACK_TO_REVIEW_REASON, submitted_at=datetime.now(tz=UTC))
    return post


@transaction.atomic
def duplicate_post(*, post: Post, actor: User) -> Post:
    """Copy `post` into a new draft by `actor`: text, variants, links, media, tags, domain, template, source.

    Not the schedule and not the status: the copy starts as a draft with pending targets, to the
    post's accounts that are still connected (disconnected ones are left out; none left raises
    ValidationError). The copy's history starts with "Duplicated from #<id>".
    """
    _require(actor, post.workspace_id, Action.EDIT_CONTENT)
    originals = [
        target
        for target in post.targets.select_related("social_account").order_by("pk")
        if target.social_account.status != SocialAccount.Status.REVOKED
    ]
    if not originals:
        raise ValidationError(
            "None of this post's accounts is connected any more, so there is nowhere to send a copy. "
            "Write a new post instead.",
            code="accounts",
        )
    copy = Post.objects.create(
        workspace_id=post.workspace_id,
        author=actor,
        text=post.text,
        source=post.source,
        domain_id=post.domain_id,
        template_id=post.template_id,
        generation=post.generation,
    )
    PostTarget.objects.bulk_create(
        PostTarget(
            workspace_id=post.workspace_id,
            post=copy,
            social_account_id=target.social_account_id,
            text=target.text,
            link=target.link,
        )
        for target in originals
    )
    new_targets = {target.social_account_id: target for target in copy.targets.all()}
    old_accounts = {target.pk: target.social_account_id for target in originals}
    rows = [
        row for row in post.media.order_by("position", "pk") if row.target_id is None or row.target_id in old_accounts
    ]
    PostMedia.objects.bulk_create(
        PostMedia(
            workspace_id=post.workspace_id,
            post=copy,
            target=new_targets[old_accounts[row.target_id]] if row.target_id else None,
            asset_id=row.asset_id,
            position=row.position,
        )
        for row in rows
    )
    copy.tags.set(post.tags.all())
    record_event(post=copy, actor=actor, reason=f"Duplicated from #{post.pk}")
    return copy


# --------------------------------------------------------------------------- review


def _notify_outcome(post: Post, kind: str, actor: User | None, message: str) -> None:
    """Tell the author (and owners) what the review decided, once the decision is committed.

    `robust`: a notification that cannot be sent is logged and never undoes the decision.
    """
    from publishing import notify

    transaction.on_commit(
        lambda: notify.notify_review_outcome(post=post, kind=kind, actor=actor, message=message), robust=True
    )


def _require_pending(post: Post, verb: str) -> None:
    if post.status != PS.PENDING_REVIEW:
        raise ValidationError(
            f"Only a post waiting for review can be {verb}; this one is {_status_name(post)}.", code="status"
        )


@transaction.atomic
def submit_for_review(*, post: Post, actor: User) -> Post:
    """Send a draft (or a rejected post, once fixed) to review: `pending_review`, stamped `submitted_at`."""
    _require(actor, post.workspace_id, Action.SUBMIT_FOR_REVIEW)
    _lock(post)
    if post.status not in (PS.DRAFT, PS.REJECTED):
        raise ValidationError(
            f"Only a draft or a rejected post can be submitted for review; this one is {_status_name(post)}.",
            code="status",
        )
    _move(post, PS.PENDING_REVIEW, actor=actor, reason="Submitted for review.", submitted_at=datetime.now(tz=UTC))
    return post


@transaction.atomic
def approve_post(*, post: Post, actor: User, reason: str = "") -> Post:
    """Approve a post waiting for review.

    If it was scheduled before it was edited and every target's kept time is
    still ahead, it is scheduled again at those times (and delivery enqueued);
    otherwise it stays `approved`, ready to be scheduled. The author is told.
    """
    from accounts.models import Notification

    _require_reviewer(actor, post.workspace_id)
    _lock(post)
    _require_pending(post, "approved")
    reason = (reason or "").strip()
    _move(post, PS.APPROVED, actor=actor, reason=reason or "Approved.")
    targets = _live_targets(post)
    now = datetime.now(tz=UTC)
    kept = {target.pk: target.scheduled_at for target in targets if target.status == TS.PENDING}
    if targets and len(kept) == len(targets) and all(when is not None and when > now for when in kept.values()):
        plan = {
            target.pk: (target.scheduled_at, target.schedule_timezone or post.workspace.timezone)
            for target in targets
            if target.scheduled_at is not None
        }
        _schedule_targets(post, targets, plan, actor)
    _notify_outcome(post, Notification.Kind.APPROVED, actor, reason)
    return post


@transaction.atomic
def approve_and_schedule(
    *,
    post: Post,
    actor: User,
    when_local: datetime | None = None,
    tz: str = "",
    now: datetime | None = None,
    reason: str = "",
) -> Post:
    """Approve a post waiting for review and schedule it in one step (the reviewer's "approve and schedule").

    With `when_local` (naive, in the IANA zone `tz`, default the workspace's)
    every pending target goes out then; without it each target gets its
    account's next free queue slot (`next_free_slot`, as `add_to_queue`). A time
    that has passed or does not exist, an account to reconnect or a full queue
    raises ValidationError and nothing changes (not even the approval). Only
    reviewers (see `_require_reviewer`): staff need not be workspace members to
    schedule what they approve. `now` is for tests.
    """
    from accounts.models import Notification

    _require_reviewer(actor, post.workspace_id)
    now = now or datetime.now(tz=UTC)
    when: datetime | None = None
    if when_local is not None:
        tz = tz or post.workspace.timezone
        zone = _zone(tz)
        when = to_utc(when_local, tz)
        if when <= now:
            raise ValidationError(
                f"That time has already passed ({describe(when_local)} in {tz}; "
                f"it is now {describe(now.astimezone(zone))}). Choose a later time.",
                code="past",
            )
    _lock(post)
    _require_pending(post, "approved")
    targets = [target for target in _live_targets(post) if target.status == TS.PENDING]
    if not targets:
        raise ValidationError("This post has no accounts left to post to.", code="targets")
    _check_usable(targets)
    if when is not None:
        _check_daily_limit(post.workspace, [when] * len(targets), moving=[target.pk for target in targets])
    reason = (reason or "").strip()
    _move(post, PS.APPROVED, actor=actor, reason=reason or "Approved.")
    if when is not None:
        plan = {target.pk: (when, tz) for target in targets}
    else:
        account_ids = sorted({target.social_account_id for target in targets})
        # Locked while slots are chosen, as in add_to_queue: two posts approved at once never share a slot.
        list(SocialAccount.objects.select_for_update().filter(pk__in=account_ids).values_list("pk", flat=True))
        plan = _queue_slots(targets, now=now, tz=post.workspace.timezone)
    _schedule_targets(post, targets, plan, actor)
    _notify_outcome(post, Notification.Kind.APPROVED, actor, reason)
    return post


@transaction.atomic
def reject_post(*, post: Post, actor: User, reason: str) -> Post:
    """Reject a post waiting for review, saying why (required: the author sees it and needs it to fix the post)."""
    from accounts.models import Notification

    _require_reviewer(actor, post.workspace_id)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Say why the post is rejected, so the author can fix it.", code="reason")
    _lock(post)
    _require_pending(post, "rejected")
    _move(post, PS.REJECTED, actor=actor, reason=reason)
    _notify_outcome(post, Notification.Kind.REJECTED, actor, reason)
    return post


@transaction.atomic
def request_changes(*, post: Post, actor: User, comment: str) -> Post:
    """Send a post waiting for review back to its author as a draft, with a comment saying what to change.

    The comment (required) is the event's reason, so the post's history shows it.
    Targets keep any proposed time; the author edits and submits it again.
    """
    from accounts.models import Notification

    _require_reviewer(actor, post.workspace_id)
    comment = (comment or "").strip()
    if not comment:
        raise ValidationError("Say what should change, so the author knows what to do.", code="comment")
    _lock(post)
    _require_pending(post, "sent back for changes")
    _move(post, PS.DRAFT, actor=actor, reason=comment)
    _notify_outcome(post, Notification.Kind.CHANGES_REQUESTED, actor, comment)
    return post


# --------------------------------------------------------------------------- scheduling


def _reschedule(post: Post, when: datetime, tz: str, actor: User | None) -> Post:
    """Move a scheduled post's scheduled targets to `when` (no status change: an event per target)."""
    targets = [target for target in _live_targets(post) if target.status == TS.SCHEDULED]
    if not targets:
        raise ValidationError("Nothing of this post is waiting to go out, so there is nothing to move.", code="status")
    _check_usable(targets)
    _check_daily_limit(post.workspace, [when] * len(targets), moving=[target.pk for target in targets])
    local = describe(when.astimezone(ZoneInfo(tz)))
    for target in targets:
        # Compare-and-set on the status without changing it: a target a worker has claimed is not moved.
        rows = PostTarget.objects.filter(pk=target.pk, status=TS.SCHEDULED).update(
            scheduled_at=when, schedule_timezone=tz
        )
        if rows != 1:
            raise ValidationError("This post is being published right now, so it cannot be moved.", code="conflict")
        previous = target.scheduled_at
        target.scheduled_at, target.schedule_timezone = when, tz
        was = f" (was {previous:%Y-%m-%d %H:%M} UTC)" if previous else ""
        record_event(post=post, target=target, actor=actor, reason=f"Rescheduled to {local} ({tz}){was}.")
    _enqueue_delivery(targets)
    return post


@transaction.atomic
def schedule_post(
    *,
    post: Post,
    actor: User,
    when_local: datetime | None,
    tz: str,
    post_now: bool = False,
    now: datetime | None = None,
) -> Post:
    """Schedule the post's targets for `when_local` (naive, in the IANA zone `tz`), or for now with `post_now`.

    The post must be approved, unless the workspace skips review and it is a
    manual post: then it is approved here, with an event. A past time raises
    ValidationError ("That time has already passed (…)"); so does a local time
    that does not exist (see `to_utc`). Each pending target → `scheduled` with
    `scheduled_at` in UTC and `schedule_timezone`; the post → `scheduled`;
    delivery is enqueued per target on commit, with the time as ETA. A post
    that is already scheduled is moved to the new time. `now` is for tests.
    """
    _require(actor, post.workspace_id, Action.SCHEDULE)
    now = now or datetime.now(tz=UTC)
    tz = tz or post.workspace.timezone
    zone = _zone(tz)
    if post_now:
        when = now
    elif when_local is None:
        raise ValidationError("Choose a date and time, or post now.", code="when")
    else:
        when = to_utc(when_local, tz)
        if when <= now:
            raise ValidationError(
                f"That time has already passed ({describe(when_local)} in {tz}; "
                f"it is now {describe(now.astimezone(zone))}). Choose a later time, or post now.",
                code="past",
            )
    _lock(post)
    if post.status == PS.SCHEDULED:
        return _reschedule(post, when, tz, actor)
    _ensure_approved(post, actor)
    targets = [target for target in _live_targets(post) if target.status == TS.PENDING]
    if not targets:
        raise ValidationError("This post has no accounts left to post to.", code="targets")
    _check_usable(targets)
    _check_daily_limit(post.workspace, [when] * len(targets), moving=[target.pk for target in targets])
    _schedule_targets(post, targets, {target.pk: (when, tz) for target in targets}, actor)
    return post


@transaction.atomic
def propose_time(*, post: Post, actor: User, when_local: datetime, tz: str, now: datetime | None = None) -> Post:
    """Keep a requested time on a post that still needs review; approval schedules it then.

    The targets stay `pending` (the engine never publishes a pending target) with
    `scheduled_at` set. If the post is still pending review when that time comes,
    it is not published and the author is told (`notify_pending_at_time`).
    """
    _require(actor, post.workspace_id, Action.EDIT_CONTENT)
    now = now or datetime.now(tz=UTC)
    tz = tz or post.workspace.timezone
    zone = _zone(tz)
    when = to_utc(when_local, tz)
    if when <= now:
        raise ValidationError(
            f"That time has already passed ({describe(when_local)} in {tz}; "
            f"it is now {describe(now.astimezone(zone))}). Choose a later time, or post now.",
            code="past",
        )
    _lock(post)
    pending = PostTarget.objects.filter(post=post, status=TS.PENDING)
    if not pending.exists():
        raise ValidationError("This post has no accounts left to post to.", code="targets")
    pending.update(scheduled_at=when, schedule_timezone=tz)
    record_event(post=post, actor=actor, reason=f"Requested time: {describe(when_local)} ({tz}); kept until approval.")
    return post


def _posting_times(automation: AutomationSettings) -> list[time]:
    times = []
    for value in automation.posting_times or []:
        if isinstance(value, str) and _HH_MM.match(value.strip()):
            times.append(time.fromisoformat(value.strip()))
    return sorted(set(times))


def _automation(workspace_id: int) -> AutomationSettings:
    """The workspace's automation settings, or the defaults (unsaved) when onboarding did not set them."""
    return AutomationSettings.objects.filter(workspace_id=workspace_id).first() or AutomationSettings(
        workspace_id=workspace_id
    )


def next_free_slot(
    *,
    account: SocialAccount,
    now: datetime,
    exclude_target_id: int | None = None,
    planned: Sequence[datetime] = (),
) -> datetime:
    """The UTC time of `account`'s next free queue slot after `now`.

    Slots are the account's `QueueSlot`s, or else the workspace's automation
    posting times on every day, read in the workspace's time zone. A slot is
    free when no other non-cancelled target of the account is at that instant;
    a local day that already has the automation's `posts_per_day` targets of
    the account is skipped, and so is a day the workspace's plan has filled
    (its posts per day, counted with `planned`: the times already chosen for
    the other targets being queued with this one). A slot that does not exist
    that day (the hour the clocks skip) is skipped; one that happens twice is
    its first occurrence.
    Raises ValidationError when nothing is free within QUEUE_HORIZON_DAYS.
    """
    workspace = account.workspace
    tz = workspace.timezone
    zone = _zone(tz)
    automation = _automation(workspace.pk)
    per_weekday: dict[int, list[time]] = defaultdict(list)
    slots = list(QueueSlot.objects.filter(social_account=account).values_list("weekday", "time_of_day"))
    if slots:
        for weekday, time_of_day in slots:
            per_weekday[weekday].append(time_of_day.replace(second=0, microsecond=0))
    else:
        for weekday in range(7):
            per_weekday[weekday] = _posting_times(automation)
    for times in per_weekday.values():
        times.sort()

    taken_rows = (
        PostTarget.objects.filter(
            social_account=account,
            scheduled_at__gte=now - timedelta(days=2),
            scheduled_at__lt=now + timedelta(days=QUEUE_HORIZON_DAYS + 2),
        )
        .exclude(status=TS.CANCELLED)
        .exclude(pk=exclude_target_id)
        .values_list("scheduled_at", flat=True)
    )
    taken = {when for when in taken_rows if when is not None}
    per_day = Counter(when.astimezone(zone).date() for when in taken)
    today = now.astimezone(zone).date()
    day_limit = _plan(workspace).max_posts_per_day
    if day_limit is not None:
        workspace_per_day = _posts_per_local_day(
            workspace, zone, today, today + timedelta(days=QUEUE_HORIZON_DAYS), exclude=[exclude_target_id or 0]
        ) + Counter(when.astimezone(zone).date() for when in planned)
    for offset in range(QUEUE_HORIZON_DAYS):
        day = today + timedelta(days=offset)
        if per_day[day] >= automation.posts_per_day:
            continue
        if day_limit is not None and workspace_per_day[day] >= day_limit:
            continue
        for time_of_day in per_weekday.get(day.weekday(), []):
            try:
                when = to_utc(day, tz, time_of_day)
            except ValidationError:
                continue  # this slot's time does not exist today (clocks go forward)
            if when > now and when not in taken:
                return when
    raise ValidationError(
        f"{account} has no free queue slot in the next {QUEUE_HORIZON_DAYS} days. "
        "Add posting times to its queue, or choose a time.",
        code="queue_full",
    )


@transaction.atomic
def add_to_queue(*, post: Post, actor: User, now: datetime | None = None) -> Post:
    """Schedule each target at its account's next free queue slot (see `next_free_slot`).

    Same approval rules as `schedule_post`. Accounts are locked while their
    slots are chosen, so two posts added at once do not get the same slot.
    `now` is for tests.
    """
    _require(actor, post.workspace_id, Action.SCHEDULE)
    now = now or datetime.now(tz=UTC)
    _lock(post)
    if post.status == PS.SCHEDULED:
        raise ValidationError(
            "This post is already scheduled. Unschedule it first, or choose a new time.", code="status"
        )
    _ensure_approved(post, actor)
    targets = [target for target in _live_targets(post) if target.status == TS.PENDING]
    if not targets:
        raise ValidationError("This post has no accounts left to post to.", code="targets")
    _check_usable(targets)
    account_ids = sorted({target.social_account_id for target in targets})
    list(SocialAccount.objects.select_for_update().filter(pk__in=account_ids).values_list("pk", flat=True))
    plan = _queue_slots(targets, now=now, tz=post.workspace.timezone)
    _schedule_targets(post, targets, plan, actor)
    return post


def _queue_slots(targets: Sequence[PostTarget], *, now: datetime, tz: str) -> dict[int, tuple[datetime, str]]:
    """Each target's next free slot; each choice counts against the plan's day for the next ones."""
    plan: dict[int, tuple[datetime, str]] = {}
    for target in targets:
        when = next_free_slot(
            account=target.social_account,
            now=now,
            exclude_target_id=target.pk,
            planned=[chosen for chosen, _tz in plan.values()],
        )
        plan[target.pk] = (when, tz)
    return plan


@transaction.atomic
def unschedule_post(*, post: Post, actor: User) -> Post:
    """Take a scheduled post off the calendar: targets back to `pending` (time cleared), the post to `approved`.

    Refused once any account has posted it or is posting it (cancel the rest instead).
    """
    _require(actor, post.workspace_id, Action.SCHEDULE)
    _lock(post)
    if post.status != PS.SCHEDULED:
        raise ValidationError(f"Only a scheduled post can be unscheduled; this one is {_status_name(post)}.")
    targets = _live_targets(post)
    if any(target.status != TS.SCHEDULED for target in targets):
        raise ValidationError(
            "Some accounts have already posted this, or are posting it now, so it cannot be unscheduled. "
            "Cancel the rest instead.",
            code="status",
        )
    for target in targets:
        _move(
            target,
            TS.PENDING,
            actor=actor,
            reason="Unscheduled.",
            expected=TS.SCHEDULED,
            scheduled_at=None,
            schedule_timezone="",
        )
    _move(post, PS.APPROVED, actor=actor, reason="Unscheduled.")
    return post


_CANCELLABLE_TARGETS = frozenset({TS.PENDING, TS.SCHEDULED, TS.FAILED, TS.MISSED})
_GOING_OUT = frozenset({TS.PUBLISHING, TS.UNCONFIRMED, TS.PUBLISHED})


@transaction.atomic
def cancel_post(*, post: Post, actor: User, reason: str = "") -> Post:
    """Cancel everything of the post that has not gone out; the post → `cancelled`.

    Targets already published, publishing or unconfirmed are left alone; then
    the post's status is their roll-up instead (e.g. `published`).
    """
    _require(actor, post.workspace_id, Action.SCHEDULE)
    _lock(post)
    if post.status in (PS.PUBLISHED, PS.CANCELLED):
        raise ValidationError(f"This post is already {_status_name(post)}.", code="status")
    reason = reason.strip() or "Cancelled."
    targets = list(post.targets.order_by("pk"))
    cancellable = [target for target in targets if target.status in _CANCELLABLE_TARGETS]
    for target in cancellable:
        _move(target, TS.CANCELLED, actor=actor, reason=reason, expected=target.status)
    if not any(target.status in _GOING_OUT for target in targets) and can_transition(post, PS.CANCELLED):
        _move(post, PS.CANCELLED, actor=actor, reason=reason)
    elif cancellable:
        refresh_rollup(post, actor_label="cancel")
    else:
        raise ValidationError("Nothing of this post is left to cancel: it is going out now.", code="status")
    return post


@transaction.atomic
def retry_target(*, target: PostTarget, actor: User, now: datetime | None = None) -> PostTarget:
    """Send a failed or missed target again, now: → `scheduled` with a fresh attempt count, delivery enqueued.

    Never for a published target (nothing is posted twice). `now` is for tests.
    """
    _require(actor, target.workspace_id, Action.SCHEDULE)
    now = now or datetime.now(tz=UTC)
    _lock(target)
    if target.status == TS.PUBLISHED:
        raise ValidationError("This was already published; LetsGrow never posts it twice.", code="published")
    if target.status not in (TS.FAILED, TS.MISSED):
        raise ValidationError(
            f"Only a failed or missed post can be retried; this one is {target.get_status_display().lower()}.",
            code="status",
        )
    if target.post.status == PS.CANCELLED:
        raise ValidationError("This post was cancelled, so it is not sent again.", code="cancelled")
    _check_usable([target])
    _check_daily_limit(target.workspace, [now], moving=[target.pk])
    _move(
        target,
        TS.SCHEDULED,
        actor=actor,
        reason="Retry requested.",
        expected=target.status,
        scheduled_at=now,
        attempts=0,
        next_attempt_at=None,
        lease_expires_at=None,
        claimed_by="",
        error_kind="",
        last_error="",
    )
    refresh_rollup(target.post, actor_label="retry")
    _enqueue_delivery([target])
    return target


# --------------------------------------------------------------------------- queue slots


@transaction.atomic
def set_queue_slots(*, account: SocialAccount, slots: Sequence[tuple[int, str]], actor: User) -> list[QueueSlot]:
    """Replace `account`'s posting schedule with `slots`: (weekday 0 = Monday … 6, "HH:MM" local) pairs.

    Times are in the workspace's time zone. Duplicates collapse; an empty list
    clears the schedule (the queue then uses the automation posting times).
    Needs the right to manage settings, like the automation settings it refines.
    """
    _require(actor, account.workspace_id, Action.MANAGE_SETTINGS)
    errors: list[str] = []
    wanted: set[tuple[int, time]] = set()
    for weekday, hh_mm in slots:
        if isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6:
            errors.append(f"“{weekday}” is not a day of the week (0 = Monday … 6 = Sunday).")
        elif not isinstance(hh_mm, str) or not _HH_MM.match(hh_mm.strip()):
            errors.append(f"Write times as HH:MM (24-hour), e.g. 09:30; “{hh_mm}” is not.")
        else:
            wanted.add((weekday, time.fromisoformat(hh_mm.strip())))
    busiest = Counter(weekday for weekday, _ in wanted).most_common(1)
    if busiest and busiest[0][1] > MAX_POSTS_PER_DAY:
        errors.append(f"Give at most {MAX_POSTS_PER_DAY} times a day.")
    if errors:
        raise _errors(errors, "slots")
    list(SocialAccount.objects.select_for_update().filter(pk=account.pk).values_list("pk", flat=True))
    QueueSlot.objects.filter(social_account=account).delete()
    QueueSlot.objects.bulk_create(
        QueueSlot(workspace_id=account.workspace_id, social_account=account, weekday=weekday, time_of_day=time_of_day)
        for weekday, time_of_day in sorted(wanted)
    )
    return list(QueueSlot.objects.filter(social_account=account).order_by("weekday", "time_of_day"))


@transaction.atomic
def ensure_default_slots(*, workspace: Workspace) -> list[QueueSlot]:
    """Give every connected account of `workspace` that has no queue slots the automation posting times, every day.

    Idempotent: accounts with slots keep theirs. Returns the slots created.
    """
    times = _posting_times(_automation(workspace.pk))
    accounts = (
        SocialAccount.objects.for_workspace(workspace)
        .exclude(status=SocialAccount.Status.REVOKED)
        .filter(queue_slots__isnull=True)
        .order_by("pk")
    )
    created = QueueSlot.objects.bulk_create(
        QueueSlot(workspace=workspace, social_account=account, weekday=weekday, time_of_day=time_of_day)
        for account in accounts
        for weekday in range(7)
        for time_of_day in times
    )
    return list(created)


# --------------------------------------------------------------------------- overdue reviews


def overdue_reason(target: PostTarget) -> str:
    """The event that records (once per target and time) that a post missed its time waiting for review."""
    when = target.scheduled_at
    stamp = f"{when:%Y-%m-%d %H:%M} UTC" if when else "its time"
    return f"Not published: still waiting for review at {stamp}."


def _send_overdue_email(post: Post, targets: Sequence[PostTarget]) -> None:
    author = post.author
    if author is None or not author.email or not author.is_active:
        return
    first = min(targets, key=lambda target: target.scheduled_at or datetime.max.replace(tzinfo=UTC))
    tz = first.schedule_timezone or post.workspace.timezone
    local = first.scheduled_at.astimezone(_zone(tz)) if first.scheduled_at else None
    accounts = ", ".join(str(target.social_account) for target in targets)
    due = f"at {describe(local)} ({tz})" if local else "earlier"
    body = (
        f"Hello {author.get_short_name()},\n\n"
        f"Your post “{post}” in {post.workspace} was due {due} on {accounts}, "
        "but it was still waiting for review, so it was not published.\n\n"
        "Ask an approver to review it; once it is approved, schedule it again.\n\n"
        "— LetsGrow\n"
    )
    subject = f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}Not published: still waiting for review"
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [author.email])


def notify_pending_at_time(*, now: datetime) -> int:
    """Tell authors whose posts reached their time while still waiting for review; return how many posts.

    Finds pending targets whose kept `scheduled_at` has passed while their post
    is `pending_review`. Each such target gets one event (`overdue_reason`),
    which is also what makes this idempotent: a target is reported once per
    scheduled time. The author gets one email per post. The targets stay
    pending: nothing is published until someone approves and reschedules.
    """
    overdue = (
        PostTarget.objects.filter(status=TS.PENDING, scheduled_at__lte=now, post__status=PS.PENDING_REVIEW)
        .order_by("post_id", "pk")
        .values_list("post_id", flat=True)
    )
    notified = 0
    for post_id in dict.fromkeys(overdue):
        try:
            with transaction.atomic():
                post = (
                    Post.objects.select_for_update(of=("self",)).select_related("author", "workspace").get(pk=post_id)
                )
                if post.status != PS.PENDING_REVIEW:
                    continue
                targets = list(
                    post.targets.filter(status=TS.PENDING, scheduled_at__lte=now)
                    .select_related("social_account")
                    .order_by("pk")
                )
                reported = set(
                    PostEvent.objects.filter(post=post, target__in=targets).values_list("target_id", "reason")
                )
                fresh = [target for target in targets if (target.pk, overdue_reason(target)) not in reported]
                if not fresh:
                    continue
                for target in fresh:
                    record_event(post=post, target=target, actor_label="scheduler", reason=overdue_reason(target))
                # Inside the transaction: if the mail cannot be sent, the events roll back and the next run retries.
                _send_overdue_email(post, fresh)
                notified += 1
        except Exception:
            logger.exception("Could not tell the author of post %s that it missed its time waiting for review", post_id)
    return notified

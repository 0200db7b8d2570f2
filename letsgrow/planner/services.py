"""The content plan: many posts generated at once, spread over the queue slots, waiting for review.

Wiring, not a new domain: content's AI (`content.ai.generation.generate_post`)
writes each post, publishing's services (`publishing.scheduling`) create,
submit and time it. What lives here is the plan's own logic:

- which domain each post is about (the mix, by largest remainder, interleaved
  so that every stretch of days keeps the mix);
- when each post goes out (the accounts' queue slots, else the automation
  posting times inside the active hours, in the workspace's time zone, never
  in the past);
- generating them side by side, at most LLM_MAX_CONCURRENCY calls at once,
  each retried twice on a transient failure, with the progress written to the
  plan a few times a second by one writer (the calling thread).

A plan never stays "running" for good: a crash marks it failed with the
reason, and a plan that made no progress for STALL_AFTER is shown as stalled,
with `resume_content_plan` to generate only the posts that are missing.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time as clock
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, connection, transaction
from django.db.models import Max

from accounts.models import Membership, Workspace
from accounts.permissions import Action, require
from billing.limits import Limited, check, plan_for
from content.ai.base import MAX_PROMPT_LENGTH, compose
from content.ai.client import AIUnavailable, llm_configured
from content.ai.generation import GeneratedPost, GenerationRequest, generate_post
from content.ai.usage import check_budget
from content.models import ContentDomain, ContentPlan, Post
from publishing import scheduling
from publishing.models import AutomationSettings, QueueSlot, SocialAccount

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

Status = ContentPlan.Status
Destination = ContentPlan.Destination

MAX_DAYS = 31
MAX_POSTS_PER_DAY = 10
# A start further ahead than this is almost always a typo in the year.
MAX_START_AHEAD_DAYS = 365
# Room left in the model's prompt for the angle each post adds to the person's prompt.
MAX_PLAN_PROMPT_LENGTH = MAX_PROMPT_LENGTH - 500
# One try and two retries per post, with a short, jittered pause between them.
MAX_ATTEMPTS = 3
BACKOFF_SECONDS = (0.3, 1.0)
# The plan's counters are written at most this often (and once at the end).
PROGRESS_EVERY_SECONDS = 0.5
# No progress for this long while queued or running: shown as stalled, with "retry the missing posts".
# The Celery task's soft time limit is the same, so by then a run that was still alive has been stopped.
STALL_AFTER = timedelta(minutes=10)
# A post is never planned closer to now than this: it is made, reviewed and approved before its time.
SLOT_MARGIN = timedelta(minutes=15)
# Used when the automation settings' active hours cannot be read as a window.
DEFAULT_ACTIVE_HOURS = (time(9, 0), time(18, 0))
PROGRESS_KEY = "planner:progress:{pk}"

ENQUEUE_FAILED = (
    "Generation could not be started: the background worker's queue did not answer. "
    "Use “Retry the missing posts” to try again."
)

# Each post of a domain takes the next angle, so a month of posts about one subject does not repeat itself.
ANGLES = (
    "one practical tip people can use today",
    "a question that invites the audience to answer",
    "a common mistake and how to avoid it",
    "a short how-to in a few steps",
    "a lesson learned, told as a short story",
    "a myth and what is actually true",
    "a quick checklist",
    "a behind-the-scenes look at how we work",
    "a small win the audience can get this week",
    "what to watch next in this area",
)


def _role(user: User | None, workspace: Workspace) -> str | None:
    if user is None or not getattr(user, "pk", None) or not user.is_active:
        return None
    return Membership.objects.filter(user=user, workspace=workspace).values_list("role", flat=True).first()


def _tz_name(workspace: Workspace) -> str:
    return str(workspace.zone.key)


# --------------------------------------------------------------------------- the mix


def split_by_mix(mix: Mapping[str, int], total: int) -> dict[str, int]:
    """How many of `total` posts each domain gets: its share, rounded by largest remainder.

    The counts add up to `total` exactly. Ties in the remainders go to the
    larger share, then to the domain named first.
    """
    shares = {key: int(percent) for key, percent in mix.items() if int(percent) > 0}
    if not shares or total <= 0:
        return dict.fromkeys(shares, 0)
    whole = sum(shares.values())
    exact = {key: total * share / whole for key, share in shares.items()}
    counts = {key: math.floor(value) for key, value in exact.items()}
    order = list(shares)
    by_remainder = sorted(order, key=lambda key: (-(exact[key] - counts[key]), -shares[key], order.index(key)))
    for key in by_remainder[: total - sum(counts.values())]:
        counts[key] += 1
    return counts


def interleave(counts: Mapping[str, int]) -> list[str]:
    """The domains in posting order, spread so that every prefix keeps the mix as closely as whole posts allow.

    At each position the domain furthest behind its share goes next (the
    "largest deficit" rule), so 70/30 over 10 posts reads a a b a a b a a b a,
    not seven a's then three b's.
    """
    total = sum(counts.values())
    order = list(counts)
    used = dict.fromkeys(order, 0)
    sequence: list[str] = []
    for position in range(1, total + 1):
        key = max(
            (key for key in order if used[key] < counts[key]),
            key=lambda key: (counts[key] * position / total - used[key], counts[key], -order.index(key)),
        )
        used[key] += 1
        sequence.append(key)
    return sequence


# --------------------------------------------------------------------------- the slots


@dataclass(frozen=True)
class Slot:
    """When one post of the plan goes out: the local day and wall-clock time, and the instant in UTC."""

    day: date
    local: datetime  # naive, in the workspace's time zone
    when: datetime  # aware, UTC


def _spread(start: time, end: time, count: int) -> list[time]:
    """`count` times spread evenly over [start, end), each on a five-minute mark."""
    begin = start.hour * 60 + start.minute
    finish = end.hour * 60 + end.minute
    if finish <= begin:
        begin, finish = (DEFAULT_ACTIVE_HOURS[0].hour * 60, DEFAULT_ACTIVE_HOURS[1].hour * 60)
    step = (finish - begin) / count
    minutes = [min(finish - 1, max(begin, round((begin + step * (j + 0.5)) / 5) * 5)) for j in range(count)]
    return [time(value // 60, value % 60) for value in minutes]


def _pick(candidates: list[time], count: int) -> list[time]:
    """`count` of the sorted `candidates`, spread over the day rather than the first few."""
    if len(candidates) <= count:
        return list(candidates)
    return [candidates[math.floor((j + 0.5) * len(candidates) / count)] for j in range(count)]


def _times_of_day(
    weekday: int, per_account: Sequence[Mapping[int, Sequence[time]]], automation: AutomationSettings, count: int
) -> list[time]:
    """The `count` local times posts go out on a `weekday`.

    First the times every chosen account shares (a post goes to all of them at
    once), then any account's, then the automation's posting times, and if
    that is still too few, times spread evenly over the active hours.
    """
    sets = [set(times.get(weekday, ())) for times in per_account]
    shared = set.intersection(*sets) if sets else set()
    chosen = sorted(shared)
    for pool in (set().union(*sets) if sets else set(), set(scheduling._posting_times(automation))):
        if len(chosen) >= count:
            break
        extra = _pick(sorted(pool - set(chosen)), count - len(chosen))
        chosen = sorted({*chosen, *extra})
    if len(chosen) < count:
        active_from = automation.active_from or DEFAULT_ACTIVE_HOURS[0]
        active_until = automation.active_until or DEFAULT_ACTIVE_HOURS[1]
        for extra in _spread(active_from, active_until, count):
            if len(chosen) >= count:
                break
            if extra not in chosen:
                chosen = sorted({*chosen, extra})
        minute = 0
        while len(chosen) < count:  # only when the spread collided with the slots: any free minute will do
            candidate = time(12 + minute // 60, minute % 60)
            if candidate not in chosen:
                chosen = sorted({*chosen, candidate})
            minute += 1
    return _pick(chosen, count)


def _slot(day: date, at: time, tz: str) -> Slot:
    """The slot at `at` on `day`; a time the clocks skip that day moves one hour later (it means the same moment)."""
    naive = datetime.combine(day, at)
    try:
        when = scheduling.to_utc(naive, tz)
    except ValidationError:
        naive += timedelta(hours=1)
        when = scheduling.to_utc(naive, tz)
    return Slot(day=day, local=naive, when=when)


@dataclass
class SlotPlanner:
    """Builds the plan's slots for its accounts: `slots_for_days(first, days)` gives them day by day."""

    tz: str
    per_account: list[dict[int, list[time]]]
    automation: AutomationSettings
    posts_per_day: int

    @classmethod
    def for_accounts(cls, *, workspace: Workspace, account_ids: Sequence[int], posts_per_day: int) -> SlotPlanner:
        per_account: dict[int, dict[int, list[time]]] = {pk: defaultdict(list) for pk in account_ids}
        rows = QueueSlot.objects.filter(social_account_id__in=list(account_ids)).values_list(
            "social_account_id", "weekday", "time_of_day"
        )
        for account_id, weekday, time_of_day in rows:
            per_account[account_id][weekday].append(time_of_day.replace(second=0, microsecond=0))
        automation = AutomationSettings.objects.filter(workspace=workspace).first() or AutomationSettings(
            workspace=workspace
        )
        return cls(
            tz=_tz_name(workspace),
            per_account=[dict(times) for times in per_account.values() if times],
            automation=automation,
            posts_per_day=posts_per_day,
        )

    def slots_for_day(self, day: date) -> list[Slot]:
        times = _times_of_day(day.weekday(), self.per_account, self.automation, self.posts_per_day)
        return [_slot(day, at, self.tz) for at in times]

    def slots_for_days(self, first: date, days: int) -> list[Slot]:
        return [slot for offset in range(days) for slot in self.slots_for_day(first + timedelta(days=offset))]


def plan_slots(*, planner: SlotPlanner, start_date: date, days: int, now: datetime) -> list[Slot]:
    """The plan's slots, in time order: `posts_per_day` on each of `days` days from `start_date`.

    A slot closer to `now` than SLOT_MARGIN (a plan starting today) is replaced
    by one on the days after the plan's last day, so no day gets more than
    `posts_per_day` and nothing is planned in the past.
    """
    slots = planner.slots_for_days(start_date, days)
    future = [slot for slot in slots if slot.when > now + SLOT_MARGIN]
    extra_day = start_date + timedelta(days=days)
    while len(future) < len(slots):
        more = [slot for slot in planner.slots_for_day(extra_day) if slot.when > now + SLOT_MARGIN]
        future += more[: len(slots) - len(future)]
        extra_day += timedelta(days=1)
    return sorted(future, key=lambda slot: slot.when)


# --------------------------------------------------------------------------- creating a plan


def _clean_mix(workspace: Workspace, domain_mix: Any, errors: dict[str, list[str]]) -> dict[str, int]:
    domains = dict(ContentDomain.objects.for_workspace(workspace).values_list("key", "name"))
    if not domains:
        errors.setdefault("domain_mix", []).append(
            "This workspace has no content domains yet: choose them in the workspace setup first."
        )
        return {}
    if not isinstance(domain_mix, Mapping) or not domain_mix:
        errors.setdefault("domain_mix", []).append("Give each content domain a share of the posts, in percent.")
        return {}
    mix: dict[str, int] = {}
    for key, value in domain_mix.items():
        if key not in domains:
            errors.setdefault("domain_mix", []).append(f"“{key}” is not one of this workspace's content domains.")
            continue
        try:
            percent = int(value)
        except (TypeError, ValueError):
            percent = -1
        if isinstance(value, bool) or str(value).strip() != str(percent) or not 0 <= percent <= 100:
            errors.setdefault("domain_mix", []).append(
                f"Give {domains[key]} a whole-number share from 0 to 100 (0 for none)."
            )
            continue
        mix[key] = percent
    if errors.get("domain_mix"):
        return {}
    total = sum(mix.values())
    if total != 100:
        errors.setdefault("domain_mix", []).append(f"The shares add up to {total}%; make them add up to exactly 100%.")
        return {}
    return {key: percent for key, percent in mix.items() if percent > 0}


def _clean_accounts(workspace: Workspace, account_ids: Any, errors: dict[str, list[str]]) -> list[int]:
    try:
        wanted = list(dict.fromkeys(int(pk) for pk in account_ids or []))
    except (TypeError, ValueError):
        errors.setdefault("account_ids", []).append("Choose the accounts to post to from the list.")
        return []
    if not wanted:
        errors.setdefault("account_ids", []).append("Choose at least one account to post to.")
        return []
    found = SocialAccount.objects.for_workspace(workspace).in_bulk(wanted)
    if len(found) != len(wanted):
        errors.setdefault("account_ids", []).append("One of the chosen accounts is not connected to this workspace.")
        return []
    unusable = [str(found[pk]) for pk in wanted if not found[pk].is_usable]
    if unusable:
        errors.setdefault("account_ids", []).append(
            f"Reconnect {', '.join(unusable)} before planning posts for it (Connections page)."
        )
        return []
    return wanted


def _whole(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@transaction.atomic
def create_content_plan(
    *,
    workspace: Workspace,
    actor: User,
    start_date: date,
    days: int,
    posts_per_day: int,
    domain_mix: Mapping[str, int],
    account_ids: Sequence[int | str],
    prompt: str = "",
    destination: str = Destination.REVIEW,
    start: bool = True,
    now: datetime | None = None,
) -> ContentPlan:
    """Plan `days` x `posts_per_day` posts from `start_date` for `account_ids`, about the domains of `domain_mix`.

    Checks, with a message per field (ValidationError keyed by argument name):
    the start is today or later (workspace time zone); 1-31 days; 1-10 posts a
    day and no more than the plan allows; the mix names the workspace's own
    domains with whole percentages adding up to 100; the accounts are the
    workspace's and usable; the prompt fits; the destination is the approval
    queue or drafts; this month's AI tokens are not used up. The actor must be
    allowed to write content (PermissionDenied). Saves the plan `queued` and
    asks a worker to run it once the transaction commits; with `start=False`
    the caller runs it (`run_content_plan`, as the benchmark does in-process).
    `now` is for tests.
    """
    require(_role(actor, workspace), Action.EDIT_CONTENT)
    now = now or datetime.now(tz=UTC)
    errors: dict[str, list[str]] = {}
    today = now.astimezone(workspace.zone).date()
    if not isinstance(start_date, date) or isinstance(start_date, datetime):
        errors["start_date"] = ["Give the first day of the plan as a date."]
    elif start_date < today:
        errors["start_date"] = [f"Start today ({today:%d %b %Y}) or later: {start_date:%d %b %Y} has passed."]
    elif start_date > today + timedelta(days=MAX_START_AHEAD_DAYS):
        errors["start_date"] = ["Start within the next year."]
    days_value = _whole(days)
    if days_value is None or not 1 <= days_value <= MAX_DAYS:
        errors["days"] = [f"Plan between 1 and {MAX_DAYS} days."]
    per_day = _whole(posts_per_day)
    if per_day is None or not 1 <= per_day <= MAX_POSTS_PER_DAY:
        errors["posts_per_day"] = [f"Make between 1 and {MAX_POSTS_PER_DAY} posts a day."]
    else:
        plan = plan_for(workspace)
        allowed = check(workspace, Limited.POST_TODAY, current=per_day - 1, plan=plan)
        if not allowed.allowed:
            errors["posts_per_day"] = [
                f"The {plan.name} plan allows {allowed.limit} posts per day; choose {allowed.limit} or fewer, "
                "or upgrade the plan."
            ]
    mix = _clean_mix(workspace, domain_mix, errors)
    accounts = _clean_accounts(workspace, account_ids, errors)
    prompt = (prompt or "").strip()
    if len(prompt) > MAX_PLAN_PROMPT_LENGTH:
        errors["prompt"] = [f"Keep the prompt under {MAX_PLAN_PROMPT_LENGTH:,} characters (it has {len(prompt):,})."]
    if destination not in Destination.values:
        errors["destination"] = ["Choose where the posts go: the approval queue or drafts."]
    if not errors and llm_configured(workspace):
        try:
            check_budget(workspace)
        except ValidationError as exc:
            errors["__all__"] = list(exc.messages)
    if errors:
        raise ValidationError(errors)
    assert days_value is not None and per_day is not None  # noqa: S101 - checked above
    content_plan = ContentPlan.objects.create(
        workspace=workspace,
        created_by=actor,
        start_date=start_date,
        days=days_value,
        posts_per_day=per_day,
        domain_mix=mix,
        account_ids=accounts,
        prompt=prompt,
        destination=destination,
        status=Status.QUEUED,
        total=days_value * per_day,
    )
    _touch(content_plan.pk)
    if start:
        transaction.on_commit(partial(_enqueue, content_plan.pk))
    return content_plan


def _enqueue(plan_id: int) -> None:
    """Send the plan to a worker; when the broker cannot be reached, fail the plan visibly rather than leave it."""
    from letsgrow.planner.tasks import run_content_plan_task  # the tasks module imports this one

    try:
        run_content_plan_task.delay(plan_id)
    except Exception:
        logger.exception("Could not enqueue content plan %s", plan_id)
        ContentPlan.objects.filter(pk=plan_id, status=Status.QUEUED).update(
            status=Status.FAILED, error=ENQUEUE_FAILED, finished_at=datetime.now(tz=UTC)
        )


# --------------------------------------------------------------------------- progress and stalls


def _touch(plan_id: int) -> None:
    """Note that the plan moved (started, made progress, was resumed): the stall check reads it."""
    cache.set(PROGRESS_KEY.format(pk=plan_id), datetime.now(tz=UTC).timestamp(), timeout=3 * 86400)


def last_progress_at(plan: ContentPlan) -> datetime:
    """When the plan last moved: its creation, its newest post, or the last progress a run noted."""
    moments = [plan.created_at]
    newest = Post.objects.filter(content_plan=plan).aggregate(newest=Max("created_at"))["newest"]
    if newest is not None:
        moments.append(newest)
    noted = cache.get(PROGRESS_KEY.format(pk=plan.pk))
    if isinstance(noted, int | float):
        moments.append(datetime.fromtimestamp(noted, tz=UTC))
    return max(moments)


def is_stalled(plan: ContentPlan, *, now: datetime | None = None) -> bool:
    """Queued or running, with no progress for STALL_AFTER: its worker died or never got the message."""
    if plan.status not in (Status.QUEUED, Status.RUNNING):
        return False
    now = now or datetime.now(tz=UTC)
    return now - last_progress_at(plan) > STALL_AFTER


def missing_count(plan: ContentPlan) -> int:
    """Posts of the plan not made (yet): its total less the posts it holds."""
    return max(0, plan.total - Post.objects.filter(content_plan=plan).count())


def may_resume(plan: ContentPlan, *, now: datetime | None = None) -> bool:
    """Whether "retry the missing posts" applies: a finished or stalled plan with posts missing."""
    if plan.status in (Status.DONE, Status.FAILED):
        return missing_count(plan) > 0
    return is_stalled(plan, now=now) and missing_count(plan) > 0


@transaction.atomic
def resume_content_plan(*, plan: ContentPlan, actor: User, now: datetime | None = None) -> ContentPlan:
    """Generate the plan's missing posts again: a failed, finished-with-failures or stalled plan back to `queued`.

    The posts it already has are kept; the run makes only the missing ones.
    Raises ValidationError when nothing is missing or the plan is still
    making progress; PermissionDenied unless the actor may write content.
    """
    require(_role(actor, plan.workspace), Action.EDIT_CONTENT)
    now = now or datetime.now(tz=UTC)
    plan.refresh_from_db()
    if missing_count(plan) == 0:
        raise ValidationError("Every post of this plan has been made: nothing is missing.", code="complete")
    if plan.status in (Status.QUEUED, Status.RUNNING) and not is_stalled(plan, now=now):
        raise ValidationError(
            "This plan is still being generated. If it makes no progress for "
            f"{int(STALL_AFTER.total_seconds() // 60)} minutes, you can retry the missing posts.",
            code="running",
        )
    # Compare-and-set on what was read: a run that moved meanwhile is not taken over.
    rows = ContentPlan.objects.filter(pk=plan.pk, status=plan.status, done=plan.done, failed=plan.failed).update(
        status=Status.QUEUED, failed=0, error="", finished_at=None
    )
    if rows != 1:
        raise ValidationError("This plan changed just now. Reload the page and try again.", code="conflict")
    plan.refresh_from_db()
    _touch(plan.pk)
    transaction.on_commit(partial(_enqueue, plan.pk))
    return plan


@dataclass(frozen=True)
class Progress:
    status: str
    status_label: str
    total: int
    done: int
    failed: int
    retries: int
    error: str
    percent: int
    is_finished: bool
    is_stalled: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "status_label": self.status_label,
            "total": self.total,
            "done": self.done,
            "failed": self.failed,
            "retries": self.retries,
            "error": self.error,
            "percent": self.percent,
            "finished": self.is_finished,
            "stalled": self.is_stalled,
        }


def progress_of(plan: ContentPlan, *, now: datetime | None = None) -> Progress:
    """What the progress bar shows: counts, the share made (done and failed both count as handled), stalls."""
    stalled = is_stalled(plan, now=now)
    handled = min(plan.total, plan.done + plan.failed)
    return Progress(
        status=plan.status,
        status_label="Stalled" if stalled else plan.get_status_display(),
        total=plan.total,
        done=plan.done,
        failed=plan.failed,
        retries=plan.retries,
        error=plan.error,
        percent=round(100 * handled / plan.total) if plan.total else 100,
        is_finished=plan.status in (Status.DONE, Status.FAILED),
        is_stalled=stalled,
    )


# --------------------------------------------------------------------------- running a plan


@dataclass(frozen=True)
class Job:
    """One post to generate: its place in the plan, its domain and its prompt."""

    index: int
    slot: Slot
    domain_key: str
    prompt: str
    # Offline generation varies by this (the model by the prompt's angle instead: `attempt` asks it to differ).
    variation: int = 0


@dataclass
class Outcome:
    job: Job
    post: GeneratedPost | None = None
    error: str = ""


class _Counter:
    """Retries counted by the generating threads, read by the writer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def add(self) -> None:
        with self._lock:
            self.value += 1


def _prompt_for(plan: ContentPlan, domain_name: str, nth_of_domain: int, slot: Slot) -> str:
    """The prompt of one post: the person's (or the domain), an angle, and its day, so no two posts read alike."""
    angle = ANGLES[nth_of_domain % len(ANGLES)]
    base = plan.prompt.strip() or domain_name
    return f"{base}\nAngle: {angle}. It goes out on {slot.local:%A} {slot.day.day} {slot.local:%B}."


def _is_transient(exc: BaseException) -> bool:
    # AIUnavailable already tried every endpoint once; a moment later the same call usually works
    # (rate limits, restarts). A database hiccup in the metering is worth a second try too.
    return isinstance(exc, AIUnavailable | DatabaseError | OSError)


def generate_with_retries(
    request: GenerationRequest, retries: _Counter, *, sleep: Callable[[float], None], variation: int = 0
) -> Any:
    """Generate one post, trying again up to MAX_ATTEMPTS - 1 times after a transient failure."""
    for attempt in range(MAX_ATTEMPTS):
        try:
            return generate_post(request, attempt=variation)
        except Exception as exc:
            if not _is_transient(exc) or attempt == MAX_ATTEMPTS - 1:
                raise
            retries.add()
            # Jitter spreads the retries of many posts that failed together (one rate limit, one restart).
            sleep(BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS) - 1)] * random.uniform(0.75, 1.25))  # noqa: S311
    raise AssertionError("unreachable")  # pragma: no cover


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SoftTimeLimitExceeded):
        return "It took longer than the time a plan may take, so it was stopped."
    if isinstance(exc, AIUnavailable):
        return exc.message
    if isinstance(exc, ValidationError | PermissionDenied):
        messages = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
        return " ".join(messages)
    return f"An unexpected error stopped it ({type(exc).__name__})."


def _generate(job: Job, *, workspace: Workspace, platforms: list[str], retries: _Counter, in_thread: bool) -> Outcome:
    request = GenerationRequest(workspace=workspace, domain_key=job.domain_key, platforms=platforms, prompt=job.prompt)
    try:
        post = generate_with_retries(request, retries, sleep=clock.sleep, variation=job.variation)
        return Outcome(job=job, post=post)
    except Exception as exc:
        logger.warning("Content plan post %s failed: %s", job.index, _describe(exc))
        return Outcome(job=job, error=_describe(exc))
    finally:
        if in_thread:
            # A pool thread's connection would otherwise stay open until the process ends.
            connection.close()


@transaction.atomic
def _save(
    *,
    plan: ContentPlan,
    actor: User,
    accounts: Sequence[SocialAccount],
    domains: Mapping[str, ContentDomain],
    outcome: Outcome,
    slot: Slot,
    tz: str,
) -> Post:
    """File one generated post: a draft to every account; for the approval queue, submitted with its time kept."""
    generated = outcome.post
    assert generated is not None  # noqa: S101 - only successful outcomes are saved
    if Post.objects.filter(content_plan=plan, generation__plan_slot=outcome.job.index).exists():
        raise ValidationError("This post was made already (by an earlier run).", code="duplicate")
    by_account = {
        account.pk: generated.variants[account.platform]
        for account in accounts
        if account.platform in generated.variants
    }
    post = scheduling.create_post(
        workspace=plan.workspace,
        author=actor,
        text=compose(generated.content, generated.hashtags),
        account_ids=[account.pk for account in accounts],
        # Offline results come from the workspace's templates and the domain's samples, not from a model.
        source=Post.Source.AI if generated.source == "ai" else Post.Source.TEMPLATE,
        variants=by_account,
    )
    record = {
        **generated.generation_record,
        "content_plan": plan.pk,
        "plan_slot": outcome.job.index,
        "planned_for": slot.when.isoformat(timespec="seconds"),
        "planned_local": f"{slot.local:%Y-%m-%d %H:%M} ({tz})",
    }
    Post.objects.filter(pk=post.pk).update(
        content_plan=plan,
        generation=record,
        performance_score=generated.score or None,
        score_reasons=generated.score_reasons,
        domain=domains.get(outcome.job.domain_key),
    )
    post.refresh_from_db()
    if plan.destination == Destination.REVIEW:
        scheduling.submit_for_review(post=post, actor=actor)
        scheduling.propose_time(post=post, actor=actor, when_local=slot.local, tz=tz)
    return post


class _Writer:
    """The one writer of a run: saves each generated post and the plan's counters (batched)."""

    def __init__(self, plan: ContentPlan, *, done: int, retries: _Counter) -> None:
        self.plan = plan
        self.done = done
        self.failed = 0
        self.retries = retries
        self.first_error = ""
        self._written = (-1, -1, -1)
        self._last_write = 0.0

    def failure(self, message: str) -> None:
        self.failed += 1
        self.first_error = self.first_error or message

    def flush(self, *, force: bool = False) -> None:
        counts = (self.done, self.failed, self.retries.value)
        if counts == self._written or (not force and clock.monotonic() - self._last_write < PROGRESS_EVERY_SECONDS):
            return
        ContentPlan.objects.filter(pk=self.plan.pk, status=Status.RUNNING).update(
            done=self.done, failed=self.failed, retries=self.plan.retries + self.retries.value
        )
        self._written, self._last_write = counts, clock.monotonic()
        _touch(self.plan.pk)


def _jobs(plan: ContentPlan, slots: list[Slot], domains: Mapping[str, ContentDomain], *, offline: bool) -> list[Job]:
    order = interleave(split_by_mix(plan.domain_mix, plan.total))
    seen: dict[str, int] = defaultdict(int)
    jobs = []
    for index, (slot, key) in enumerate(zip(slots, order, strict=True)):
        name = domains[key].name if key in domains else key
        if offline:
            # The offline writer fills templates and samples with the prompt's words: an angle would end up in
            # the post itself. It takes a variation number instead.
            job = Job(index=index, slot=slot, domain_key=key, prompt=plan.prompt, variation=seen[key])
        else:
            job = Job(index=index, slot=slot, domain_key=key, prompt=_prompt_for(plan, name, seen[key], slot))
        jobs.append(job)
        seen[key] += 1
    return jobs


def _late_slots(planner: SlotPlanner, plan: ContentPlan, taken: set[datetime], count: int, now: datetime) -> list[Slot]:
    """`count` free slots after the plan's last day, for missing posts whose own time passed before they were made."""
    found: list[Slot] = []
    day = max(plan.start_date + timedelta(days=plan.days), now.astimezone(ZoneInfo(planner.tz)).date())
    while len(found) < count:
        found += [
            slot for slot in planner.slots_for_day(day) if slot.when > now + SLOT_MARGIN and slot.when not in taken
        ]
        day += timedelta(days=1)
    return found[:count]


def _planned_times(records: Iterable[Any]) -> set[datetime]:
    times = set()
    for record in records:
        try:
            times.add(datetime.fromisoformat(record["planned_for"]))
        except (KeyError, TypeError, ValueError):
            continue
    return times


def _fail(plan_id: int, message: str) -> None:
    ContentPlan.objects.filter(pk=plan_id, status__in=(Status.QUEUED, Status.RUNNING)).update(
        status=Status.FAILED, error=message[:2000], finished_at=datetime.now(tz=UTC)
    )


def run_content_plan(
    *, plan_id: int, concurrency: int | None = None, now: datetime | None = None
) -> ContentPlan | None:
    """Generate the plan's missing posts side by side and file them; return the plan, finished.

    Claims the plan by compare-and-set from `queued` to `running`: a second
    message for the same plan (a redelivery) changes nothing. At most
    `concurrency` (LLM_MAX_CONCURRENCY) generations run at once, each on its
    own thread and database connection; this thread alone writes posts and
    counters. A post whose generation fails after its retries, or that cannot
    be saved, counts as failed. The plan ends `done`, or `failed` when no post
    could be made, or when anything unexpected stops the run (the error says
    what; the posts made so far are kept). Returns None for a plan that no
    longer exists. `now` is for tests.
    """
    claimed = ContentPlan.objects.filter(pk=plan_id, status=Status.QUEUED).update(status=Status.RUNNING)
    plan = ContentPlan.objects.select_related("workspace", "created_by").filter(pk=plan_id).first()
    if plan is None or not claimed:
        return plan  # gone, or another run has it: nothing to do
    _touch(plan.pk)
    try:
        return _run(plan, concurrency=concurrency, now=now or datetime.now(tz=UTC))
    except BaseException as exc:
        logger.exception("Content plan %s stopped", plan.pk)
        made = Post.objects.filter(content_plan=plan).count()
        _fail(
            plan.pk,
            f"Generation stopped: {_describe(exc)} {made} of {plan.total} posts were made; "
            "retry the missing posts to finish the plan.",
        )
        plan.refresh_from_db()
        if not isinstance(exc, Exception):  # KeyboardInterrupt, SystemExit: the process is going away
            raise
        return plan


def _run(plan: ContentPlan, *, concurrency: int | None, now: datetime) -> ContentPlan:
    workspace, actor = plan.workspace, plan.created_by
    if actor is None or not actor.is_active:
        _fail(plan.pk, "The person who made this plan no longer has an account here, so its posts cannot be filed.")
        plan.refresh_from_db()
        return plan
    accounts = list(SocialAccount.objects.for_workspace(workspace).filter(pk__in=plan.account_ids).order_by("pk"))
    unusable = [str(account) for account in accounts if not account.is_usable]
    if len(accounts) != len(plan.account_ids) or unusable:
        what = f"Reconnect {', '.join(unusable)}" if unusable else "An account of this plan was disconnected"
        _fail(plan.pk, f"{what}, then retry the missing posts.")
        plan.refresh_from_db()
        return plan
    domains = {domain.key: domain for domain in ContentDomain.objects.for_workspace(workspace)}
    if any(key not in domains for key in plan.domain_mix):
        _fail(plan.pk, "A content domain of this plan was removed from the workspace. Make a new plan.")
        plan.refresh_from_db()
        return plan

    if any(not QueueSlot.objects.filter(social_account=account).exists() for account in accounts):
        scheduling.ensure_default_slots(workspace=workspace)
    planner = SlotPlanner.for_accounts(
        workspace=workspace, account_ids=[account.pk for account in accounts], posts_per_day=plan.posts_per_day
    )
    # The slots are computed as of the plan's creation, so a resumed run gives each missing post the time it had.
    slots = plan_slots(planner=planner, start_date=plan.start_date, days=plan.days, now=plan.created_at)
    existing = list(Post.objects.filter(content_plan=plan).values_list("generation", flat=True))
    made = {record.get("plan_slot") for record in existing if isinstance(record, dict)}
    offline = not llm_configured(workspace)
    jobs = [job for job in _jobs(plan, slots, domains, offline=offline) if job.index not in made]
    late = [job for job in jobs if job.slot.when <= now + SLOT_MARGIN]
    if late:
        taken = {slot.when for slot in slots} | _planned_times(existing)
        replacements = iter(_late_slots(planner, plan, taken, len(late), now))
        moved = {job.index: next(replacements) for job in late}
        jobs = [replace(job, slot=moved.get(job.index, job.slot)) for job in jobs]

    retries = _Counter()
    writer = _Writer(plan, done=len(existing), retries=retries)
    ContentPlan.objects.filter(pk=plan.pk).update(done=writer.done, failed=0)
    platforms = list(dict.fromkeys(account.platform for account in accounts))
    tz = planner.tz

    def handle(outcome: Outcome) -> None:
        if outcome.post is None:
            writer.failure(outcome.error)
            return
        try:
            _save(
                plan=plan,
                actor=actor,
                accounts=accounts,
                domains=domains,
                outcome=outcome,
                slot=outcome.job.slot,
                tz=tz,
            )
        except (ValidationError, PermissionDenied) as exc:
            writer.failure(f"A generated post could not be filed: {_describe(exc)}")
            return
        writer.done += 1

    workers = max(1, int(concurrency or getattr(settings, "LLM_MAX_CONCURRENCY", 16) or 1))
    generate = partial(_generate, workspace=workspace, platforms=platforms, retries=retries)
    if workers == 1 or len(jobs) <= 1:
        # Here, on this thread's connection: for a single worker, and in tests, whose transaction
        # other connections cannot see.
        for job in jobs:
            handle(generate(job, in_thread=False))
            writer.flush()
    else:
        _run_pool(jobs, generate, handle, writer, workers=min(workers, len(jobs)))
    writer.flush(force=True)
    return _finish(plan, writer)


def _run_pool(
    jobs: Iterable[Job],
    generate: Callable[..., Outcome],
    handle: Callable[[Outcome], None],
    writer: _Writer,
    *,
    workers: int,
) -> None:
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="content-plan")
    try:
        pending: set[Future[Outcome]] = {pool.submit(generate, job, in_thread=True) for job in jobs}
        while pending:
            finished, pending = wait(pending, timeout=PROGRESS_EVERY_SECONDS, return_when=FIRST_COMPLETED)
            for future in finished:
                handle(future.result())
            writer.flush()
    finally:
        # On a crash or a time limit, drop what has not started; what runs finishes on its own.
        pool.shutdown(wait=False, cancel_futures=True)


def _finish(plan: ContentPlan, writer: _Writer) -> ContentPlan:
    finished_at = datetime.now(tz=UTC)
    if writer.done == 0 and plan.total > 0:
        status = Status.FAILED
        error = f"No post could be generated. {writer.first_error}".strip()
    else:
        status = Status.DONE
        error = ""
        if writer.failed:
            error = (
                f"{writer.failed} of {plan.total} posts could not be made: {writer.first_error} "
                "Retry the missing posts to try them again."
            )
    ContentPlan.objects.filter(pk=plan.pk, status=Status.RUNNING).update(
        status=status, error=error[:2000], finished_at=finished_at
    )
    _touch(plan.pk)
    plan.refresh_from_db()
    return plan

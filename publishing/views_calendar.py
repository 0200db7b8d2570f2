"""The content calendar: what of the workspace goes out (or went out) when, by month or by week.

Server-rendered, no JavaScript of its own. A thin read: parse the query string, run two queries
(the workspace's accounts, the period's targets), place each target on its local day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from urllib.parse import urlencode

from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.text import Truncator
from django.views import View

from accounts.permissions import Action, can
from accounts.views.mixins import WorkspaceMixin
from content.models import Post
from publishing.models import PostTarget, SocialAccount
from publishing.views_posts import TARGET_BADGES, Platform, _platform

TS = PostTarget.Status
# A month grid is at most 42 days; 2,000 entries is far beyond what a person reads on one page,
# and keeps a runaway workspace (or a bulk import) from building a page of megabytes.
MAX_ENTRIES = 2000
EXCERPT_CHARS = 60
# Someone should look at these: besides their red or amber badge they get a border of that colour,
# so they stand out on a busy month even where the badge is cut off.
ATTENTION_BORDERS: dict[str, str] = {
    TS.FAILED: "border border-danger",
    TS.MISSED: "border border-warning",
    TS.UNCONFIRMED: "border border-warning",
}
# Years we accept in `?month=` / `?week=`: beyond them prev/next and the UTC bounds would overflow.
MIN_YEAR, MAX_YEAR = 1900, 2999
MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class Entry:
    target: PostTarget
    when: datetime  # in the workspace's zone: published_at when set, else scheduled_at
    published: bool  # `when` is the publication time, not the planned one
    platform: Platform
    badge: str
    label: str  # the status in words
    excerpt: str
    muted: bool  # cancelled
    attention: str  # a border class for failed, missed or unconfirmed, else ""


@dataclass
class Day:
    day: date
    in_period: bool  # False for the days of the neighbouring months that fill a month grid's weeks
    is_today: bool
    entries: list[Entry] = field(default_factory=list)


@dataclass(frozen=True)
class Period:
    view: str  # "month" or "week"
    first: date  # the first day of the month, or the Monday of the week
    last: date
    grid_first: date  # Monday of the first week shown
    grid_last: date  # Sunday of the last week shown
    previous: date
    next: date


def _month_period(first: date) -> Period:
    last = _next_month(first) - timedelta(days=1)
    return Period(
        view="month",
        first=first,
        last=last,
        grid_first=first - timedelta(days=first.weekday()),
        grid_last=last + timedelta(days=6 - last.weekday()),
        previous=(first - timedelta(days=1)).replace(day=1),
        next=_next_month(first),
    )


def _week_period(monday: date) -> Period:
    sunday = monday + timedelta(days=6)
    return Period(
        view="week",
        first=monday,
        last=sunday,
        grid_first=monday,
        grid_last=sunday,
        previous=monday - timedelta(days=7),
        next=monday + timedelta(days=7),
    )


def _next_month(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1)


def _read_month(value: str) -> date | None:
    match = MONTH_RE.match(value)
    if match is None:
        return None
    year, month = int(match[1]), int(match[2])
    if not (MIN_YEAR <= year <= MAX_YEAR and 1 <= month <= 12):
        return None
    return date(year, month, 1)


def _read_day(value: str) -> date | None:
    # The regex first: date.fromisoformat also takes "20261025" and "2026-W43-7", which we never write.
    if DAY_RE.match(value) is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    return day if MIN_YEAR <= day.year <= MAX_YEAR else None


def _shown(value: str) -> str:
    """The unreadable value as the notice quotes it: short, so a pasted novel does not fill the page."""
    return Truncator(value).chars(40)


def _local_midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def _label(target: PostTarget) -> str:
    # A pending target on the calendar has a time the author asked for, kept until a reviewer approves
    # the post ("Not scheduled" would read as if it had no time at all).
    if target.status == TS.PENDING and target.post.status == Post.Status.PENDING_REVIEW:
        return "Awaiting review"
    return target.get_status_display()


def _entry(target: PostTarget, zone: tzinfo) -> Entry:
    published = target.published_at is not None
    moment = target.published_at if published else target.scheduled_at
    return Entry(
        target=target,
        when=moment.astimezone(zone),
        published=published,
        platform=_platform(target.social_account.platform),
        badge=TARGET_BADGES.get(target.status, "text-bg-secondary"),
        label=_label(target),
        excerpt=Truncator(" ".join(target.effective_text.split())).chars(EXCERPT_CHARS),
        muted=target.status == TS.CANCELLED,
        attention=ATTENTION_BORDERS.get(target.status, ""),
    )


class CalendarView(WorkspaceMixin, View):
    """GET: the workspace's post targets on a month grid (default) or a week, in the workspace's time zone.

    Query string: `view=month|week`; `month=YYYY-MM` (month view) or `week=YYYY-MM-DD`, any day of a
    week that starts on Monday (week view); `account=<id>` of one of this workspace's accounts.
    Missing values mean the period holding today in the workspace's zone; a value that cannot be read
    falls back the same way (or to every account) and the page says so, never an error.

    A target sits at its `published_at` when it has one, else at its `scheduled_at`; a target with
    neither is not on the calendar. Cancelled targets are shown, muted, so a gap in the plan has a
    visible reason. Two queries whatever the number of targets, at most MAX_ENTRIES entries (in time
    order; the page says when it stopped).
    """

    template_name = "publishing/calendar.html"
    required_action = Action.VIEW

    def get(self, request: HttpRequest, workspace_slug: str) -> HttpResponse:
        zone = self.workspace.zone
        today = timezone.now().astimezone(zone).date()
        notices: list[str] = []
        period = self._period(request, today, notices)
        accounts = list(SocialAccount.objects.filter(workspace=self.workspace).order_by("platform", "handle", "pk"))
        account = self._account(request, accounts, notices)

        start = _local_midnight(period.grid_first, zone)
        end = _local_midnight(period.grid_last + timedelta(days=1), zone)
        targets = (
            PostTarget.objects.filter(workspace=self.workspace)
            .filter(
                Q(published_at__gte=start, published_at__lt=end)
                | Q(published_at__isnull=True, scheduled_at__gte=start, scheduled_at__lt=end)
            )
            .select_related("post", "social_account")
            .annotate(moment=Coalesce(F("published_at"), F("scheduled_at")))
            .order_by("moment", "pk")
        )
        if account is not None:
            targets = targets.filter(social_account=account)
        # One more than the cap tells "capped" from "exactly the cap" without a COUNT query.
        found = list(targets[: MAX_ENTRIES + 1])
        capped = len(found) > MAX_ENTRIES
        entries = [_entry(target, zone) for target in found[:MAX_ENTRIES]]

        days = self._days(period, today, entries)
        filters = {"account": account.pk} if account is not None else {}
        context = {
            "workspace": self.workspace,
            "membership": self.membership,
            "zone": zone,
            "period": period,
            "weeks": [days[i : i + 7] for i in range(0, len(days), 7)],
            "weekdays": WEEKDAYS,
            "entry_count": len(entries),
            "capped": capped,
            "max_entries": f"{MAX_ENTRIES:,}",
            "last_shown": entries[-1].when if capped else None,
            "notices": notices,
            "accounts": accounts,
            "account": account,
            "links": self._links(period, today, filters),
            # The account select's form carries the period, so choosing an account keeps it.
            "period_value": period.first.strftime("%Y-%m") if period.view == "month" else period.first.isoformat(),
            "may_create": can(self.membership.role, Action.EDIT_CONTENT),
        }
        return render(request, self.template_name, context)

    def _period(self, request: HttpRequest, today: date, notices: list[str]) -> Period:
        view = request.GET.get("view", "") or "month"
        if view not in ("month", "week"):
            notices.append(f"Could not read the view “{_shown(view)}”; showing the month.")
            view = "month"
        if view == "week":
            raw = request.GET.get("week", "")
            day = _read_day(raw) if raw else today
            if day is None:
                notices.append(f"Could not read the week “{_shown(raw)}”; showing this week.")
                day = today
            return _week_period(day - timedelta(days=day.weekday()))
        raw = request.GET.get("month", "")
        first = _read_month(raw) if raw else today.replace(day=1)
        if first is None:
            notices.append(f"Could not read the month “{_shown(raw)}”; showing this month.")
            first = today.replace(day=1)
        return _month_period(first)

    def _account(self, request: HttpRequest, accounts: list[SocialAccount], notices: list[str]) -> SocialAccount | None:
        raw = request.GET.get("account", "")
        if not raw:
            return None
        # Matched against this workspace's accounts only: another workspace's id reads as unknown.
        account = next((a for a in accounts if str(a.pk) == raw.strip()), None)
        if account is None:
            notices.append(f"Could not find the account “{_shown(raw)}” in this workspace; showing every account.")
        return account

    def _days(self, period: Period, today: date, entries: list[Entry]) -> list[Day]:
        count = (period.grid_last - period.grid_first).days + 1
        days = [
            Day(day=day, in_period=period.first <= day <= period.last, is_today=day == today)
            for day in (period.grid_first + timedelta(days=n) for n in range(count))
        ]
        by_date = {day.day: day for day in days}
        for entry in entries:
            # The query's bounds are local midnights; a zone whose clocks jump at midnight can let an
            # entry of the day before or after through, which has no cell and is left out.
            day = by_date.get(entry.when.date())
            if day is not None:
                day.entries.append(entry)
        return days

    def _links(self, period: Period, today: date, filters: dict[str, object]) -> dict[str, str]:
        def query(view: str, day: date | None) -> str:
            params: dict[str, object] = {"view": view}
            if day is not None:
                params[view] = day.strftime("%Y-%m") if view == "month" else day.isoformat()
            return "?" + urlencode({**params, **filters})

        # Switching view keeps today when it is in the period shown, else the period's first day.
        anchor = today if period.first <= today <= period.last else period.first
        return {
            "previous": query(period.view, period.previous),
            "next": query(period.view, period.next),
            "today": query(period.view, None),
            "month": query("month", anchor),
            "week": query("week", anchor),
        }

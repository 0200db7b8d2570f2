"""Writes for publishing: one public function per use case."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping, Sequence
from datetime import time
from functools import lru_cache

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import Workspace
from billing.limits import Limited, check
from content.models import ContentDomain
from publishing.models import AutomationSettings

# Even on a plan without a daily limit, more than this is a typo, not a schedule.
MAX_POSTS_PER_DAY = 50
_HH_MM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


@lru_cache(maxsize=1)
def known_timezones() -> frozenset[str]:
    """The IANA time zone names we accept (from the tzdata package)."""
    return frozenset(zoneinfo.available_timezones())


def _hhmm(value: time) -> str:
    return value.strftime("%H:%M")


def _check_timezone(name: str, errors: dict[str, list[str]]) -> None:
    if not name:
        errors["timezone"] = ["Choose your time zone, e.g. Europe/Berlin or America/New_York."]
    elif name not in known_timezones():
        errors["timezone"] = [
            f"“{name}” is not a time zone we know. Choose one like Europe/Berlin or America/New_York."
        ]


def _check_posts_per_day(workspace: Workspace, posts_per_day: int, errors: dict[str, list[str]]) -> None:
    if posts_per_day < 1:
        errors["posts_per_day"] = ["Post at least once a day."]
        return
    # `check` answers "may one more be added, given N already?": the last post of the day is the "one more".
    limit = check(workspace, Limited.POST_TODAY, current=posts_per_day - 1)
    if not limit.allowed:
        errors["posts_per_day"] = [f"You asked for {posts_per_day} posts per day. {limit.message}"]
    elif posts_per_day > MAX_POSTS_PER_DAY:
        errors["posts_per_day"] = [f"Post at most {MAX_POSTS_PER_DAY} times a day; you asked for {posts_per_day}."]


def _check_posting_times(
    posting_times: Sequence[str],
    *,
    posts_per_day: int,
    active_from: time,
    active_until: time,
    errors: dict[str, list[str]],
) -> list[str]:
    """Validate the times; return them sorted (only meaningful when no error was added)."""
    messages: list[str] = []
    times = [value.strip() for value in posting_times]
    malformed = [value for value in times if not _HH_MM.match(value)]
    if malformed:
        listed = ", ".join(f"“{value}”" for value in malformed)
        messages.append(f"Write posting times as HH:MM (24-hour), e.g. 09:30; these are not: {listed}.")
    duplicates = sorted({value for value in times if times.count(value) > 1})
    if duplicates:
        messages.append(f"Each posting time may appear only once; listed more than once: {', '.join(duplicates)}.")
    if posts_per_day >= 1 and len(times) != posts_per_day:
        messages.append(
            f"You chose {posts_per_day} posts per day, so give {posts_per_day} posting times (you gave {len(times)})."
        )
    if not malformed and active_from < active_until:
        outside = [value for value in times if not _hhmm(active_from) <= value <= _hhmm(active_until)]
        if outside:
            messages.append(
                f"Posting times must be inside the active hours ({_hhmm(active_from)} to {_hhmm(active_until)}); "
                f"outside: {', '.join(outside)}."
            )
    if messages:
        errors["posting_times"] = messages
    return sorted(times)


def _check_content_mix(workspace: Workspace, content_mix: Mapping[str, int], errors: dict[str, list[str]]) -> None:
    names = dict(ContentDomain.objects.for_workspace(workspace).values_list("key", "name"))
    if not names:
        errors["content_mix"] = ["Choose at least one content domain before setting the content mix."]
        return
    messages: list[str] = []
    missing = [names[key] for key in names if key not in content_mix]
    if missing:
        messages.append(f"Give a share for every selected domain; missing: {', '.join(sorted(missing))}.")
    unknown = [str(key) for key in content_mix if key not in names]
    if unknown:
        messages.append(f"Not one of your content domains: {', '.join(sorted(unknown))}.")
    bad = [
        names.get(key, key)
        for key, value in content_mix.items()
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100
    ]
    if bad:
        messages.append(f"Each share must be a whole number from 0 to 100; check {', '.join(sorted(bad))}.")
    elif not missing and not unknown:
        total = sum(content_mix.values())
        if total != 100:
            messages.append(f"The content mix adds up to {total}%; it must add up to exactly 100%.")
    if messages:
        errors["content_mix"] = messages


@transaction.atomic
def ensure_automation_settings(*, workspace: Workspace) -> AutomationSettings:
    """Return the workspace's automation settings, creating the defaults (in its time zone) if missing."""
    settings, _created = AutomationSettings.objects.get_or_create(
        workspace=workspace, defaults={"timezone": workspace.timezone}
    )
    return settings


@transaction.atomic
def save_automation_settings(
    *,
    workspace: Workspace,
    timezone: str,
    active_from: time,
    active_until: time,
    posts_per_day: int,
    posting_times: Sequence[str],
    content_mix: Mapping[str, int],
    review_before_posting: bool,
) -> AutomationSettings:
    """Validate and save how the workspace posts on its own; also make `timezone` the workspace's.

    Rules: a known IANA time zone; active hours start before they end (same day);
    1 to the plan's posts per day (at most MAX_POSTS_PER_DAY); exactly that many
    distinct "HH:MM" posting times, each inside the active hours; a content mix
    with a whole-number percentage (0-100) for exactly the workspace's content
    domains, adding up to 100. Breaking any raises ValidationError keyed by
    field name ("timezone", "active_hours", "posts_per_day", "posting_times",
    "content_mix") and nothing changes. Times are stored sorted.
    """
    timezone = timezone.strip()
    errors: dict[str, list[str]] = {}
    _check_timezone(timezone, errors)
    if not active_from < active_until:
        errors["active_hours"] = [
            f"Active hours must start before they end (from {_hhmm(active_from)} until {_hhmm(active_until)} "
            "does not); hours that run past midnight are not supported."
        ]
    _check_posts_per_day(workspace, posts_per_day, errors)
    times = _check_posting_times(
        posting_times,
        posts_per_day=posts_per_day,
        active_from=active_from,
        active_until=active_until,
        errors=errors,
    )
    _check_content_mix(workspace, content_mix, errors)
    if errors:
        raise ValidationError(errors)

    settings = AutomationSettings.objects.select_for_update().filter(workspace=workspace).first()
    if settings is None:
        settings = AutomationSettings(workspace=workspace)
    settings.timezone = timezone
    settings.active_from = active_from
    settings.active_until = active_until
    settings.posts_per_day = posts_per_day
    settings.posting_times = times
    settings.content_mix = {key: int(value) for key, value in content_mix.items()}
    settings.review_before_posting = review_before_posting
    settings.save()
    # The workspace's time zone is the one scheduling shows; automation sets it for everyone.
    Workspace.objects.filter(pk=workspace.pk).update(timezone=timezone)
    workspace.timezone = timezone
    return settings

"""A performance score (1-100) for a post, with its reasons in plain sentences.

Honest by construction: with enough of the workspace's own published posts
that have engagement data, the post is compared with its best ones; until
then, it is checked against general, widely reported rules (length, hashtags,
a question, a call to action, emojis, links, the time slot) and says so. The
score is an estimate, never a promise.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import regex
from django.apps import apps

from accounts.models import Workspace

MIN_HISTORY = 20
RULES_BASIS_NOTE = "Based on general rules, not your own results yet."

# Character ranges that tend to do well per platform (industry studies; general guidance, not law).
SWEET_SPOTS: dict[str, tuple[int, int]] = {
    "x": (70, 200),
    "bluesky": (70, 250),
    "threads": (80, 300),
    "mastodon": (80, 400),
    "linkedin": (150, 1300),
    "facebook": (40, 250),
    "instagram": (100, 1000),
}
HASHTAG_RANGES: dict[str, tuple[int, int]] = {
    "x": (1, 2),
    "bluesky": (0, 3),
    "threads": (0, 1),
    "mastodon": (1, 4),
    "linkedin": (2, 5),
    "facebook": (0, 3),
    "instagram": (3, 10),
}
# Platforms said to show posts with outbound links to fewer people.
LINK_PENALTY = frozenset({"x", "linkedin", "facebook"})
PLATFORM_NAMES = {
    "x": "X",
    "bluesky": "Bluesky",
    "threads": "Threads",
    "mastodon": "Mastodon",
    "linkedin": "LinkedIn",
    "facebook": "Facebook",
    "instagram": "Instagram",
}

_HASHTAG = re.compile(r"(?<![\w&])#\w+")
_LINK = re.compile(r"https?://\S+|\bwww\.\S+", re.IGNORECASE)
_EMOJI = regex.compile(r"\p{Extended_Pictographic}")
_CTA = re.compile(
    r"\b(comment|reply|share|tell (us|me)|let (us|me) know|click|tap|learn more|read more|sign up|join|subscribe|"
    r"follow|try it|download|register|book|save this|link in bio|dm us|check out|what do you think)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Score:
    value: int  # 1..100
    reasons: list[str]
    basis: str  # "history" | "rules"


@dataclass(frozen=True)
class Features:
    length: int
    hashtags: int
    has_question: bool
    has_cta: bool
    emojis: int
    has_link: bool
    hour: int | None  # local hour of the slot, when scheduled


def features_of(text: str, *, hour: int | None = None) -> Features:
    return Features(
        length=len(text),
        hashtags=len(_HASHTAG.findall(text)),
        has_question="?" in _LINK.sub("", text),
        has_cta=bool(_CTA.search(text)),
        emojis=len(_EMOJI.findall(text)),
        has_link=bool(_LINK.search(text)),
        hour=hour,
    )


@dataclass(frozen=True)
class HistorySample:
    """One published post of the workspace and how people engaged with it."""

    text: str
    platform: str
    engagement: float  # likes + reposts + replies (+ quotes), as the platform reports them
    hour: int | None = None


def _clamp(value: float) -> int:
    return max(1, min(100, round(value)))


# --------------------------------------------------------------------------- the workspace's own history


def history_for(workspace: Workspace, platform: str) -> list[HistorySample]:
    """The workspace's published posts with engagement data on `platform`.

    Empty until analytics stores metrics: analytics/models.py holds no metrics
    model yet, so there is nothing of the workspace's own to learn from and the
    rules apply. When a `MetricSnapshot` model exists, read its latest snapshot
    per published target here (score_from_history does the comparing).
    """
    return []


def score_from_history(features: Features, samples: Sequence[HistorySample], platform: str) -> Score:
    """Compare the post with the top quarter of the workspace's posts by engagement."""
    ranked = sorted(samples, key=lambda sample: sample.engagement, reverse=True)
    best = ranked[: max(5, len(ranked) // 4)]
    best_features = [features_of(sample.text, hour=sample.hour) for sample in best]
    name = PLATFORM_NAMES.get(platform, platform)
    value = 50.0
    reasons = [f"Compared with your {len(samples)} published {name} posts that have engagement data."]

    typical_length = statistics.median(f.length for f in best_features)
    if abs(features.length - typical_length) <= max(30, 0.3 * typical_length):
        value += 14
        reasons.append(
            f"Its length ({features.length} characters) is close to your best posts (about {typical_length:.0f})."
        )
    else:
        value -= 8
        reasons.append(
            f"Your best posts are about {typical_length:.0f} characters long; this one has {features.length}."
        )

    typical_tags = statistics.median(f.hashtags for f in best_features)
    if abs(features.hashtags - typical_tags) <= 1:
        value += 6
        reasons.append(f"It has {features.hashtags} hashtag(s), like your best posts (about {typical_tags:.0f}).")
    else:
        value -= 5
        reasons.append(f"Your best posts use about {typical_tags:.0f} hashtag(s); this one has {features.hashtags}.")

    question_share = sum(f.has_question for f in best_features) / len(best_features)
    if question_share >= 0.5:
        value += 10 if features.has_question else -6
        reasons.append(
            "Most of your best posts ask a question"
            + (", and so does this one." if features.has_question else "; this one does not.")
        )
    link_share = sum(f.has_link for f in best_features) / len(best_features)
    if link_share < 0.25 and features.has_link:
        value -= 6
        reasons.append("Few of your best posts carry a link; this one does.")
    elif link_share >= 0.5 and features.has_link:
        value += 4
        reasons.append("Many of your best posts carry a link, like this one.")

    best_hours = sorted({f.hour for f in best_features if f.hour is not None})
    if features.hour is not None and best_hours:
        if features.hour in best_hours:
            value += 10
            reasons.append(f"It goes out at {features.hour:02d}:00, an hour when your best posts went out.")
        else:
            value -= 4
            hours = ", ".join(f"{hour:02d}:00" for hour in best_hours[:4])
            reasons.append(f"Your best posts went out around {hours}; this one is set for {features.hour:02d}:00.")
    return Score(value=_clamp(value), reasons=reasons, basis="history")


# --------------------------------------------------------------------------- general rules


def _active_hours(workspace: Workspace) -> tuple[time, time, str]:
    automation = apps.get_model("publishing", "AutomationSettings").objects.filter(workspace=workspace).first()
    if automation is None:
        return time(9, 0), time(18, 0), workspace.timezone or "UTC"
    return automation.active_from, automation.active_until, automation.timezone or workspace.timezone or "UTC"


def _local(when: datetime, tz: str) -> datetime:
    try:
        return when.astimezone(ZoneInfo(tz))
    except (ZoneInfoNotFoundError, ValueError):
        return when.astimezone(ZoneInfo("UTC"))


def score_from_rules(
    features: Features, platform: str, *, workspace: Workspace, scheduled_at: datetime | None
) -> Score:
    name = PLATFORM_NAMES.get(platform, platform)
    value = 50.0
    reasons = [RULES_BASIS_NOTE]

    low, high = SWEET_SPOTS.get(platform, (80, 400))
    if low <= features.length <= high:
        value += 14
        reasons.append(
            f"At {features.length} characters it is in the range that tends to do well on {name} ({low}-{high})."
        )
    elif features.length < low:
        value -= 6
        reasons.append(f"Very short for {name} ({features.length} characters): a little context tends to help.")
    else:
        value -= 10
        reasons.append(
            f"Long for {name} ({features.length} characters): posts of {low}-{high} tend to get more engagement."
        )

    fewest, most = HASHTAG_RANGES.get(platform, (0, 3))
    if features.hashtags > most:
        value -= 8
        reasons.append(
            f"{features.hashtags} hashtags is more than the {most} or so that tend to work on {name}; "
            "extras can look like spam."
        )
    elif features.hashtags < fewest:
        value -= 3
        reasons.append(f"Adding {fewest}-{most} hashtags can help people find it on {name}.")
    elif features.hashtags:
        value += 6
        reasons.append(f"{features.hashtags} hashtag(s): a number that suits {name}.")

    if features.has_question:
        value += 8
        reasons.append("It asks a question, which invites replies.")
    else:
        reasons.append("It asks no question: one often invites replies.")
    if features.has_cta:
        value += 6
        reasons.append("It tells readers what to do next (a call to action).")

    if 1 <= features.emojis <= 3:
        value += 4
        reasons.append("A few emojis help it stand out in the feed.")
    elif features.emojis > 5:
        value -= 4
        reasons.append(f"{features.emojis} emojis can make it harder to read.")

    if features.has_link:
        if platform in LINK_PENALTY:
            value -= 4
            reasons.append(f"{name} tends to show posts with outside links to fewer people.")
        elif platform == "instagram":
            value -= 3
            reasons.append("Links in Instagram captions are not clickable.")
        else:
            value += 2
            reasons.append("A link gives interested readers somewhere to go.")

    start, end, tz = _active_hours(workspace)
    window = f"{start:%H:%M}-{end:%H:%M}"
    if scheduled_at is None:
        reasons.append(f"No time chosen yet: your active hours ({window}, {tz}) are a good slot.")
    else:
        local = _local(scheduled_at, tz)
        inside = start <= local.time() <= end if start <= end else (local.time() >= start or local.time() <= end)
        if inside:
            value += 6
            reasons.append(f"It goes out at {local:%H:%M} ({tz}), inside your active hours ({window}).")
        else:
            value -= 8
            reasons.append(f"It goes out at {local:%H:%M} ({tz}), outside your active hours ({window}).")
    return Score(value=_clamp(value), reasons=reasons, basis="rules")


def score_post(*, workspace: Workspace, text: str, platform: str, scheduled_at: datetime | None = None) -> Score:
    """Estimate how well `text` may do on `platform` (1-100) and say why; never a promise."""
    hour = None
    if scheduled_at is not None:
        hour = _local(scheduled_at, _active_hours(workspace)[2]).hour
    features = features_of(text, hour=hour)
    samples = history_for(workspace, platform)
    if len(samples) >= MIN_HISTORY:
        return score_from_history(features, samples, platform)
    return score_from_rules(features, platform, workspace=workspace, scheduled_at=scheduled_at)

"""The performance score: general rules until there is history, reasons in plain sentences, never a promise."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from content import scoring
from content.scoring import (
    MIN_HISTORY,
    RULES_BASIS_NOTE,
    HistorySample,
    features_of,
    score_from_history,
    score_post,
)
from publishing.models import AutomationSettings
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db

GOOD_X = "Three habits that made our small team ship faster this year. Which one would you try first? #productivity"
PROMISES = ("guarantee", "will get", "will reach", "promise")


def test_without_history_the_rules_apply_and_say_so():
    workspace = WorkspaceFactory()

    score = score_post(workspace=workspace, text=GOOD_X, platform="x")

    assert score.basis == "rules"
    assert score.reasons[0] == RULES_BASIS_NOTE
    assert 1 <= score.value <= 100
    assert any("asks a question" in reason for reason in score.reasons)
    assert all(not any(word in reason.lower() for word in PROMISES) for reason in score.reasons)


def test_a_post_fitting_the_rules_scores_higher_than_one_breaking_them():
    workspace = WorkspaceFactory()
    bad = "ok " * 100 + " ".join(f"#tag{n}" for n in range(8)) + " https://example.com/page"

    good_score = score_post(workspace=workspace, text=GOOD_X, platform="x")
    bad_score = score_post(workspace=workspace, text=bad, platform="x")

    assert good_score.value > bad_score.value
    assert any("8 hashtags is more than the 2" in reason for reason in bad_score.reasons)
    assert any("outside links" in reason for reason in bad_score.reasons)
    assert any(reason.startswith("Long for X") for reason in bad_score.reasons)


def test_length_is_judged_per_platform():
    workspace = WorkspaceFactory()
    long_text = "We rebuilt our onboarding from scratch. " * 12  # 480 characters

    on_x = score_post(workspace=workspace, text=long_text, platform="x")
    on_linkedin = score_post(workspace=workspace, text=long_text, platform="linkedin")

    assert any(reason.startswith("Long for X") for reason in on_x.reasons)
    assert any("tends to do well on LinkedIn" in reason for reason in on_linkedin.reasons)
    assert on_linkedin.value > on_x.value


def test_the_time_slot_is_compared_with_the_workspaces_active_hours():
    workspace = WorkspaceFactory(timezone="Europe/Paris")
    AutomationSettings.objects.create(
        workspace=workspace, timezone="Europe/Paris", active_from=time(9, 0), active_until=time(18, 0)
    )
    inside = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)  # 10:00 in Paris
    outside = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)  # 03:00 in Paris

    at_ten = score_post(workspace=workspace, text=GOOD_X, platform="x", scheduled_at=inside)
    at_three = score_post(workspace=workspace, text=GOOD_X, platform="x", scheduled_at=outside)
    unscheduled = score_post(workspace=workspace, text=GOOD_X, platform="x")

    assert "It goes out at 10:00 (Europe/Paris), inside your active hours (09:00-18:00)." in at_ten.reasons
    assert "It goes out at 03:00 (Europe/Paris), outside your active hours (09:00-18:00)." in at_three.reasons
    assert at_ten.value > unscheduled.value > at_three.value


def test_scores_stay_between_1_and_100():
    workspace = WorkspaceFactory()
    worst = " ".join(f"#t{n}" for n in range(40)) + " " + "🔥" * 30 + " https://a.example"

    score = score_post(workspace=workspace, text=worst * 10, platform="instagram")

    assert 1 <= score.value <= 100


def _samples(count: int) -> list[HistorySample]:
    # Short questions at 10:00 did best; long link posts at 22:00 did worst.
    best = [
        HistorySample(
            text=f"Quick tip {n}: what do you automate first? #ops", platform="x", engagement=100 + n, hour=10
        )
        for n in range(count // 2)
    ]
    worst = [
        HistorySample(
            text="Read our long announcement here " * 6 + "https://x.example", platform="x", engagement=n, hour=22
        )
        for n in range(count - count // 2)
    ]
    return best + worst


def test_with_enough_history_the_post_is_compared_with_the_workspaces_best(monkeypatch):
    workspace = WorkspaceFactory()
    monkeypatch.setattr(scoring, "history_for", lambda ws, platform: _samples(MIN_HISTORY + 4))
    like_best = "Quick tip: what do you check before every release? #ops"
    like_worst = "Read our long announcement here " * 6 + "https://x.example"

    similar = score_post(
        workspace=workspace, text=like_best, platform="x", scheduled_at=datetime(2026, 6, 1, 10, tzinfo=UTC)
    )
    different = score_post(
        workspace=workspace, text=like_worst, platform="x", scheduled_at=datetime(2026, 6, 1, 22, tzinfo=UTC)
    )

    assert similar.basis == different.basis == "history"
    assert similar.reasons[0] == f"Compared with your {MIN_HISTORY + 4} published X posts that have engagement data."
    assert similar.value > different.value
    assert "Most of your best posts ask a question; this one does not." in different.reasons
    assert "Few of your best posts carry a link; this one does." in different.reasons


def test_too_little_history_still_uses_the_rules(monkeypatch):
    workspace = WorkspaceFactory()
    monkeypatch.setattr(scoring, "history_for", lambda ws, platform: _samples(MIN_HISTORY - 1))

    score = score_post(workspace=workspace, text=GOOD_X, platform="x")

    assert score.basis == "rules"


def test_history_scoring_directly():
    features = features_of("Quick tip: what do you check first? #ops", hour=10)

    score = score_from_history(features, _samples(30), "x")

    assert score.basis == "history"
    assert any("close to your best posts" in reason for reason in score.reasons)
    assert any("an hour when your best posts went out" in reason for reason in score.reasons)

"""Token metering per workspace per month, and the plan's monthly allowance."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import pytest
from django.core.exceptions import ValidationError

from billing.models import Subscription
from billing.plans import PLANS
from content.ai import usage as ai_usage
from content.ai.usage import check_budget, month_start, next_month, record_usage, usage_this_month
from content.models import TokenUsage
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db


def test_record_usage_adds_up_per_workspace_and_month():
    workspace, other = WorkspaceFactory(), WorkspaceFactory()

    record_usage(workspace=workspace, prompt_tokens=100, completion_tokens=20)
    record_usage(workspace=workspace, prompt_tokens=50, completion_tokens=5)
    record_usage(workspace=other, prompt_tokens=7, completion_tokens=3)

    row = TokenUsage.objects.get(workspace=workspace)
    assert (row.prompt_tokens, row.completion_tokens, row.calls, row.total_tokens) == (150, 25, 2, 175)
    assert row.month == month_start()
    assert TokenUsage.objects.get(workspace=other).total_tokens == 10


def test_a_new_month_starts_a_new_row(monkeypatch):
    workspace = WorkspaceFactory()
    monkeypatch.setattr(ai_usage, "month_start", lambda now=None: date(2026, 1, 1))
    record_usage(workspace=workspace, prompt_tokens=10, completion_tokens=10)
    monkeypatch.setattr(ai_usage, "month_start", lambda now=None: date(2026, 2, 1))
    record_usage(workspace=workspace, prompt_tokens=1, completion_tokens=1)

    rows = dict(TokenUsage.objects.filter(workspace=workspace).values_list("month", "prompt_tokens"))

    assert rows == {date(2026, 1, 1): 10, date(2026, 2, 1): 1}
    assert usage_this_month(workspace).total_tokens == 2


def test_negative_counts_are_not_subtracted():
    workspace = WorkspaceFactory()

    record_usage(workspace=workspace, prompt_tokens=-5, completion_tokens=3)

    row = TokenUsage.objects.get(workspace=workspace)
    assert (row.prompt_tokens, row.completion_tokens) == (0, 3)


def test_usage_this_month_reports_the_plan_allowance():
    workspace = WorkspaceFactory()
    Subscription.objects.create(workspace=workspace, plan="pro")
    record_usage(workspace=workspace, prompt_tokens=250_000, completion_tokens=0)

    usage = usage_this_month(workspace)

    assert usage.limit == 1_000_000
    assert usage.plan_name == "Pro"
    assert usage.remaining == 750_000
    assert usage.percent == 25
    assert usage.resets_on == next_month(usage.month)
    assert usage.is_exhausted is False


def test_the_budget_is_checked_against_the_plan_with_a_clear_message(monkeypatch):
    workspace = WorkspaceFactory()  # no subscription: the Free plan, 50,000 tokens
    monkeypatch.setattr(ai_usage, "month_start", lambda now=None: date(2026, 12, 1))
    record_usage(workspace=workspace, prompt_tokens=49_999, completion_tokens=0)
    check_budget(workspace)  # one token left: still allowed
    record_usage(workspace=workspace, prompt_tokens=1, completion_tokens=0)

    with pytest.raises(ValidationError) as caught:
        check_budget(workspace)

    assert caught.value.code == "ai_budget"
    assert caught.value.messages == [
        "This workspace has used all 50,000 AI tokens that the Free plan includes for December 2026. "
        "They reset on January 1, 2027; upgrade the plan for more, or write this post by hand meanwhile."
    ]


def test_an_unlimited_plan_never_runs_out(monkeypatch):
    workspace = WorkspaceFactory()
    Subscription.objects.create(workspace=workspace, plan="agency")
    monkeypatch.setitem(PLANS, "agency", dataclasses.replace(PLANS["agency"], ai_tokens_per_month=None))
    record_usage(workspace=workspace, prompt_tokens=10**9, completion_tokens=0)

    check_budget(workspace)

    assert usage_this_month(workspace).remaining is None


def test_month_start_is_utc():
    # 00:30 on 1 March in Paris is still February in UTC.
    paris_midnight = datetime(2026, 2, 28, 23, 30, tzinfo=UTC)

    assert month_start(paris_midnight) == date(2026, 2, 1)
    assert next_month(date(2026, 12, 1)) == date(2027, 1, 1)

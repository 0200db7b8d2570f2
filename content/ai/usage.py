"""LLM token metering per workspace per calendar month (UTC), and the plan's monthly allowance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F

from accounts.models import Workspace
from billing.limits import plan_for
from content.models import TokenUsage


@dataclass(frozen=True)
class MonthlyUsage:
    """What a workspace used this month against its plan's allowance (`limit` None: unlimited)."""

    month: date
    prompt_tokens: int
    completion_tokens: int
    calls: int
    limit: int | None
    plan_name: str
    resets_on: date

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.total_tokens)

    @property
    def percent(self) -> int | None:
        if self.limit is None:
            return None
        if self.limit == 0:
            return 100
        return min(100, round(100 * self.total_tokens / self.limit))

    @property
    def is_exhausted(self) -> bool:
        return self.limit is not None and self.total_tokens >= self.limit


def month_start(now: datetime | None = None) -> date:
    """The first day of the current month, in UTC (months are metered in UTC)."""
    now = now or datetime.now(tz=UTC)
    return now.astimezone(UTC).date().replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + 1, 1, 1) if month.month == 12 else date(month.year, month.month + 1, 1)


@transaction.atomic
def record_usage(*, workspace: Workspace, prompt_tokens: int, completion_tokens: int) -> None:
    """Add one call's tokens to the workspace's row for this month.

    Race-safe: two workers metering at once both land. get_or_create survives a
    concurrent insert of the month's row (the unique constraint, then a re-read),
    and the increments are F() expressions, so no read-modify-write is lost.
    """
    month = month_start()
    row, _created = TokenUsage.objects.get_or_create(workspace=workspace, month=month)
    TokenUsage.objects.filter(pk=row.pk).update(
        prompt_tokens=F("prompt_tokens") + max(0, int(prompt_tokens)),
        completion_tokens=F("completion_tokens") + max(0, int(completion_tokens)),
        calls=F("calls") + 1,
    )


def usage_this_month(workspace: Workspace) -> MonthlyUsage:
    """The workspace's tokens and calls this month, with its plan's allowance and when it resets."""
    month = month_start()
    row = TokenUsage.objects.for_workspace(workspace).filter(month=month).first()
    plan = plan_for(workspace)
    return MonthlyUsage(
        month=month,
        prompt_tokens=row.prompt_tokens if row else 0,
        completion_tokens=row.completion_tokens if row else 0,
        calls=row.calls if row else 0,
        limit=plan.ai_tokens_per_month,
        plan_name=plan.name,
        resets_on=next_month(month),
    )


def check_budget(workspace: Workspace) -> None:
    """Raise ValidationError (code "ai_budget") when the month's AI tokens are used up; say when they come back."""
    usage = usage_this_month(workspace)
    if usage.is_exhausted:
        raise ValidationError(
            f"This workspace has used all {usage.limit:,} AI tokens that the {usage.plan_name} plan includes for "
            f"{usage.month:%B %Y}. They reset on {usage.resets_on:%B} {usage.resets_on.day}, {usage.resets_on:%Y}; "
            "upgrade the plan for more, or write this post by hand meanwhile.",
            code="ai_budget",
        )

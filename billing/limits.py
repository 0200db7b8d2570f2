"""'May this workspace do X, given it already has N?' The one function other apps ask."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from accounts.models import Workspace
from billing.plans import DEFAULT_PLAN, PLANS, Plan


class Limited(StrEnum):
    CONNECT_PLATFORM = "connect_platform"  # current = connected accounts
    POST_TODAY = "post_today"  # current = posts published or scheduled today
    ADD_DOMAIN = "add_domain"  # current = domains selected
    ADD_MEMBER = "add_member"  # current = members + pending invitations


@dataclass(frozen=True)
class LimitCheck:
    allowed: bool
    limit: int | None
    message: str = ""


def plan_for(workspace: Workspace) -> Plan:
    """The workspace's plan (free when it has no subscription row yet)."""
    from billing.models import Subscription

    subscription = Subscription.objects.filter(workspace=workspace).only("plan").first()
    return PLANS.get(subscription.plan, DEFAULT_PLAN) if subscription else DEFAULT_PLAN


_LIMIT_FIELDS = {
    Limited.CONNECT_PLATFORM: ("max_platforms", "connected platforms"),
    Limited.POST_TODAY: ("max_posts_per_day", "posts per day"),
    Limited.ADD_DOMAIN: ("max_domains", "content domains"),
    Limited.ADD_MEMBER: ("max_members", "members"),
}


def check(workspace: Workspace, action: Limited, *, current: int, plan: Plan | None = None) -> LimitCheck:
    """Whether one more `action` fits the plan, given `current` already in use."""
    plan = plan or plan_for(workspace)
    attribute, noun = _LIMIT_FIELDS[action]
    limit = getattr(plan, attribute)
    if limit is None or current < limit:
        return LimitCheck(allowed=True, limit=limit)
    return LimitCheck(
        allowed=False,
        limit=limit,
        message=f"The {plan.name} plan allows {limit} {noun}; upgrade to add more.",
    )

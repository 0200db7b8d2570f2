"""Plans and limits: which plan a workspace is on, and what it may add."""

from __future__ import annotations

import pytest

from billing.limits import Limited, check, plan_for
from billing.models import Subscription
from billing.plans import AGENCY, FREE, PRO
from billing.services import ensure_subscription
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db


def test_a_workspace_without_a_subscription_is_on_the_free_plan():
    workspace = WorkspaceFactory()

    assert plan_for(workspace) is FREE


def test_ensure_subscription_creates_one_active_free_subscription_once():
    workspace = WorkspaceFactory()

    first = ensure_subscription(workspace=workspace)
    second = ensure_subscription(workspace=workspace)

    assert first.pk == second.pk
    assert Subscription.objects.filter(workspace=workspace).count() == 1
    assert (first.plan, first.status) == ("free", Subscription.Status.ACTIVE)
    assert plan_for(workspace) is FREE


def test_ensure_subscription_leaves_an_existing_paid_plan_alone():
    workspace = WorkspaceFactory()
    Subscription.objects.create(workspace=workspace, plan="pro")

    subscription = ensure_subscription(workspace=workspace)

    assert subscription.plan == "pro"
    assert plan_for(workspace) is PRO


@pytest.mark.parametrize(
    ("plan", "current", "allowed", "limit"),
    [
        ("free", 1, True, 2),
        ("free", 2, False, 2),
        ("pro", 9, True, 10),
        ("pro", 10, False, 10),
        ("agency", 1000, True, None),
    ],
)
def test_check_posts_per_day_against_the_plan(plan, current, allowed, limit):
    workspace = WorkspaceFactory()
    Subscription.objects.create(workspace=workspace, plan=plan)

    result = check(workspace, Limited.POST_TODAY, current=current)

    assert (result.allowed, result.limit) == (allowed, limit)


def test_check_explains_a_refusal_in_plain_words():
    workspace = WorkspaceFactory()

    result = check(workspace, Limited.ADD_DOMAIN, current=2)

    assert result.message == "The Free plan allows 2 content domains; upgrade to add more."


def test_an_explicit_plan_overrides_the_workspace_subscription():
    workspace = WorkspaceFactory()

    result = check(workspace, Limited.CONNECT_PLATFORM, current=50, plan=AGENCY)

    assert result.allowed is True

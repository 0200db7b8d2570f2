"""Plans, limits, Stripe subscriptions. Imports accounts only (workspaces)."""

from __future__ import annotations

from django.db import models

from accounts.models import Workspace
from accounts.scoping import WorkspaceScopedModel
from billing.plans import DEFAULT_PLAN, PLANS


class Subscription(WorkspaceScopedModel):
    """A workspace's plan. Free until a Stripe Checkout upgrades it."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        TRIALING = "trialing", "Trialing"
        PAST_DUE = "past_due", "Past due"
        CANCELED = "canceled", "Canceled"

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="subscription")
    plan = models.CharField(max_length=16, choices=[(k, p.name) for k, p in PLANS.items()], default=DEFAULT_PLAN.key)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.workspace}: {self.plan} ({self.status})"

"""Delivery: connections, providers, targets, the state machine, scheduling."""

from __future__ import annotations

from datetime import time

from django.db import models

from accounts.models import Workspace
from accounts.scoping import WorkspaceScopedModel


def _default_posting_times() -> list[str]:
    return ["10:00", "15:00"]


class AutomationSettings(WorkspaceScopedModel):
    """How a workspace posts on its own: hours, frequency, times, content mix, review.

    Set during onboarding; the queue slots of the scheduler read it.
    """

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="automation")
    is_enabled = models.BooleanField(default=False)
    timezone = models.CharField(max_length=64, default="UTC")
    active_from = models.TimeField(default=time(9, 0))
    active_until = models.TimeField(default=time(18, 0))
    posts_per_day = models.PositiveSmallIntegerField(default=2)
    # "HH:MM" local times, sorted, each inside the active hours.
    posting_times = models.JSONField(default=_default_posting_times)
    # {domain key: percent}; the percents add up to 100.
    content_mix = models.JSONField(default=dict, blank=True)
    review_before_posting = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "automation settings"
        constraints = [
            models.CheckConstraint(condition=models.Q(posts_per_day__gte=1), name="automation_posts_per_day_positive"),
        ]

    def __str__(self) -> str:
        return f"Automation of {self.workspace}"

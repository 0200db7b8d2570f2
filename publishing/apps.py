from __future__ import annotations

from django.apps import AppConfig


class PublishingConfig(AppConfig):
    """Delivery: connections, providers, targets, the state machine, scheduling."""

    name = "publishing"
    verbose_name = "Publishing"

from __future__ import annotations

from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    """Metrics snapshots, dashboards, weekly reports."""

    name = "analytics"
    verbose_name = "Analytics"

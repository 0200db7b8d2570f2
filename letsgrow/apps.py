from __future__ import annotations

from django.apps import AppConfig


class LetsGrowConfig(AppConfig):
    """Project-wide management commands; no models."""

    name = "letsgrow"
    verbose_name = "LetsGrow"

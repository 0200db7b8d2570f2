from __future__ import annotations

from django.apps import AppConfig


class BillingConfig(AppConfig):
    """Plans, limits, Stripe subscriptions."""

    name = "billing"
    verbose_name = "Billing"

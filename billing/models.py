"""Plans, limits, Stripe subscriptions."""

from __future__ import annotations

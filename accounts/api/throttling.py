"""Rate limits: per user for sessions, per key for API keys.

DRF's UserRateThrottle counts by `request.user.pk`. A key-authenticated
request's user (`ApiKeyUser`) has no pk, so every key would share one
counter: one busy integration would throttle all the others. This throttle
counts each key on its own, at the same "user" rate (API_RATE_LIMIT).
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from rest_framework.settings import api_settings
from rest_framework.throttling import UserRateThrottle

from accounts.models import ApiKey


class ApiKeyRateThrottle(UserRateThrottle):
    """UserRateThrottle, except that an API-key request is counted against its key."""

    def get_rate(self) -> str | None:
        # Read the rates when the throttle is made, not when DRF was imported
        # (SimpleRateThrottle.THROTTLE_RATES), so a settings change takes effect.
        try:
            return api_settings.DEFAULT_THROTTLE_RATES[self.scope]
        except KeyError as exc:
            raise ImproperlyConfigured(f"No throttle rate set for the {self.scope!r} scope.") from exc

    def get_cache_key(self, request, view) -> str | None:
        if isinstance(request.auth, ApiKey):
            return self.cache_format % {"scope": "api_key", "ident": request.auth.pk}
        return super().get_cache_key(request, view)

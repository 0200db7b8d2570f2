"""API key authentication (placeholder until the API keys module lands)."""

from __future__ import annotations

from rest_framework.authentication import BaseAuthentication


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        return None

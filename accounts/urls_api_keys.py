"""API key pages (names in the `accounts` namespace)."""

from __future__ import annotations

urlpatterns: list = []

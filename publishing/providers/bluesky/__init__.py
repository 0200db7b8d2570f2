"""Bluesky (AT Protocol): app-password sessions, posts as repository records, metrics from the AppView."""

from __future__ import annotations

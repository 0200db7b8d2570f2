"""Mastodon, on any instance: see provider.py."""

from __future__ import annotations

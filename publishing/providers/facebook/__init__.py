"""Facebook Pages: posts to Pages through the Graph API (PLATFORMS.md §3)."""

from __future__ import annotations

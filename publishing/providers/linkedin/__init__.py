"""LinkedIn: member posts through the versioned REST Posts API (PLATFORMS.md §2)."""

from __future__ import annotations

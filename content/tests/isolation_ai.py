"""Isolation builders for the AI pages (tests/test_isolation.py imports ID_BUILDERS).

The AI pages take no object id in their URLs (/w/<slug>/ai/ and /w/<slug>/ai/settings/):
a generated result travels in the form, and saving goes through publishing's scoped services.
"""

from __future__ import annotations

from collections.abc import Callable

from accounts.models import Workspace

ID_BUILDERS: dict[str, Callable[[Workspace], dict[str, object]]] = {}

"""Template context: the emergency stop that holds the current workspace (or every workspace), for the banner.

Add "publishing.context_processors.emergency_stop" to TEMPLATES' context processors.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject


@dataclass(frozen=True)
class StopBanner:
    reason: str  # as given; may be empty
    is_global: bool


def emergency_stop(request: HttpRequest) -> dict[str, object]:
    """`emergency_stop`: a StopBanner while a stop holds this page's workspace (or all of them), else None.

    Logged-in users only; pages outside a workspace show the global stop only.
    Lazy, and one query when the template asks.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    workspace = getattr(request, "workspace", None)

    def banner() -> StopBanner | None:
        from publishing.stop import active_stop

        stop = active_stop(workspace)
        if stop is None:
            return None
        return StopBanner(reason=stop.reason, is_global=stop.workspace_id is None)

    return {"emergency_stop": SimpleLazyObject(banner)}

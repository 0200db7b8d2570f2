"""Builders for tests/test_isolation.py: one content plan of a workspace, for the planner's URLs with an id."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from accounts.models import Workspace
from content.models import ContentPlan


def _plan_of(workspace: Workspace) -> dict[str, object]:
    plan = ContentPlan.objects.create(
        workspace=workspace,
        start_date=date(2030, 1, 1),
        days=1,
        posts_per_day=1,
        domain_mix={"tech": 100},
        total=1,
        status=ContentPlan.Status.FAILED,
        error="Nothing was made.",
    )
    return {"pk": plan.pk}


ID_BUILDERS: dict[str, Callable[[Workspace], dict[str, object]]] = {
    "planner:detail": _plan_of,
    "planner:progress": _plan_of,
    "planner:resume": _plan_of,
}

"""Feature toggles for risky automation: the one list of switches, all off until staff turn them on.

Switches are django-waffle `Switch` rows, changed by staff in Django admin
(every change is audited). Code asks `is_enabled(NAME)`; an unknown or missing
switch is off (WAFFLE_SWITCH_DEFAULT = False).
"""

from __future__ import annotations

from waffle import switch_is_active

# AI-generated posts may skip review in workspaces whose plan allows it and that staff allowed (AutomationSettings).
AI_AUTOPOST = "ai_autopost"
# The content planner may schedule what it generates straight into the queue (still subject to review rules).
PLANNER_AUTOSCHEDULE = "planner_autoschedule"

SWITCHES: dict[str, str] = {
    AI_AUTOPOST: "Let AI-generated posts skip review where the plan and staff allow it.",
    PLANNER_AUTOSCHEDULE: "Let content plans put generated posts straight into the publishing queue.",
}


def is_enabled(name: str) -> bool:
    """Whether the switch `name` is on (False for a switch that does not exist)."""
    return switch_is_active(name)

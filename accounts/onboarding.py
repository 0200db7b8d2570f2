"""Where a workspace is in the onboarding wizard: the furthest step reached, moving only forward."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import Workspace

Step = Workspace.OnboardingStep

# The wizard's order. DONE is not a page: reaching it means setup is complete.
STEP_ORDER: tuple[Step, ...] = (Step.WELCOME, Step.PLATFORMS, Step.DOMAINS, Step.AUTOMATION, Step.DONE)


def step_index(step: str) -> int:
    """The position of `step` in the wizard; ValueError for a name that is not a step."""
    try:
        return STEP_ORDER.index(Step(step))
    except ValueError:
        raise ValueError(f"{step!r} is not an onboarding step.") from None


def has_reached(workspace: Workspace, step: str) -> bool:
    """Whether the workspace's saved (furthest) step is `step` or beyond."""
    return step_index(workspace.onboarding_step) >= step_index(step)


@transaction.atomic
def advance_onboarding(*, workspace: Workspace, to: str) -> Workspace:
    """Save `to` as the workspace's onboarding step if it is further than the saved one.

    Never moves backwards: revisiting an earlier step keeps the furthest step reached.
    Reaching DONE stamps `onboarding_completed_at` (once). Returns the workspace,
    refreshed with the saved step.
    """
    target = step_index(to)
    # Lock the row so two tabs finishing steps at once cannot move the step backwards.
    locked = Workspace.objects.select_for_update().get(pk=workspace.pk)
    if target > step_index(locked.onboarding_step):
        locked.onboarding_step = STEP_ORDER[target]
        fields = ["onboarding_step"]
        if locked.onboarding_step == Step.DONE and locked.onboarding_completed_at is None:
            locked.onboarding_completed_at = timezone.now()
            fields.append("onboarding_completed_at")
        locked.save(update_fields=fields)
    workspace.onboarding_step = locked.onboarding_step
    workspace.onboarding_completed_at = locked.onboarding_completed_at
    return workspace

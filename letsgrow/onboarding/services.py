"""The wizard's writes: each step calls one of these, which call the owning apps' services."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import time

from django.db import transaction

from accounts.models import User, Workspace
from accounts.onboarding import Step, advance_onboarding
from accounts.services import create_workspace
from billing.services import ensure_subscription
from content.models import ContentDomain
from content.services import set_workspace_domains
from letsgrow.onboarding.steps import unfinished_workspace
from publishing.models import AutomationSettings
from publishing.services import ensure_automation_settings, save_automation_settings


@transaction.atomic
def start_onboarding(*, owner: User, name: str) -> Workspace:
    """Create `owner`'s workspace on the free plan with default automation, at the platforms step.

    If the owner already has a workspace whose setup is unfinished, return that
    one instead: a second visit or a double submit never makes a duplicate.
    """
    # Lock the user's row so two submits at once cannot both create a workspace.
    User.objects.select_for_update().filter(pk=owner.pk).first()
    existing = unfinished_workspace(owner)
    if existing is not None:
        return existing
    workspace = create_workspace(owner=owner, name=name)
    ensure_subscription(workspace=workspace)
    ensure_automation_settings(workspace=workspace)
    return advance_onboarding(workspace=workspace, to=Step.PLATFORMS)


@transaction.atomic
def confirm_plan(*, workspace: Workspace) -> Workspace:
    """Confirm the workspace's (free) plan and move on to connecting platforms."""
    ensure_subscription(workspace=workspace)
    return advance_onboarding(workspace=workspace, to=Step.PLATFORMS)


@transaction.atomic
def finish_platforms_step(*, workspace: Workspace) -> Workspace:
    """Move on from connecting platforms (connected or skipped for now) to content domains."""
    return advance_onboarding(workspace=workspace, to=Step.DOMAINS)


@transaction.atomic
def save_domains_step(
    *, workspace: Workspace, built_in_keys: Iterable[str], custom_names: Iterable[str]
) -> list[ContentDomain]:
    """Save the chosen content domains (plan rules apply) and move on to automation.

    Raises ValidationError from content.services.set_workspace_domains; nothing changes then.
    """
    domains = set_workspace_domains(workspace=workspace, built_in_keys=built_in_keys, custom_names=custom_names)
    advance_onboarding(workspace=workspace, to=Step.AUTOMATION)
    return domains


@transaction.atomic
def complete_onboarding(
    *,
    workspace: Workspace,
    timezone: str,
    active_from: time,
    active_until: time,
    posts_per_day: int,
    posting_times: Sequence[str],
    content_mix: Mapping[str, int],
    review_before_posting: bool,
) -> AutomationSettings:
    """Save the automation settings and mark the workspace's setup as done.

    Raises ValidationError from publishing.services.save_automation_settings; nothing changes then.
    """
    settings = save_automation_settings(
        workspace=workspace,
        timezone=timezone,
        active_from=active_from,
        active_until=active_until,
        posts_per_day=posts_per_day,
        posting_times=posting_times,
        content_mix=content_mix,
        review_before_posting=review_before_posting,
    )
    advance_onboarding(workspace=workspace, to=Step.DONE)
    return settings

"""What the wizard shows: its steps, the plan table, the platforms, the domain cards. Reads only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse

from accounts.models import Membership, User, Workspace
from accounts.onboarding import STEP_ORDER, Step, step_index
from billing.plans import PLANS, Plan
from content.domains import BUILT_IN_DOMAINS, DomainSpec

# The pages of the wizard, in order (DONE is the dashboard, not a page).
PAGES: tuple[Step, ...] = STEP_ORDER[:-1]
PAGE_LABELS: dict[str, str] = {
    Step.WELCOME: "Welcome & plan",
    Step.PLATFORMS: "Connect platforms",
    Step.DOMAINS: "Content domains",
    Step.AUTOMATION: "Automation",
}


@dataclass(frozen=True)
class Platform:
    slug: str
    name: str
    icon: str  # bootstrap-icons name


PLATFORMS: tuple[Platform, ...] = (
    Platform("x", "X (Twitter)", "twitter-x"),
    Platform("linkedin", "LinkedIn", "linkedin"),
    Platform("facebook", "Facebook Pages", "facebook"),
    Platform("instagram", "Instagram", "instagram"),
    Platform("threads", "Threads", "threads"),
    Platform("mastodon", "Mastodon", "mastodon"),
    Platform("bluesky", "Bluesky", "bluesky"),
    Platform("pinterest", "Pinterest", "pinterest"),
    Platform("youtube", "YouTube", "youtube"),
    Platform("tiktok", "TikTok", "tiktok"),
    Platform("reddit", "Reddit", "reddit"),
)


@dataclass(frozen=True)
class StepLink:
    number: int
    step: str
    label: str
    url: str | None  # None: not reached yet, or not open to this member
    state: str  # "done", "current" or "todo"


def step_url(workspace: Workspace, step: str) -> str:
    """The page of `step`, or the dashboard for DONE."""
    if step == Step.DONE:
        return reverse("analytics:dashboard", kwargs={"workspace_slug": workspace.slug})
    return reverse("onboarding:step", kwargs={"workspace_slug": workspace.slug, "step": step})


def next_step(step: str) -> Step:
    return STEP_ORDER[step_index(step) + 1]


def step_links(workspace: Workspace, *, current: str, can_manage: bool) -> list[StepLink]:
    """The progress indicator: every page, linked when it has been reached (and the member may open it)."""
    furthest = step_index(workspace.onboarding_step)
    links = []
    for number, step in enumerate(PAGES, start=1):
        index = step_index(step)
        is_open = index <= furthest and (can_manage or step == Step.WELCOME)
        if step == current:
            state = "current"
        elif index < furthest:
            state = "done"
        else:
            state = "todo"
        links.append(
            StepLink(
                number=number,
                step=step,
                label=PAGE_LABELS[step],
                url=step_url(workspace, step) if is_open and step != current else None,
                state=state,
            )
        )
    return links


def first_step_links() -> list[StepLink]:
    """The progress indicator before a workspace exists: on the first page, nothing reached."""
    return [
        StepLink(
            number=number,
            step=step,
            label=PAGE_LABELS[step],
            url=None,
            state="current" if step == Step.WELCOME else "todo",
        )
        for number, step in enumerate(PAGES, start=1)
    ]


def unfinished_workspace(user: User) -> Workspace | None:
    """The newest workspace the user owns whose onboarding is not finished, if any."""
    membership = (
        Membership.objects.filter(user=user, role=Membership.Role.OWNER)
        .exclude(workspace__onboarding_step=Step.DONE)
        .select_related("workspace")
        .order_by("-workspace__created_at", "-workspace_id")
        .first()
    )
    return membership.workspace if membership else None


def default_workspace_name(user: User) -> str:
    first = user.name.split(" ")[0] if user.name.strip() else user.email.split("@")[0]
    return f"{first}'s workspace"[:120]


def connections_url(workspace: Workspace) -> str | None:
    """The publishing connections page, once that issue has built it."""
    try:
        return reverse("publishing:connections", kwargs={"workspace_slug": workspace.slug})
    except NoReverseMatch:
        return None


def _unlocking_plan(allows) -> Plan | None:
    """The cheapest plan for which `allows(plan)` holds."""
    return next((plan for plan in PLANS.values() if allows(plan)), None)


@dataclass(frozen=True)
class PlatformCard:
    platform: Platform
    is_allowed: bool
    upgrade_to: str  # plan name that unlocks it, when not allowed


def platform_cards(plan: Plan) -> list[PlatformCard]:
    cards = []
    for platform in PLATFORMS:
        allowed = platform.slug not in plan.platform_gates
        unlock = None if allowed else _unlocking_plan(lambda p, slug=platform.slug: slug not in p.platform_gates)
        cards.append(PlatformCard(platform=platform, is_allowed=allowed, upgrade_to=unlock.name if unlock else ""))
    return cards


@dataclass(frozen=True)
class DomainCard:
    spec: DomainSpec
    is_allowed: bool
    is_checked: bool
    upgrade_to: str


def _domain_allowed(plan: Plan, key: str) -> bool:
    return plan.allowed_domains is None or key in plan.allowed_domains


def domain_cards(plan: Plan, checked: Sequence[str]) -> list[DomainCard]:
    cards = []
    for key, spec in BUILT_IN_DOMAINS.items():
        allowed = _domain_allowed(plan, key)
        unlock = None if allowed else _unlocking_plan(lambda p, key=key: _domain_allowed(p, key))
        cards.append(
            DomainCard(
                spec=spec, is_allowed=allowed, is_checked=key in checked, upgrade_to=unlock.name if unlock else ""
            )
        )
    return cards


def even_mix(keys: Sequence[str]) -> dict[str, int]:
    """Split 100% evenly across `keys`; the remainder goes to the first."""
    if not keys:
        return {}
    share, remainder = divmod(100, len(keys))
    mix = dict.fromkeys(keys, share)
    mix[keys[0]] += remainder
    return mix


def _limit(value: int | None) -> str:
    return "Unlimited" if value is None else str(value)


def _yes_no(value: bool) -> str:
    return "Yes" if value else "No"


@dataclass(frozen=True)
class PlanRow:
    label: str
    values: tuple[str, ...]


def plan_table() -> tuple[list[Plan], list[PlanRow]]:
    """The plans side by side, one row per limit, as the welcome page shows them."""
    plans = list(PLANS.values())

    def row(label: str, value) -> PlanRow:
        return PlanRow(label=label, values=tuple(value(plan) for plan in plans))

    def domains(plan: Plan) -> str:
        if plan.allowed_domains is None:
            names = "all"
        else:
            names = ", ".join(BUILT_IN_DOMAINS[key].name for key in BUILT_IN_DOMAINS if key in plan.allowed_domains)
        return f"{_limit(plan.max_domains)} ({names})"

    def platforms_not_included(plan: Plan) -> str:
        names = [p.name for p in PLATFORMS if p.slug in plan.platform_gates]
        return ", ".join(names) if names else "None"

    rows = [
        row("Price", lambda p: f"${p.price_per_month_usd}/month"),
        row("Connected platforms", lambda p: _limit(p.max_platforms)),
        row("Posts per day", lambda p: _limit(p.max_posts_per_day)),
        row("Content domains", domains),
        row("Custom domains", lambda p: _yes_no(p.custom_domains)),
        row("Platforms not included", platforms_not_included),
        row("AI with your documents as context", lambda p: _yes_no(p.document_context)),
        row("Advanced AI", lambda p: _yes_no(p.advanced_ai)),
        row("Team members", lambda p: _limit(p.max_members)),
        row("White label", lambda p: _yes_no(p.white_label)),
    ]
    return plans, rows

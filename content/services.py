"""Writes for content: one public function per use case."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from accounts.models import Workspace
from billing.limits import Limited, check, plan_for
from content.domains import BUILT_IN_DOMAINS
from content.models import ContentDomain

CUSTOM_NAME_MAX_LENGTH = 80


def _custom_domains(names: Iterable[str], errors: list[str]) -> dict[str, str]:
    """Clean custom domain names into {key: name}; same-key duplicates collapse to the first."""
    wanted: dict[str, str] = {}
    for raw in names:
        name = " ".join(raw.split())
        if not name:
            continue
        key = slugify(name)[:60]
        if len(name) > CUSTOM_NAME_MAX_LENGTH:
            errors.append(
                f"“{name[:30]}…” is too long for a domain name: use at most {CUSTOM_NAME_MAX_LENGTH} characters."
            )
        elif not key:
            errors.append(f"“{name}” cannot be a domain name: use at least one letter or digit.")
        elif key in BUILT_IN_DOMAINS:
            errors.append(f"“{name}” is already a built-in domain: tick {BUILT_IN_DOMAINS[key].name} instead.")
        else:
            wanted.setdefault(key, name)
    return wanted


@transaction.atomic
def set_workspace_domains(
    *, workspace: Workspace, built_in_keys: Iterable[str], custom_names: Iterable[str] = ()
) -> list[ContentDomain]:
    """Make the workspace's content domains exactly `built_in_keys` plus `custom_names`.

    The plan decides which built-in domains are allowed, how many domains in all,
    and whether custom ones are. Anything not allowed raises ValidationError with
    messages a person can act on, and nothing changes. Domains no longer chosen
    are removed; chosen ones that exist are kept as they are. Returns the
    workspace's domains, ordered by name.
    """
    plan = plan_for(workspace)
    errors: list[str] = []

    built_in = list(dict.fromkeys(key.strip() for key in built_in_keys if key.strip()))
    for key in built_in:
        if key not in BUILT_IN_DOMAINS:
            errors.append(f"“{key}” is not a content domain we offer.")
        elif plan.allowed_domains is not None and key not in plan.allowed_domains:
            offered = " and ".join(sorted(BUILT_IN_DOMAINS[k].name for k in plan.allowed_domains))
            errors.append(
                f"{BUILT_IN_DOMAINS[key].name} is not included in the {plan.name} plan, which offers {offered}. "
                "Upgrade to use it."
            )

    custom_names = list(custom_names)
    custom = _custom_domains(custom_names, errors)
    if custom and not plan.custom_domains:
        errors.append(f"Custom domains are not included in the {plan.name} plan. Upgrade to add your own.")

    total = len(built_in) + len(custom)
    if total == 0 and not errors:
        errors.append("Choose at least one content domain.")
    if total:
        # `check` answers "may one more be added, given N already?": the last one chosen is the "one more".
        limit = check(workspace, Limited.ADD_DOMAIN, current=total - 1, plan=plan)
        if not limit.allowed:
            errors.append(f"You chose {total} content domains. {limit.message}")
    if errors:
        raise ValidationError(errors)

    # Serialise concurrent saves of the same workspace's domains (unique (workspace, key)).
    Workspace.objects.select_for_update().filter(pk=workspace.pk).first()
    wanted_keys = set(built_in) | set(custom)
    ContentDomain.objects.for_workspace(workspace).exclude(key__in=wanted_keys).delete()
    existing = set(ContentDomain.objects.for_workspace(workspace).values_list("key", flat=True))
    for key in built_in:
        if key not in existing:
            spec = BUILT_IN_DOMAINS[key]
            ContentDomain.objects.create(
                workspace=workspace,
                key=key,
                name=spec.name,
                is_custom=False,
                description=spec.description,
                audience=spec.audience,
                tone=spec.tone,
                sample_posts=list(spec.sample_posts),
            )
    for key, name in custom.items():
        if key not in existing:
            ContentDomain.objects.create(workspace=workspace, key=key, name=name, is_custom=True)
    return list(ContentDomain.objects.for_workspace(workspace).order_by("name"))

"""Templates: reusable post text with variables like {product} and {link}, generic or for one platform.

- A variable is `{name}`: letters, digits and underscores. `{{` and `}}` write
  a literal brace. Anything else with braces is plain text.
- `render_template` fills the variables it is given and leaves the others as
  `{name}`, reporting them as missing: never a KeyError.
- Editors write templates; every member may read and use them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import Membership, Workspace
from accounts.permissions import Action, require
from content.models import ContentDomain, Template
from publishing.providers import DISPLAY_NAMES, REGISTRY

if TYPE_CHECKING:
    from accounts.models import User

NAME_MAX_LENGTH = 120
BODY_MAX_LENGTH = 5000
ANY_PLATFORM = "any"
# `{{`, `}}`, or a variable. Scanned left to right, so "{{name}}" is the literal "{name}", not a variable.
_TOKEN = re.compile(r"\{\{|\}\}|\{(\w+)\}")


def _require(actor: User | None, workspace: Workspace | int, action: Action) -> None:
    workspace_id = workspace.pk if isinstance(workspace, Workspace) else workspace
    role = None
    if actor is not None and getattr(actor, "pk", None) and actor.is_active:
        role = Membership.objects.filter(user=actor, workspace_id=workspace_id).values_list("role", flat=True).first()
    require(role, action)


def platform_choices() -> list[tuple[str, str]]:
    """("any", "Any platform") and each platform of the registry."""
    return [(ANY_PLATFORM, "Any platform"), *((slug, DISPLAY_NAMES.get(slug, slug)) for slug in REGISTRY)]


def variables_of(body: str) -> list[str]:
    """The variables `body` uses, in order of first use, each once."""
    names: list[str] = []
    for match in _TOKEN.finditer(body):
        name = match.group(1)
        if name and name not in names:
            names.append(name)
    return names


def render_template(template: Template | str, values: dict[str, object]) -> tuple[str, list[str]]:
    """Fill `template`'s variables from `values`; return (text, missing).

    A variable with no value, or a blank one, stays as `{name}` in the text and is listed in
    `missing` (in order of first use, once each). `{{` and `}}` become single braces.
    """
    body = template if isinstance(template, str) else template.body
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        token, name = match.group(0), match.group(1)
        if name is None:
            return token[0]
        value = values.get(name)
        text = "" if value is None else str(value).strip()
        if not text:
            if name not in missing:
                missing.append(name)
            return token
        return text

    return _TOKEN.sub(replace, body), missing


def _clean(
    *, workspace_id: int, name: str, body: str, platform: str, domain_key: str | None, exclude_pk: int | None
) -> tuple[str, str, str, ContentDomain | None]:
    errors: dict[str, list[str]] = {}
    name = " ".join((name or "").split())
    body = (body or "").strip()
    platform = (platform or "").strip()
    if not name:
        errors.setdefault("name", []).append("Give the template a name.")
    elif len(name) > NAME_MAX_LENGTH:
        errors.setdefault("name", []).append(f"Use at most {NAME_MAX_LENGTH} characters for the name.")
    elif Template.objects.filter(workspace_id=workspace_id, name__iexact=name).exclude(pk=exclude_pk).exists():
        errors.setdefault("name", []).append(f"There is already a template called “{name}”. Choose another name.")
    if not body:
        errors.setdefault("body", []).append("Write the template's text.")
    elif len(body) > BODY_MAX_LENGTH:
        errors.setdefault("body", []).append(f"Use at most {BODY_MAX_LENGTH} characters; this text has {len(body)}.")
    if platform == ANY_PLATFORM:
        platform = ""
    if platform and platform not in REGISTRY:
        errors.setdefault("platform", []).append("Choose “Any platform” or one of the platforms in the list.")
    domain = None
    key = (domain_key or "").strip()
    if key:
        domain = ContentDomain.objects.filter(workspace_id=workspace_id, key=key).first()
        if domain is None:
            errors.setdefault("domain", []).append("Choose one of this workspace's content domains.")
    if errors:
        raise ValidationError(errors)
    return name, body, platform, domain


@transaction.atomic
def create_template(
    *, workspace: Workspace, actor: User, name: str, body: str, platform: str = "", domain_key: str | None = None
) -> Template:
    """Save a new template of `workspace`.

    `platform` is "any" (or "") or a registry slug; `domain_key` one of the workspace's content
    domains. Names are unique per workspace, whatever their case. ValidationError per field otherwise.
    """
    _require(actor, workspace, Action.EDIT_CONTENT)
    name, body, platform, domain = _clean(
        workspace_id=workspace.pk, name=name, body=body, platform=platform, domain_key=domain_key, exclude_pk=None
    )
    return Template.objects.create(
        workspace=workspace, name=name, body=body, platform=platform, domain=domain, created_by=actor
    )


@transaction.atomic
def update_template(
    *, template: Template, actor: User, name: str, body: str, platform: str = "", domain_key: str | None = None
) -> Template:
    """Change a template's name, text, platform and domain (validated like `create_template`)."""
    _require(actor, template.workspace_id, Action.EDIT_CONTENT)
    name, body, platform, domain = _clean(
        workspace_id=template.workspace_id,
        name=name,
        body=body,
        platform=platform,
        domain_key=domain_key,
        exclude_pk=template.pk,
    )
    template.name, template.body, template.platform, template.domain = name, body, platform, domain
    template.save(update_fields=["name", "body", "platform", "domain", "updated_at"])
    return template


@transaction.atomic
def delete_template(*, template: Template, actor: User) -> None:
    """Delete a template. Posts made from it keep their text; they just no longer point to it."""
    _require(actor, template.workspace_id, Action.EDIT_CONTENT)
    template.delete()

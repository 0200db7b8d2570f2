"""Per-workspace API keys: create (shown once), revoke, authenticate.

A key reads `lg_<prefix>_<secret>`. The prefix is public (it is shown in lists
so people can tell keys apart, and it finds the row); the secret is 256 random
bits. Only the SHA-256 of the whole key is stored. A plain, unsalted hash is
enough here, unlike for passwords: the key is random and long, so there is
nothing to guess from a leaked hash.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import ApiKey, Membership, User, Workspace
from accounts.permissions import Action, require

KEY_START = "lg_"
_PREFIX_BYTES = 4  # 8 hex characters
_SECRET_BYTES = 32
_KEY_PATTERN = re.compile(r"^lg_(?P<prefix>[0-9a-f]{8})_(?P<secret>[A-Za-z0-9_-]{20,100})$")
# Writing last_used_at on every request would turn each API read into a write;
# once a minute is precise enough for "last used".
LAST_USED_PRECISION = timedelta(minutes=1)


def hash_api_key(raw: str) -> str:
    """The hex SHA-256 of a raw key: what is stored in `ApiKey.key_hash`."""
    return hashlib.sha256(raw.encode()).hexdigest()


def _actor_role(actor: User, workspace: Workspace) -> str | None:
    return Membership.objects.filter(user=actor, workspace=workspace).values_list("role", flat=True).first()


def _new_prefix() -> str:
    # 8 hex characters: 4 billion values, so a clash is rare, but the column is unique: try again.
    for _ in range(5):
        prefix = secrets.token_hex(_PREFIX_BYTES)
        if not ApiKey.objects.filter(prefix=prefix).exists():
            return prefix
    raise RuntimeError("Could not find a free API key prefix.")  # pragma: no cover


@transaction.atomic
def create_api_key(*, workspace: Workspace, created_by: User, name: str, role: str) -> tuple[ApiKey, str]:
    """Create a named key for `workspace`; return it with the raw key, which is never available again.

    `created_by` needs MANAGE_API_KEYS in the workspace (PermissionDenied otherwise).
    A blank or too long name, or an unknown role, raises ValidationError keyed by field.
    """
    require(_actor_role(created_by, workspace), Action.MANAGE_API_KEYS)
    name = (name or "").strip()
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = ["Give the key a name, so you can tell it apart later."]
    elif len(name) > ApiKey._meta.get_field("name").max_length:
        errors["name"] = [f"Keep the name to {ApiKey._meta.get_field('name').max_length} characters."]
    if role not in ApiKey.Role.values:
        errors["role"] = [f"Choose one of: {', '.join(ApiKey.Role.values)}."]
    if errors:
        raise ValidationError(errors)

    prefix = _new_prefix()
    raw = f"{KEY_START}{prefix}_{secrets.token_urlsafe(_SECRET_BYTES)}"
    api_key = ApiKey.objects.create(
        workspace=workspace, name=name, role=role, prefix=prefix, key_hash=hash_api_key(raw), created_by=created_by
    )
    return api_key, raw


@transaction.atomic
def revoke_api_key(*, api_key: ApiKey, actor: User) -> ApiKey:
    """Revoke `api_key` for good; revoking a revoked key changes nothing.

    `actor` needs MANAGE_API_KEYS in the key's workspace (PermissionDenied otherwise).
    """
    require(_actor_role(actor, api_key.workspace), Action.MANAGE_API_KEYS)
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


def find_api_key(raw: str) -> ApiKey | None:
    """The key whose raw value is `raw`, revoked or not; None when it matches no key.

    The prefix finds the row; the hashes are compared in constant time.
    """
    match = _KEY_PATTERN.match(raw or "")
    if match is None:
        return None
    api_key = ApiKey.objects.select_related("workspace", "created_by").filter(prefix=match["prefix"]).first()
    if api_key is None or not hmac.compare_digest(api_key.key_hash, hash_api_key(raw)):
        return None
    return api_key


def authenticate_api_key(raw: str) -> ApiKey | None:
    """The active key whose raw value is `raw`, or None; records when it was last used.

    last_used_at is written at most once per LAST_USED_PRECISION, not on every request.
    """
    api_key = find_api_key(raw)
    if api_key is None or not api_key.is_active:
        return None
    record_api_key_use(api_key)
    return api_key


def record_api_key_use(api_key: ApiKey) -> None:
    """Set last_used_at to now, unless it was set less than LAST_USED_PRECISION ago."""
    now = timezone.now()
    if api_key.last_used_at is not None and now - api_key.last_used_at < LAST_USED_PRECISION:
        return
    # Conditional, so concurrent requests write once between them.
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_PRECISION)
    ApiKey.objects.filter(stale, pk=api_key.pk).update(last_used_at=now)
    api_key.last_used_at = now

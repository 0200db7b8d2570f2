"""Writes of the AI feature: save a generated post, change a workspace's AI settings, test a connection."""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import Membership, User, Workspace
from accounts.permissions import Action, require
from content.ai.base import compose
from content.ai.client import AIUnavailable, Endpoint, make_endpoint, ping
from content.models import AISettings, ContentDomain, Post
from content.scoring import score_post
from letsgrow.lib.safe_fetch import is_public_address
from publishing import scheduling
from publishing.models import SocialAccount

# What of a generation record is kept on the post (Post.generation); anything else posted back is dropped.
RECORD_KEYS = frozenset(
    {
        "prompt",
        "system_prompt",
        "model",
        "source",
        "domain",
        "documents",
        "template",
        "temperature",
        "controls",
        "usage",
        "reasked_for",
        "proofread",
        "failures",
        "created_at",
    }
)
MAX_RECORD_BYTES = 20_000


def _role(user: User, workspace: Workspace) -> str | None:
    return Membership.objects.filter(user=user, workspace=workspace).values_list("role", flat=True).first()


def clean_generation_record(raw: str | Mapping[str, Any], *, source: str) -> dict[str, Any]:
    """The generation record posted back by the page, checked: a JSON object of known keys, of bounded size."""
    if isinstance(raw, str):
        if len(raw.encode()) > MAX_RECORD_BYTES:
            raise ValidationError("The generated post's details are too large; generate it again.", code="generation")
        try:
            raw = json.loads(raw or "{}")
        except ValueError as exc:
            raise ValidationError(
                "The generated post's details could not be read; generate it again.", code="generation"
            ) from exc
    if not isinstance(raw, Mapping):
        raise ValidationError("The generated post's details could not be read; generate it again.", code="generation")
    record = {key: value for key, value in raw.items() if key in RECORD_KEYS}
    record["source"] = source  # the page says which; the record must agree with the post
    return record


@transaction.atomic
def save_generated_post(
    *,
    workspace: Workspace,
    author: User,
    content: str,
    hashtags: Sequence[str],
    variants: Mapping[str, str],
    account_ids: Sequence[int | str],
    domain_key: str,
    generation: str | Mapping[str, Any],
    source: str,
    submit: bool = False,
) -> Post:
    """Create the post from a generated result: a draft going to `account_ids`, each with its platform's variant.

    Everything the page sent back is checked again: the accounts belong to the
    workspace (publishing.scheduling.create_post), each variant passes its
    platform's validate(), the score is recomputed here, the domain is looked up
    in the workspace. `submit` sends it to review. Raises ValidationError.
    """
    if source not in ("ai", "offline"):
        raise ValidationError("Generate the post again: its origin is missing.", code="generation")
    record = clean_generation_record(generation, source=source)
    text = compose(content, list(hashtags))
    if not text.strip():
        raise ValidationError("The post is empty: generate it again or write some text.", code="content")
    try:
        wanted = [int(pk) for pk in account_ids]
    except (TypeError, ValueError) as exc:
        raise ValidationError("Choose the accounts to post to from the list.", code="accounts") from exc
    platforms = dict(SocialAccount.objects.for_workspace(workspace).filter(pk__in=wanted).values_list("pk", "platform"))
    by_account = {pk: variants[platforms[pk]] for pk in wanted if pk in platforms and variants.get(platforms[pk])}
    post = scheduling.create_post(
        workspace=workspace,
        author=author,
        text=text,
        account_ids=wanted,
        # Offline results come from the workspace's templates and the domain's samples, not from a model.
        source=Post.Source.AI if source == "ai" else Post.Source.TEMPLATE,
        variants=by_account,
    )
    first = next(iter(wanted))
    platform = platforms[first]
    score = score_post(workspace=workspace, text=by_account.get(first) or text, platform=platform)
    domain = ContentDomain.objects.for_workspace(workspace).filter(key=domain_key).first()
    Post.objects.filter(pk=post.pk).update(
        generation=record, performance_score=score.value, score_reasons=score.reasons, domain=domain
    )
    post.refresh_from_db()
    if submit:
        scheduling.submit_for_review(post=post, actor=author)
    return post


# --------------------------------------------------------------------------- AI settings


def _resolve(host: str) -> list[str]:
    return sorted({info[4][0] for info in socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM)})


def private_urls_allowed() -> bool:
    """Whether workspaces may point at private addresses (a self-hosted Ollama): off unless the server allows it."""
    return bool(getattr(settings, "LLM_ALLOW_PRIVATE_BASE_URLS", settings.DEBUG))


def clean_base_url(value: str, *, what: str = "base URL") -> str:
    """An http(s) URL of an OpenAI-compatible API, e.g. https://api.openai.com/v1; ValidationError otherwise.

    Unless the server allows private addresses, it must lead to the public
    internet: a workspace must not make the server call into its own network.
    """
    value = (value or "").strip()
    if not value:
        return ""
    example = "for example https://api.openai.com/v1"
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise ValidationError(f"The {what} must start with https:// or http:// ({example}).", code="base_url")
    if not parts.hostname or " " in value or parts.username or parts.password:
        raise ValidationError(
            f"The {what} must be a web address without spaces or a login ({example}).", code="base_url"
        )
    try:
        parts.port  # noqa: B018 - reading it validates it
    except ValueError as exc:
        raise ValidationError(f"The {what} has an invalid port number.", code="base_url") from exc
    if parts.query or parts.fragment:
        raise ValidationError(f"The {what} takes no ?query or #fragment ({example}).", code="base_url")
    if not private_urls_allowed():
        try:
            addresses = _resolve(parts.hostname)
        except (OSError, UnicodeError) as exc:
            raise ValidationError(f"Could not find the server {parts.hostname}.", code="base_url") from exc
        if not addresses or not all(is_public_address(address) for address in addresses):
            raise ValidationError(
                f"{parts.hostname} is not a public server on the internet, so LetsGrow cannot call it.",
                code="base_url",
            )
    return value.rstrip("/")


@dataclass(frozen=True)
class AISettingsInput:
    """What the settings form sends. A key of None keeps the stored one; `clear_*` removes it."""

    base_url: str = ""
    model: str = ""
    api_key: str | None = None
    clear_api_key: bool = False
    fallback_base_url: str = ""
    fallback_model: str = ""
    fallback_api_key: str | None = None
    clear_fallback_api_key: bool = False
    brand_voice: str = ""


def _checked(data: AISettingsInput) -> AISettingsInput:
    errors: dict[str, list[str]] = {}

    def url(field: str, value: str, what: str) -> str:
        try:
            return clean_base_url(value, what=what)
        except ValidationError as exc:
            errors.setdefault(field, []).extend(exc.messages)
            return ""

    base_url = url("base_url", data.base_url, "base URL")
    fallback_base_url = url("fallback_base_url", data.fallback_base_url, "fallback base URL")
    model, fallback_model = data.model.strip(), data.fallback_model.strip()
    if base_url and not model:
        errors.setdefault("model", []).append("Name the model to use at this address, e.g. gpt-4o-mini or llama3.1.")
    if model and not data.base_url.strip():
        errors.setdefault("base_url", []).append("Give the base URL of the API that serves this model.")
    if fallback_model and not data.fallback_base_url.strip():
        errors.setdefault("fallback_base_url", []).append("Give the base URL of the fallback model's API.")
    if data.fallback_base_url.strip() and not data.base_url.strip():
        errors.setdefault("base_url", []).append("Set the main model before a fallback.")
    for field, value in (("model", model), ("fallback_model", fallback_model)):
        if len(value) > 120:
            errors.setdefault(field, []).append("A model name has at most 120 characters.")
    for field, key in (("api_key", data.api_key), ("fallback_api_key", data.fallback_api_key)):
        if key is not None and (len(key) > 500 or any(ch.isspace() for ch in key.strip())):
            errors.setdefault(field, []).append("Paste the API key alone: one word, at most 500 characters.")
    if len(data.brand_voice) > 2000:
        errors.setdefault("brand_voice", []).append("Keep the brand voice under 2,000 characters.")
    if errors:
        raise ValidationError(errors)
    return AISettingsInput(
        base_url=base_url,
        model=model,
        api_key=data.api_key.strip() if data.api_key else None,
        clear_api_key=data.clear_api_key,
        fallback_base_url=fallback_base_url,
        fallback_model=fallback_model,
        fallback_api_key=data.fallback_api_key.strip() if data.fallback_api_key else None,
        clear_fallback_api_key=data.clear_fallback_api_key,
        brand_voice=data.brand_voice.strip(),
    )


@transaction.atomic
def save_ai_settings(*, workspace: Workspace, actor: User, data: AISettingsInput) -> AISettings:
    """Set the workspace's own model, fallback, keys (stored encrypted) and brand voice. Owners and admins only."""
    require(_role(actor, workspace), Action.MANAGE_SETTINGS)
    data = _checked(data)
    row, _created = AISettings.objects.select_for_update().get_or_create(workspace=workspace)
    row.base_url, row.model = data.base_url, data.model
    row.fallback_base_url, row.fallback_model = data.fallback_base_url, data.fallback_model
    row.brand_voice = data.brand_voice
    if data.clear_api_key or not data.base_url:
        row.api_key = ""
    elif data.api_key:
        row.api_key = data.api_key
    if data.clear_fallback_api_key or not data.fallback_base_url:
        row.fallback_api_key = ""
    elif data.fallback_api_key:
        row.fallback_api_key = data.fallback_api_key
    row.save()
    return row


def check_ai_connection(*, workspace: Workspace, actor: User, data: AISettingsInput, fallback: bool = False) -> str:
    """Make one tiny call with the settings as typed (a blank key: the stored one); return what happened.

    Raises ValidationError for settings that cannot work, with the plain error
    of the call when it fails. Nothing is saved.
    """
    require(_role(actor, workspace), Action.MANAGE_SETTINGS)
    data = _checked(data)
    stored = AISettings.objects.for_workspace(workspace).first()
    endpoint: Endpoint
    if fallback:
        if not data.fallback_base_url:
            raise ValidationError("Fill in the fallback base URL and model to test them.", code="fallback_base_url")
        key = "" if data.clear_fallback_api_key else data.fallback_api_key
        if key is None:
            key = stored.fallback_api_key if stored else ""
        endpoint = make_endpoint(
            base_url=data.fallback_base_url, model=data.fallback_model or data.model, api_key=key or "", own=True
        )
    else:
        if not data.base_url:
            raise ValidationError("Fill in the base URL and model to test them.", code="base_url")
        key = "" if data.clear_api_key else data.api_key
        if key is None:
            key = stored.api_key if stored else ""
        endpoint = make_endpoint(base_url=data.base_url, model=data.model, api_key=key or "", own=True)
    try:
        return ping(workspace=workspace, endpoint=endpoint)
    except AIUnavailable as exc:
        raise ValidationError(f"The test call failed. {exc.message}", code="connection") from None

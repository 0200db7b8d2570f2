"""What each account is sent: a post's text, link and media as one provider `Variant`, and the composer's preview.

- `variant_for_target` is what the delivery engine sends: the target's own
  text (else the post's), the target's link, and its media (the target's own
  `PostMedia` rows when it has any, else the post's), in position order.
- `check_drafts` is what the services run before they save: every account's
  provider `validate()` (the one source of platform limits), blocking issues
  raised as one ValidationError.
- `preview_for` / `preview_drafts` are what the composer's live counter shows:
  the platform's own count, its limit, every issue, and where the text is cut.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import regex
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db.models import Q

from accounts.models import Workspace
from content.media import provider_media
from content.models import ContentDomain, MediaAsset, Post, PostMedia, Tag, Template
from publishing.connections import TokenUnavailable, provider_for_account
from publishing.models import PostTarget, SocialAccount
from publishing.providers import DISPLAY_NAMES
from publishing.providers.base import Media, Provider, ValidationResult, Variant

logger = logging.getLogger(__name__)

# The live counter refuses texts longer than this: no platform takes more, and each check costs CPU.
MAX_PREVIEW_CHARS = 20_000
MAX_MEDIA_PER_POST = 20
LINK_MESSAGE = "The link must be a full web address starting with https://."
# A template variable left in the text: {name}, letters, digits and underscores (content.services_templates).
_VARIABLE = re.compile(r"(?<!\{)\{(\w+)\}(?!\})")


# --------------------------------------------------------------------------- media


def media_for_asset(asset: MediaAsset, *, platform: str | None = None) -> Media:
    """The provider's view of a library file, with its signed URL (`content.media.provider_media`).

    With `platform`, the file fitted to it (a cropped or re-encoded rendition, made on first use).
    """
    return provider_media(asset, platform=platform) if platform else provider_media(asset)


def assets_of_target(target: PostTarget, rows: Iterable[PostMedia]) -> list[MediaAsset]:
    """The target's media among the post's `rows`: its own when it has any, else the post-level ones, in order."""
    rows = list(rows)
    own = [row for row in rows if row.target_id == target.pk]
    chosen = own or [row for row in rows if row.target_id is None]
    return [row.asset for row in sorted(chosen, key=lambda row: (row.position, row.pk))]


def variant_for_target(
    target: PostTarget, *, media: Iterable[PostMedia] | None = None, platform: str | None = None
) -> Variant:
    """What to send to the target's account: its text (else the post's), its link, its media in order.

    At most two queries: the post (none when loaded, e.g. `select_related("post")`) and its media rows
    with their assets (none when `media` is given or the post's `media` is prefetched, e.g.
    `Prefetch("post__media", queryset=PostMedia.objects.select_related("asset"))`). `media` may hold
    any of the post's rows; the ones of other targets are ignored. `platform` (the account's) sends each
    file fitted to it (content.media.fit_for_platform); that may look up or make renditions, so it costs
    queries of its own.
    """
    post = target.post
    if media is None:
        if "media" in getattr(post, "_prefetched_objects_cache", {}):
            media = post.media.all()
        else:
            media = (
                PostMedia.objects.filter(post_id=target.post_id)
                .filter(Q(target__isnull=True) | Q(target_id=target.pk))
                .select_related("asset")
            )
    assets = assets_of_target(target, media)
    return Variant(
        text=target.text or post.text,
        link=target.link,
        media=tuple(media_for_asset(asset, platform=platform) for asset in assets),
    )


# --------------------------------------------------------------------------- input cleaning (services and views)


def clean_link(link: str | None) -> str:
    """A trimmed link, "" when empty; ValidationError (code "link") unless it is an http(s) address."""
    link = (link or "").strip()
    if link:
        try:
            URLValidator(schemes=["http", "https"])(link)
        except ValidationError as exc:
            raise ValidationError(LINK_MESSAGE, code="link") from exc
    return link


def clean_ids(values: Iterable[Any], *, what: str, code: str) -> list[int]:
    """Ids as positive ints, duplicates dropped, order kept; ValidationError naming `what` otherwise."""
    ids: list[int] = []
    for value in values:
        if isinstance(value, bool):
            raise ValidationError(f"Choose the {what} from the list.", code=code)
        try:
            number = int(value)
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"Choose the {what} from the list.", code=code) from exc
        if number <= 0:
            raise ValidationError(f"Choose the {what} from the list.", code=code)
        if number not in ids:
            ids.append(number)
    return ids


def library_assets(workspace: Workspace | int, media_ids: Iterable[Any]) -> list[MediaAsset]:
    """The workspace's media files with these ids, in the order given; ValidationError for any other id."""
    ids = clean_ids(media_ids, what="media files", code="media")
    if len(ids) > MAX_MEDIA_PER_POST:
        raise ValidationError(f"Attach at most {MAX_MEDIA_PER_POST} files to one post.", code="media")
    if not ids:
        return []
    workspace_id = workspace.pk if isinstance(workspace, Workspace) else workspace
    found = MediaAsset.objects.filter(workspace_id=workspace_id).in_bulk(ids)
    if len(found) != len(ids):
        raise ValidationError(
            "One of the chosen media files is not in this workspace's library. Choose files from the library.",
            code="media",
        )
    return [found[media_id] for media_id in ids]


# --------------------------------------------------------------------------- checking what would be sent


@dataclass(frozen=True)
class Draft:
    """What one account would get, before it is saved: the text as sent, its link and its files."""

    text: str
    link: str = ""
    assets: tuple[MediaAsset, ...] = ()

    def variant(self) -> Variant:
        return Variant(text=self.text, link=self.link, media=tuple(media_for_asset(asset) for asset in self.assets))


def check_drafts(drafts: Sequence[tuple[SocialAccount, Draft]]) -> None:
    """Run each account's provider `validate()`; raise its blocking issues as one ValidationError (code "content").

    Messages are "<account>: <the platform's message>", so people know which account refuses what.
    """
    problems: list[str] = []
    for account, draft in drafts:
        try:
            provider = provider_for_account(account)
        except TokenUnavailable as exc:
            problems.append(f"{account}: {exc.message}")
            continue
        result = provider.validate(draft.variant())
        problems += [f"{account}: {issue.message}" for issue in result.issues if issue.is_blocking]
    if problems:
        error = ValidationError([ValidationError(message, code="content") for message in problems])
        error.code = "content"
        raise error


def _graphemes(text: str) -> list[str]:
    return regex.findall(r"\X", text)


def _text_shown(provider: Provider, variant: Variant, result: ValidationResult) -> str:
    """The longest start of the text (whole grapheme clusters) that the platform's limit lets through.

    Found by asking `validate()` itself about shorter texts, so the cut falls where the platform counts
    (X's weights, Bluesky's graphemes, Threads' bytes) with the link and media still attached.
    """
    if not result.max_length or result.length <= result.max_length:
        return variant.text
    clusters = _graphemes(variant.text)
    fits, too_long = 0, len(clusters)
    while too_long - fits > 1:
        middle = (fits + too_long) // 2
        if provider.validate(replace(variant, text="".join(clusters[:middle]))).length <= result.max_length:
            fits = middle
        else:
            too_long = middle
    return "".join(clusters[:fits])


def preview_for(
    account: SocialAccount,
    text: str,
    link: str,
    media_assets: Sequence[MediaAsset],
    *,
    variables: Sequence[str] = (),
) -> dict[str, Any]:
    """What the composer's counter shows for one account, as the platform counts it.

    Returns {account_id, account, platform, platform_name, length, max_length, issues: [{field, message,
    blocking}], text_shown, text_cut}: `text_shown` is the part of the text within the limit and `text_cut`
    the rest ("" when it fits). `variables` are template variables that must not be left as {name}.
    """
    issues: list[dict[str, Any]] = []
    link = (link or "").strip()
    try:
        clean_link(link)
    except ValidationError:
        issues.append({"field": "link", "message": LINK_MESSAGE, "blocking": True})
        link = ""  # count the text alone: the platform would never get this link
    left = sorted({name for name in _VARIABLE.findall(text) if name in set(variables)})
    if left:
        names = ", ".join("{" + name + "}" for name in left)
        issues.append({"field": "text", "message": f"Fill in {names}: still a template variable.", "blocking": False})
    base = {
        "account_id": account.pk,
        "account": str(account),
        "platform": account.platform,
        "platform_name": DISPLAY_NAMES.get(account.platform, account.platform),
    }
    try:
        provider = provider_for_account(account)
    except TokenUnavailable as exc:
        issues.insert(0, {"field": "account", "message": exc.message, "blocking": True})
        return {
            **base,
            "length": len(_graphemes(text)),
            "max_length": None,
            "issues": issues,
            "text_shown": text,
            "text_cut": "",
        }
    if not account.is_usable:
        issues.insert(
            0,
            {"field": "account", "message": f"Reconnect {account} before posting to it.", "blocking": True},
        )
    variant = Variant(text=text, link=link, media=tuple(media_for_asset(asset) for asset in media_assets))
    result = provider.validate(variant)
    issues = [
        {"field": issue.field, "message": issue.message, "blocking": issue.is_blocking} for issue in result.issues
    ] + issues
    shown = _text_shown(provider, variant, result)
    return {
        **base,
        "length": result.length,
        "max_length": result.max_length,
        "issues": issues,
        "text_shown": shown,
        "text_cut": text[len(shown) :] if text.startswith(shown) else "",
    }


def preview_drafts(
    *,
    workspace: Workspace,
    text: str,
    account_ids: Iterable[Any],
    link: str = "",
    variants: Mapping[Any, str] | None = None,
    links: Mapping[Any, str] | None = None,
    media_ids: Iterable[Any] = (),
    target_media: Mapping[Any, Iterable[Any]] | None = None,
    template_id: Any = None,
) -> list[dict[str, Any]]:
    """`preview_for` each chosen account of the workspace, with its variant text, link and media.

    Raises ValidationError (the input itself is wrong, not the content): an id that is not a number, an
    account or file of another workspace, a text too long to check. Variants, links and media given
    for accounts that are not chosen are ignored (the composer sends every account's fields).
    """
    if not isinstance(text, str) or len(text) > MAX_PREVIEW_CHARS:
        raise ValidationError(f"The text must be at most {MAX_PREVIEW_CHARS} characters to be checked.")
    ids = clean_ids(account_ids, what="accounts", code="accounts")
    accounts = SocialAccount.objects.for_workspace(workspace).in_bulk(ids)
    if len(accounts) != len(ids):
        raise ValidationError("One of the chosen accounts is not connected to this workspace.", code="accounts")
    shared = library_assets(workspace, media_ids)
    own_media = _by_account(target_media, set(ids), lambda value: library_assets(workspace, value))
    own_text = _by_account(variants, set(ids), lambda value: value if isinstance(value, str) else "")
    own_link = _by_account(links, set(ids), lambda value: value if isinstance(value, str) else "")
    variables: list[str] = []
    if template_id not in (None, ""):
        template_pk = clean_ids([template_id], what="template", code="template")[0]
        body = Template.objects.for_workspace(workspace).filter(pk=template_pk).values_list("body", flat=True).first()
        if body is None:
            raise ValidationError("That template is not in this workspace.", code="template")
        variables = _VARIABLE.findall(body)
    results = []
    for account_id in ids:
        account_text = own_text.get(account_id, "")
        if len(account_text) > MAX_PREVIEW_CHARS:
            raise ValidationError(f"The text must be at most {MAX_PREVIEW_CHARS} characters to be checked.")
        results.append(
            preview_for(
                accounts[account_id],
                account_text if account_text.strip() else text,
                own_link.get(account_id, "").strip() or link,
                own_media.get(account_id) or shared,
                variables=variables,
            )
        )
    return results


def _by_account(values: Mapping[Any, Any] | None, chosen: set[int], convert) -> dict[int, Any]:
    """`values` keyed by account id, only for the chosen accounts; a key that is not a number is bad input."""
    cleaned: dict[int, Any] = {}
    for key, value in (values or {}).items():
        try:
            account_id = int(key)
        except (TypeError, ValueError) as exc:
            raise ValidationError("A variant names an account that is not in the list.", code="variants") from exc
        if account_id in chosen:
            cleaned[account_id] = convert(value)
    return cleaned


# --------------------------------------------------------------------------- what the services save with a post

MAX_TAGS_PER_POST = 10
MAX_TAG_LENGTH = 50


def clean_tags(names: Iterable[str]) -> list[str]:
    """Tag names trimmed (inner spaces collapsed), empty ones dropped, the first spelling of each kept.

    Raises ValidationError (code "tags") for more than MAX_TAGS_PER_POST tags or a name over MAX_TAG_LENGTH.
    """
    if isinstance(names, str):
        names = names.split(",")
    cleaned: dict[str, str] = {}
    errors: list[str] = []
    for raw in names:
        name = " ".join(str(raw).split())
        if not name:
            continue
        if len(name) > MAX_TAG_LENGTH:
            errors.append(f"“{name[:20]}…” is too long for a tag: use at most {MAX_TAG_LENGTH} characters.")
            continue
        cleaned.setdefault(name.casefold(), name)
    if len(cleaned) > MAX_TAGS_PER_POST:
        errors.append(f"A post takes at most {MAX_TAGS_PER_POST} tags; this one has {len(cleaned)}.")
    if errors:
        error = ValidationError([ValidationError(message, code="tags") for message in errors])
        error.code = "tags"
        raise error
    return list(cleaned.values())


def tags_for(workspace_id: int, names: Sequence[str]) -> list[Tag]:
    """The workspace's tags with these names, matched case-insensitively; missing ones are created.

    The workspace row is locked while tags are created, so two posts saved at once cannot create
    "Launch" and "launch" side by side (the database's unique constraint is case-sensitive).
    """
    if not names:
        return []
    existing = {tag.name.casefold(): tag for tag in Tag.objects.filter(workspace_id=workspace_id)}
    missing = [name for name in names if name.casefold() not in existing]
    if missing:
        list(Workspace.objects.select_for_update().filter(pk=workspace_id).values_list("pk", flat=True))
        existing = {tag.name.casefold(): tag for tag in Tag.objects.filter(workspace_id=workspace_id)}
        for name in missing:
            if name.casefold() not in existing:
                existing[name.casefold()] = Tag.objects.create(workspace_id=workspace_id, name=name)
    return [existing[name.casefold()] for name in names]


def clean_links(links: Mapping[Any, str] | None, account_ids: set[int]) -> dict[int, str]:
    """Per-account links keyed by account id; empty ones dropped (the post's link applies)."""
    cleaned: dict[int, str] = {}
    for key, value in (links or {}).items():
        account_id = _chosen_account(key, account_ids, code="links")
        link = clean_link(value if isinstance(value, str) else "")
        if link:
            cleaned[account_id] = link
    return cleaned


def clean_target_media(
    workspace_id: int, target_media: Mapping[Any, Iterable[Any]] | None, account_ids: set[int]
) -> dict[int, list[MediaAsset]]:
    """Per-account media keyed by account id, checked against the library; an empty list means "the post's"."""
    return {
        _chosen_account(key, account_ids, code="media"): library_assets(workspace_id, value or [])
        for key, value in (target_media or {}).items()
    }


def _chosen_account(key: Any, account_ids: set[int], *, code: str) -> int:
    try:
        account_id = int(key)
    except (TypeError, ValueError) as exc:
        raise ValidationError("A variant names an account that is not in the list.", code=code) from exc
    if account_id not in account_ids:
        raise ValidationError("A variant was given for an account this post does not go to.", code=code)
    return account_id


def template_of(workspace_id: int, template_id: Any) -> Template | None:
    """The workspace's template with this id; None for no template; ValidationError for any other id."""
    if template_id in (None, "", 0, "0"):
        return None
    template_pk = clean_ids([template_id], what="template", code="template")[0]
    template = Template.objects.filter(workspace_id=workspace_id, pk=template_pk).first()
    if template is None:
        raise ValidationError("That template is not in this workspace.", code="template")
    return template


def domain_of(workspace_id: int, domain_key: str | None) -> ContentDomain | None:
    """The workspace's content domain with this key; None for no domain; ValidationError for any other key."""
    key = (domain_key or "").strip()
    if not key:
        return None
    domain = ContentDomain.objects.filter(workspace_id=workspace_id, key=key).first()
    if domain is None:
        raise ValidationError(
            f"“{key}” is not one of this workspace's content domains. Choose one from the list.", code="domain"
        )
    return domain


def save_media(post: Post, assets: Sequence[MediaAsset], *, target: PostTarget | None = None) -> None:
    """Make `assets` (in order) the post's shared media, or `target`'s own; an empty list removes them."""
    PostMedia.objects.filter(post=post, target=target).delete()
    PostMedia.objects.bulk_create(
        PostMedia(workspace_id=post.workspace_id, post=post, target=target, asset=asset, position=position)
        for position, asset in enumerate(assets)
    )

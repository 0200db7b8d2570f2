"""What generation takes and gives, and what both generators (AI and offline) share.

The request and the result dataclasses; the domain context; the cleaning of a
model's words (hashtags, emojis); and fitting a post to each platform: every
variant is checked with that platform's provider `validate()` (the one source
of platform limits) and never leaves here over-long.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import regex
from django.core.exceptions import ValidationError

from accounts.models import Workspace
from billing.limits import plan_for
from content.domains import BUILT_IN_DOMAINS
from content.models import ContentDomain, Document, Template
from publishing.providers import DISPLAY_NAMES, REGISTRY
from publishing.providers.base import Provider, Variant

logger = logging.getLogger(__name__)

MAX_PROMPT_LENGTH = 2000
MAX_HASHTAGS = 5
# How many of the post's hashtags each platform's variant carries: Threads turns one into the
# post's topic and ignores the rest; on X more than two crowd a short post.
HASHTAGS_PER_PLATFORM: dict[str, int] = {
    "x": 2,
    "threads": 1,
    "bluesky": 3,
    "mastodon": 4,
    "linkedin": 5,
    "facebook": 3,
    "instagram": 5,
}
ELLIPSIS = "…"


@dataclass
class GenerationRequest:
    """What to write: for which domain and platforms, about what, and how."""

    workspace: Workspace
    domain_key: str
    platforms: list[str]  # provider slugs (publishing.providers.REGISTRY)
    prompt: str = ""
    temperature: float = 0.7
    hashtags: bool = True
    emojis: bool = True
    document_ids: tuple[int, ...] = ()
    template_id: int | None = None


@dataclass
class GeneratedPost:
    """One generated post: the text, a variant per platform that passes its limits, a score, and its record."""

    title: str
    content: str  # the body, without the hashtags
    hashtags: list[str]  # without "#"
    variants: dict[str, str]  # platform slug → the text to post there (hashtags included)
    source: str  # "ai" or "offline"
    model_label: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    failures: list[str] = field(default_factory=list)  # what went wrong on the way (endpoints, re-asks)
    score: int = 0
    score_reasons: list[str] = field(default_factory=list)
    score_basis: str = "rules"
    generation_record: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what people should know (documents skipped, trimmed…)
    lengths: dict[str, tuple[int, int]] = field(default_factory=dict)  # platform → (length, limit), as it counts


# --------------------------------------------------------------------------- the request


@dataclass(frozen=True)
class DomainContext:
    key: str
    name: str
    description: str
    audience: str
    tone: str
    sample_posts: tuple[str, ...]
    row: ContentDomain | None


def domain_context(workspace: Workspace, key: str) -> DomainContext:
    """The workspace's domain `key` (its own row, filled in from the catalogue); ValidationError if not its own.

    A workspace that has chosen no domains yet may use the built-in ones its plan allows.
    """
    key = (key or "").strip()
    rows = ContentDomain.objects.for_workspace(workspace)
    row = rows.filter(key=key).first()
    spec = BUILT_IN_DOMAINS.get(key)
    if row is None:
        allowed = plan_for(workspace).allowed_domains
        if spec is None or rows.exists() or (allowed is not None and key not in allowed):
            raise ValidationError("Choose one of this workspace's content domains.", code="domain")
        return DomainContext(
            key=key,
            name=spec.name,
            description=spec.description,
            audience=spec.audience,
            tone=spec.tone,
            sample_posts=spec.sample_posts,
            row=None,
        )
    samples = tuple(str(sample) for sample in (row.sample_posts or []) if str(sample).strip())
    return DomainContext(
        key=key,
        name=row.name,
        description=row.description or (spec.description if spec else ""),
        audience=row.audience or (spec.audience if spec else ""),
        tone=row.tone or (spec.tone if spec else ""),
        sample_posts=samples or (spec.sample_posts if spec else ()),
        row=row,
    )


def clean_request(request: GenerationRequest) -> GenerationRequest:
    """Check the request's controls; raise ValidationError with every problem a person can fix."""
    errors: list[ValidationError] = []
    platforms = list(dict.fromkeys(str(slug).strip() for slug in request.platforms if str(slug).strip()))
    unknown = [slug for slug in platforms if slug not in REGISTRY]
    if unknown:
        errors.append(ValidationError(f"LetsGrow does not post to {', '.join(unknown)}.", code="platforms"))
    elif not platforms:
        errors.append(ValidationError("Choose at least one platform to write for.", code="platforms"))
    try:
        temperature = float(request.temperature)
    except (TypeError, ValueError):
        temperature = -1.0
    if not 0.0 <= temperature <= 2.0:
        errors.append(ValidationError("Creativity goes from 0 (predictable) to 2 (adventurous).", code="temperature"))
    prompt = (request.prompt or "").strip()
    if len(prompt) > MAX_PROMPT_LENGTH:
        errors.append(
            ValidationError(
                f"Keep the prompt under {MAX_PROMPT_LENGTH} characters (it has {len(prompt)}).", code="prompt"
            )
        )
    try:
        document_ids = tuple(dict.fromkeys(int(pk) for pk in request.document_ids))
    except (TypeError, ValueError):
        document_ids = ()
        errors.append(ValidationError("Choose documents from the list.", code="documents"))
    if errors:
        raise ValidationError(errors)
    return GenerationRequest(
        workspace=request.workspace,
        domain_key=request.domain_key,
        platforms=platforms,
        prompt=prompt,
        temperature=round(temperature, 2),
        hashtags=bool(request.hashtags),
        emojis=bool(request.emojis),
        document_ids=document_ids,
        template_id=request.template_id,
    )


def template_for(workspace: Workspace, template_id: int | None) -> Template | None:
    if template_id in (None, ""):
        return None
    try:
        return Template.objects.for_workspace(workspace).get(pk=int(template_id))  # type: ignore[arg-type]
    except (Template.DoesNotExist, TypeError, ValueError) as exc:
        raise ValidationError("That template is not in this workspace.", code="template") from exc


@dataclass(frozen=True)
class DocumentContext:
    used: list[dict[str, Any]]  # [{"id", "name", "key_points"}]
    notes: list[str]


def documents_for(workspace: Workspace, document_ids: Sequence[int]) -> DocumentContext:
    """Key points of the workspace's ready documents among `document_ids`, when the plan includes documents."""
    if not document_ids:
        return DocumentContext(used=[], notes=[])
    plan = plan_for(workspace)
    if not plan.document_context:
        return DocumentContext(
            used=[],
            notes=[f"Documents are not included in the {plan.name} plan, so they were not used. Upgrade to use them."],
        )
    rows = list(
        Document.objects.for_workspace(workspace)
        .filter(pk__in=document_ids, status=Document.Status.READY)
        .order_by("pk")
    )
    used = [
        {"id": row.pk, "name": row.original_name, "key_points": [str(point) for point in (row.key_points or [])][:8]}
        for row in rows
    ]
    notes = []
    skipped = len(set(document_ids)) - len(rows)
    if skipped:
        notes.append(f"{skipped} document(s) were not used: still being read, failed, or not in this workspace.")
    return DocumentContext(used=used, notes=notes)


# --------------------------------------------------------------------------- cleaning words

_EMOJI = regex.compile(r"[\p{Extended_Pictographic}\p{Emoji_Modifier}\u200d\ufe0f\u20e3\U0001F1E6-\U0001F1FF]")
_HASHTAG_IN_TEXT = re.compile(r"(?<![\w&])#(\w{1,60})")
_TRAILING_TAGS = re.compile(r"(?:\s*#\w+)+\s*$")


def strip_emojis(text: str) -> str:
    without = _EMOJI.sub("", text)
    return re.sub(r"[ \t]{2,}", " ", re.sub(r"(?m)^[ \t]+", "", without)).strip()


def clean_hashtags(values: Sequence[Any], *, limit: int = MAX_HASHTAGS) -> list[str]:
    """Hashtags as words without '#': letters, digits and underscores only; no duplicates (case-insensitive)."""
    tags: list[str] = []
    seen: set[str] = set()
    for value in values:
        tag = re.sub(r"[^\w]", "", str(value).replace("#", "").strip(), flags=re.UNICODE)[:60]
        if tag and not tag.isdigit() and tag.lower() not in seen:
            seen.add(tag.lower())
            tags.append(tag)
    return tags[:limit]


def split_trailing_hashtags(text: str) -> tuple[str, list[str]]:
    """Move hashtags at the end of `text` into a list (models and samples often append them)."""
    match = _TRAILING_TAGS.search(text)
    if not match:
        return text.strip(), []
    return text[: match.start()].strip(), _HASHTAG_IN_TEXT.findall(match.group(0))


def remove_hashtags(text: str) -> str:
    """Drop every #tag (hashtags off): keep the word itself when it sits inside a sentence."""
    body, _tags = split_trailing_hashtags(text)
    return re.sub(r"[ \t]{2,}", " ", _HASHTAG_IN_TEXT.sub(r"\1", body)).strip()


# --------------------------------------------------------------------------- platform limits


@dataclass(frozen=True)
class Check:
    fits: bool
    length: int
    max_length: int
    problems: tuple[str, ...]


class PlatformChecker:
    """Checks text for one platform with its provider `validate()`: the workspace's connected accounts' providers
    when it has some (a Mastodon server may allow more than 500), else the platform's default one.

    Only text issues count: media (Instagram needs an image) is the composer's business.
    """

    def __init__(self, slug: str, providers: list[Provider]) -> None:
        self.slug = slug
        self.name = DISPLAY_NAMES.get(slug, slug)
        self.providers = providers

    def check(self, text: str) -> Check:
        problems: list[str] = []
        lengths: list[tuple[int, int]] = []
        for provider in self.providers:
            result = provider.validate(Variant(text=text))
            lengths.append((result.length, result.max_length))
            problems += [issue.message for issue in result.issues if issue.is_blocking and issue.field == "text"]
        # The strictest account decides: report its length and limit.
        length, max_length = min(lengths, key=lambda pair: pair[1] - pair[0]) if lengths else (len(text), 0)
        return Check(fits=not problems, length=length, max_length=max_length, problems=tuple(problems))


def checkers_for(workspace: Workspace, platforms: Sequence[str]) -> dict[str, PlatformChecker]:
    from publishing.connections import TokenUnavailable, provider_for_account
    from publishing.models import SocialAccount
    from publishing.platforms import provider_for

    accounts = SocialAccount.objects.for_workspace(workspace).filter(
        platform__in=list(platforms), status=SocialAccount.Status.ACTIVE
    )
    by_platform: dict[str, list[Provider]] = {}
    seen: set[tuple[str, str]] = set()
    for account in accounts:
        # Accounts on the same server count the same way: one provider per server is enough.
        server = str(account.config.get("instance") or account.config.get("pds") or "")
        if (account.platform, server) in seen:
            continue
        try:
            provider = provider_for_account(account)
        except TokenUnavailable:
            continue
        seen.add((account.platform, server))
        by_platform.setdefault(account.platform, []).append(provider)
    return {slug: PlatformChecker(slug, by_platform.get(slug) or [provider_for(slug)]) for slug in platforms}


def compose(body: str, tags: Sequence[str]) -> str:
    body = body.strip()
    if not tags:
        return body
    line = " ".join(f"#{tag}" for tag in tags)
    return f"{body}\n\n{line}" if body else line


def _word_prefixes(body: str) -> list[str]:
    """Each cut of `body` at a word boundary, shortest first, ending in an ellipsis."""
    cuts = [match.start() for match in re.finditer(r"\s+", body.strip())]
    prefixes = []
    for cut in cuts:
        head = body.strip()[:cut].rstrip(" \t\n,;:-")
        if head:
            prefixes.append(head + ELLIPSIS)
    return prefixes


def _largest_fitting(candidates: list[str], fits: Callable[[str], bool]) -> str | None:
    """The longest candidate that fits (candidates grow in length; fitting is monotonic in length)."""
    low, high, best = 0, len(candidates) - 1, None
    while low <= high:
        middle = (low + high) // 2
        if fits(candidates[middle]):
            best, low = candidates[middle], middle + 1
        else:
            high = middle - 1
    return best


@dataclass(frozen=True)
class Fitted:
    text: str
    check: Check
    trimmed: bool  # words or hashtags were dropped to fit


def fit(body: str, tags: Sequence[str], checker: PlatformChecker) -> Fitted:
    """The post for one platform: body and hashtags if they fit; else fewer hashtags; else the body cut at a
    word boundary with an ellipsis. What comes back always passes the checker (or is the shortest possible)."""
    tags = list(tags)[: HASHTAGS_PER_PLATFORM.get(checker.slug, MAX_HASHTAGS)]
    full = compose(body, tags)
    result = checker.check(full)
    if result.fits:
        return Fitted(full, result, trimmed=False)
    for count in range(len(tags) - 1, -1, -1):
        text = compose(body, tags[:count])
        result = checker.check(text)
        if result.fits:
            return Fitted(text, result, trimmed=True)
    prefixes = _word_prefixes(body)
    for kept_tags in (tags[:1], []):
        candidates = [compose(prefix, kept_tags) for prefix in prefixes]
        best = _largest_fitting(candidates, lambda text: checker.check(text).fits)
        if best is not None:
            return Fitted(best, checker.check(best), trimmed=True)
    # One enormous word: cut by characters.
    stripped = body.strip()
    candidates = [stripped[:size] + ELLIPSIS for size in range(1, len(stripped))]
    best = _largest_fitting(candidates, lambda text: checker.check(text).fits) or ELLIPSIS
    return Fitted(best, checker.check(best), trimmed=True)


def fit_all(body: str, tags: Sequence[str], checkers: dict[str, PlatformChecker]) -> dict[str, Fitted]:
    return {slug: fit(body, tags, checker) for slug, checker in checkers.items()}


def tightest_limit(checkers: dict[str, PlatformChecker]) -> tuple[str, int]:
    """The platform with the smallest text limit, and that limit (as it counts)."""
    limits = {slug: checker.check("x").max_length for slug, checker in checkers.items()}
    slug = min(limits, key=lambda key: limits[key])
    return slug, limits[slug]


def now_iso() -> str:
    return datetime.now(tz=UTC).isoformat(timespec="seconds")

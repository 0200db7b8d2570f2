"""Generate posts with the workspace's model: context, structured output, per-platform variants, a score.

`generate_post` writes one post for a domain and a set of platforms. The
model answers JSON (title, content, hashtags) checked against a schema; each
platform then gets a variant checked by its provider's `validate()`. A variant
that is too long is asked for again once, shorter, and then trimmed at a word
boundary: nothing over-long comes back. With no model configured it generates
offline (content.ai.offline), labelled as such; with a model that fails it
raises AIUnavailable and the caller may offer the offline result.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError

from accounts.models import Workspace
from content.ai.base import (
    DocumentContext,
    DomainContext,
    GeneratedPost,
    GenerationRequest,
    PlatformChecker,
    checkers_for,
    clean_hashtags,
    clean_request,
    compose,
    documents_for,
    domain_context,
    fit,
    now_iso,
    remove_hashtags,
    split_trailing_hashtags,
    strip_emojis,
    template_for,
    tightest_limit,
)
from content.ai.client import AIUnavailable, complete_json, llm_configured
from content.ai.offline import OFFLINE_LABEL, generate_offline, key_points_offline, proofread_offline
from content.models import AISettings, Template
from content.scoring import score_post
from publishing.providers import DISPLAY_NAMES

logger = logging.getLogger(__name__)

__all__ = [
    "OFFLINE_LABEL",
    "GeneratedPost",
    "GenerationRequest",
    "generate_post",
    "proofread",
    "summarise_key_points",
    "variations",
]

POST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "maxLength": 200},
        "content": {"type": "string", "minLength": 1},
        "hashtags": {"type": "array", "items": {"type": "string"}, "maxItems": 30},
    },
    "required": ["title", "content", "hashtags"],
}
PROOFREAD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "text": {"type": "string", "minLength": 1},
        "changes": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["text", "changes"],
}
KEY_POINTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"key_points": {"type": "array", "items": {"type": "string"}}},
    "required": ["key_points"],
}
MAX_VARIATIONS = 5
MAX_PROOFREAD_LENGTH = 10_000
# About 3,000 tokens of a document: enough for its key points, bounded in cost.
MAX_SUMMARY_INPUT = 12_000
OFFLINE_EXTRACT = "offline extract"


# --------------------------------------------------------------------------- prompts


def _brand_voice(workspace: Workspace) -> str:
    settings_row = AISettings.objects.for_workspace(workspace).only("brand_voice").first()
    return (settings_row.brand_voice if settings_row else "").strip()


def _system_prompt(
    *,
    workspace: Workspace,
    request: GenerationRequest,
    context: DomainContext,
    checkers: dict[str, PlatformChecker],
    brand_voice: str,
) -> str:
    tight_slug, tight_limit = tightest_limit(checkers)
    limits = ", ".join(
        f"{checker.name} (at most {checker.check('x').max_length} characters)" for checker in checkers.values()
    )
    lines = [
        f"You write social media posts for {workspace.name}.",
        f"Domain: {context.name}. {context.description}".strip(),
    ]
    if context.audience:
        lines.append(f"Audience: {context.audience}.")
    if context.tone:
        lines.append(f"Tone: {context.tone}.")
    if brand_voice:
        lines.append(f"Brand voice, follow it: {brand_voice}")
    if context.sample_posts:
        lines.append("Posts in this domain look like these:")
        lines += [f"- {sample}" for sample in context.sample_posts[:3]]
    lines.append(f"The post goes to {limits}.")
    # Room for the hashtags appended after the body.
    room = max(60, tight_limit - 40) if request.hashtags else tight_limit
    lines.append(
        f"Write the content in at most {room} characters, for {DISPLAY_NAMES.get(tight_slug, tight_slug)}, "
        "not counting hashtags."
    )
    lines.append("Use one to three fitting emojis." if request.emojis else "Do not use emojis.")
    lines.append(
        'Put 2 to 5 relevant hashtags, without the # sign, in "hashtags" and none in "content".'
        if request.hashtags
        else 'Do not use hashtags: "hashtags" is an empty list and "content" has none.'
    )
    lines.append(
        "Never invent facts, figures, prices, quotes or links; use only what you are given. "
        '"title" is a short internal title, not part of the post.'
    )
    return "\n".join(lines)


def _user_prompt(
    *, request: GenerationRequest, context: DomainContext, documents: DocumentContext, template: Template | None
) -> str:
    topic = request.prompt or f"{context.name}: {context.description}".strip(": ")
    lines = [f"Write one post about: {topic}"]
    for document in documents.used:
        if document["key_points"]:
            lines.append(f"Facts from the document “{document['name']}” (use them, do not add others):")
            lines += [f"- {point}" for point in document["key_points"]]
    if template is not None:
        lines.append(f"Follow this template's structure, filling in its {{variables}}: {template.body}")
    return "\n".join(lines)


def _summary(request: GenerationRequest, context: DomainContext, brand_voice: str) -> str:
    """What the system prompt said, in one line for reviewers (the prompt itself is long and mostly boilerplate)."""
    parts = [f"Domain {context.name}"]
    if context.tone:
        parts.append(f"{context.tone} tone")
    if context.audience:
        parts.append(f"for {context.audience}")
    parts.append("brand voice set" if brand_voice else "no brand voice")
    parts.append("emojis on" if request.emojis else "emojis off")
    parts.append("hashtags on" if request.hashtags else "hashtags off")
    parts.append("platforms " + ", ".join(DISPLAY_NAMES.get(slug, slug) for slug in request.platforms))
    return "; ".join(parts) + "."


def _clean_post(data: dict[str, Any], request: GenerationRequest) -> tuple[str, str, list[str]]:
    """Title, body and hashtags from a model's answer, with the controls enforced (models do not always obey)."""
    title = " ".join(str(data.get("title", "")).split())[:120]
    body, inline_tags = split_trailing_hashtags(str(data.get("content", "")))
    tags = clean_hashtags([*data.get("hashtags", []), *inline_tags]) if request.hashtags else []
    if not request.hashtags:
        body = remove_hashtags(body)
    if not request.emojis:
        body, title = strip_emojis(body), strip_emojis(title)
    return title, body, tags


# --------------------------------------------------------------------------- generating


class _Meter:
    """Tokens and failures across the calls one post takes."""

    def __init__(self) -> None:
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.failures: list[str] = []

    def add(self, prompt_tokens: int, completion_tokens: int, failures: list[str]) -> None:
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        self.failures += failures


def _fit_platform(
    *,
    request: GenerationRequest,
    checker: PlatformChecker,
    body: str,
    tags: list[str],
    meter: _Meter,
    notes: list[str],
    reasked: list[str],
) -> tuple[str, tuple[int, int]]:
    """The variant for one platform: as written if it fits; else asked again once, shorter; else trimmed."""
    if not checker.check(body).fits:
        limit = checker.check(body).max_length
        target = max(40, int(limit * 0.9) - (30 if tags else 0))
        user = (
            f"Rewrite this post for {checker.name} in at most {target} characters as {checker.name} counts them. "
            f"Keep its meaning, facts and voice.\n<<<\n{body}\n>>>"
        )
        try:
            result = complete_json(
                workspace=request.workspace,
                system="You shorten social media posts without changing what they say.",
                user=user,
                schema=POST_SCHEMA,
                temperature=min(request.temperature, 0.7),
                max_tokens=max(200, target // 2),
            )
        except AIUnavailable as exc:
            meter.failures += exc.failures
            notes.append(f"The model could not shorten it for {checker.name}, so it was trimmed to fit.")
        except ValidationError as exc:  # the month's tokens ran out between the calls
            notes.append(f"Trimmed for {checker.name} without asking the model again: {' '.join(exc.messages)}")
        else:
            meter.add(result.prompt_tokens, result.completion_tokens, result.failures)
            reasked.append(checker.slug)
            _title, shorter, shorter_tags = _clean_post(result.data, request)
            if shorter:
                body, tags = shorter, shorter_tags or tags
    fitted = fit(body, tags, checker)
    if fitted.trimmed and checker.slug not in reasked:
        notes.append(f"Shortened for {checker.name} to fit its limit.")
    elif fitted.trimmed:
        notes.append(f"Asked the model for a shorter version for {checker.name}, then trimmed it to fit.")
    return fitted.text, (fitted.check.length, fitted.check.max_length)


def _generate(request: GenerationRequest, *, variation: int = 0, of: int = 1) -> GeneratedPost:
    workspace = request.workspace
    context = domain_context(workspace, request.domain_key)
    template = template_for(workspace, request.template_id)
    documents = documents_for(workspace, request.document_ids)
    checkers = checkers_for(workspace, request.platforms)
    brand_voice = _brand_voice(workspace)
    system = _system_prompt(
        workspace=workspace, request=request, context=context, checkers=checkers, brand_voice=brand_voice
    )
    user = _user_prompt(request=request, context=context, documents=documents, template=template)
    if of > 1:
        user += f"\nThis is variation {variation + 1} of {of}: take a different angle from the others."
    _slug, tight_limit = tightest_limit(checkers)
    temperature = round(min(2.0, request.temperature + 0.1 * variation), 2)
    result = complete_json(
        workspace=workspace,
        system=system,
        user=user,
        schema=POST_SCHEMA,
        temperature=temperature,
        max_tokens=min(2000, max(300, tight_limit // 3 + 200)),
    )
    meter = _Meter()
    meter.add(result.prompt_tokens, result.completion_tokens, result.failures)
    title, body, tags = _clean_post(result.data, request)
    if not body:
        raise AIUnavailable("The AI model answered with an empty post. Try again, or generate offline.", meter.failures)

    notes = list(documents.notes)
    reasked: list[str] = []
    variants: dict[str, str] = {}
    lengths: dict[str, tuple[int, int]] = {}
    for slug, checker in checkers.items():
        variants[slug], lengths[slug] = _fit_platform(
            request=request, checker=checker, body=body, tags=tags, meter=meter, notes=notes, reasked=reasked
        )
    first = request.platforms[0]
    score = score_post(workspace=workspace, text=variants[first], platform=first)
    record = {
        "prompt": request.prompt,
        "system_prompt": _summary(request, context, brand_voice),
        "model": result.endpoint.label,
        "source": "ai",
        "domain": context.key,
        "documents": [{"id": doc["id"], "name": doc["name"]} for doc in documents.used],
        "template": {"id": template.pk, "name": template.name} if template else None,
        "temperature": temperature,
        "controls": {"hashtags": request.hashtags, "emojis": request.emojis, "platforms": request.platforms},
        "usage": {"prompt_tokens": meter.prompt_tokens, "completion_tokens": meter.completion_tokens},
        "reasked_for": reasked,
        "failures": meter.failures,
        "created_at": now_iso(),
    }
    return GeneratedPost(
        title=title or compose(body, [])[:60],
        content=body,
        hashtags=tags,
        variants=variants,
        source="ai",
        model_label=result.endpoint.label,
        prompt_tokens=meter.prompt_tokens,
        completion_tokens=meter.completion_tokens,
        failures=meter.failures,
        score=score.value,
        score_reasons=score.reasons,
        score_basis=score.basis,
        generation_record=record,
        notes=notes,
        lengths=lengths,
    )


def generate_post(request: GenerationRequest, *, attempt: int = 0) -> GeneratedPost:
    """Write one post for `request`: with the workspace's model, or offline when none is configured.

    Raises ValidationError for bad controls (domain, platforms, creativity,
    prompt, template) and for a used-up monthly token allowance; AIUnavailable
    when a model is configured but none answered usably (offer
    `content.ai.offline.generate_offline` then). `attempt` > 0 (Regenerate)
    asks for a different take than the previous ones.
    """
    request = clean_request(request)
    attempt = max(0, min(int(attempt), 50))
    if not llm_configured(request.workspace):
        return generate_offline(request, variation=attempt)
    return _generate(request, variation=attempt, of=attempt + 1)


def variations(request: GenerationRequest, n: int = 3) -> list[GeneratedPost]:
    """`n` different takes on the same request (at most 5). Raises like generate_post when none could be made."""
    request = clean_request(request)
    n = max(1, min(int(n), MAX_VARIATIONS))
    if not llm_configured(request.workspace):
        return [generate_offline(request, variation=index) for index in range(n)]
    posts: list[GeneratedPost] = []
    for index in range(n):
        try:
            posts.append(_generate(request, variation=index, of=n))
        except AIUnavailable:
            if not posts:
                raise
            break
    return posts


# --------------------------------------------------------------------------- proofreading and key points


def proofread(*, workspace: Workspace, text: str) -> tuple[str, list[str]]:
    """Correct spelling, grammar and punctuation without changing the meaning; return the text and the changes.

    With no model, or when it fails, plain offline rules do what they can and the
    first change says so.
    """
    text = (text or "").strip()
    if not text:
        raise ValidationError("There is no text to proofread yet.", code="text")
    if len(text) > MAX_PROOFREAD_LENGTH:
        raise ValidationError(f"Proofread at most {MAX_PROOFREAD_LENGTH:,} characters at a time.", code="text")
    if not llm_configured(workspace):
        corrected, changes = proofread_offline(text)
        return corrected, ["Checked offline with basic rules: no AI model is configured.", *changes]
    try:
        result = complete_json(
            workspace=workspace,
            system=(
                "You proofread social media posts: fix spelling, grammar and punctuation only. Keep the meaning, "
                "the voice, emojis, hashtags, mentions and links exactly. List each change in a short sentence in "
                '"changes" (an empty list when nothing needed fixing).'
            ),
            user=f"Proofread this post:\n<<<\n{text}\n>>>",
            schema=PROOFREAD_SCHEMA,
            temperature=0.2,
            max_tokens=min(4000, len(text) // 2 + 300),
        )
    except (AIUnavailable, ValidationError) as exc:
        why = exc.message if isinstance(exc, AIUnavailable) else " ".join(exc.messages)
        corrected, changes = proofread_offline(text)
        return corrected, [f"Checked offline with basic rules instead. {why}", *changes]
    changes = [" ".join(str(change).split())[:300] for change in result.data["changes"] if str(change).strip()]
    return str(result.data["text"]).strip(), changes


def summarise_key_points(*, workspace: Workspace, text: str, max_points: int = 8) -> tuple[list[str], str]:
    """The key points of a document's text, and a note saying what made them (a model, or "offline extract")."""
    text = (text or "").strip()
    max_points = max(1, min(int(max_points), 20))
    if not text:
        return [], OFFLINE_EXTRACT
    if not llm_configured(workspace):
        return key_points_offline(text, max_points), OFFLINE_EXTRACT
    try:
        result = complete_json(
            workspace=workspace,
            system=(
                f"You extract the key points of a document for social media writers: at most {max_points} key "
                "points, each one self-contained sentence of facts stated in the document. Invent nothing."
            ),
            user=f"The document:\n<<<\n{text[:MAX_SUMMARY_INPUT]}\n>>>",
            schema=KEY_POINTS_SCHEMA,
            temperature=0.2,
            max_tokens=80 * max_points + 100,
        )
    except AIUnavailable:
        return key_points_offline(text, max_points), f"{OFFLINE_EXTRACT} (the AI model did not answer)"
    except ValidationError:
        return key_points_offline(text, max_points), f"{OFFLINE_EXTRACT} (this month's AI tokens are used up)"
    points = list(dict.fromkeys(" ".join(str(point).split())[:300] for point in result.data["key_points"]))
    points = [point for point in points if point][:max_points]
    if not points:
        return key_points_offline(text, max_points), f"{OFFLINE_EXTRACT} (the AI model found no key points)"
    return points, f"Key points by {result.endpoint.label}"[:200]


def proofread_generated(*, workspace: Workspace, post: GeneratedPost) -> tuple[GeneratedPost, list[str]]:
    """Proofread a generated post: its body, and each variant that is not simply body plus hashtags.

    Variants are checked against their platforms again afterwards (a correction
    can lengthen a post) and the score is recomputed.
    """
    content, changes = proofread(workspace=workspace, text=post.content)
    body = post.content.strip()
    corrected: dict[str, str] = {}
    for slug, text in post.variants.items():
        if body and text.startswith(body):
            # The body plus its hashtags: swap in the corrected body, keep the hashtags as they are.
            corrected[slug] = content + text[len(body) :]
            continue
        fixed, more = proofread(workspace=workspace, text=text)
        corrected[slug] = fixed
        changes += [change for change in more if change not in changes]
    checkers = checkers_for(workspace, list(corrected))
    variants: dict[str, str] = {}
    lengths: dict[str, tuple[int, int]] = {}
    for slug, text in corrected.items():
        fitted = fit(text, [], checkers[slug])
        variants[slug], lengths[slug] = fitted.text, (fitted.check.length, fitted.check.max_length)
    first = next(iter(variants), "")
    score = score_post(workspace=workspace, text=variants[first], platform=first) if first else None
    result = GeneratedPost(
        title=post.title,
        content=content,
        hashtags=post.hashtags,
        variants=variants,
        source=post.source,
        model_label=post.model_label,
        prompt_tokens=post.prompt_tokens,
        completion_tokens=post.completion_tokens,
        failures=post.failures,
        score=score.value if score else post.score,
        score_reasons=score.reasons if score else post.score_reasons,
        score_basis=score.basis if score else post.score_basis,
        generation_record={**post.generation_record, "proofread": True},
        notes=post.notes,
        lengths=lengths,
    )
    return result, changes

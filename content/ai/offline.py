"""Generation without a model: the workspace's templates and the domain's sample posts, varied by the prompt.

Used when no LLM is configured (so a fresh install works end to end), and
offered when the model fails. Always labelled as such: it writes no new ideas,
it fills in what the workspace and the domain already have. Also the offline
proofread (plain rules) and key points (the most informative sentences).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from datetime import UTC, datetime

from content.ai.base import (
    GeneratedPost,
    GenerationRequest,
    checkers_for,
    clean_hashtags,
    clean_request,
    documents_for,
    domain_context,
    fit_all,
    now_iso,
    remove_hashtags,
    split_trailing_hashtags,
    strip_emojis,
    template_for,
)
from content.models import Template
from content.scoring import score_post

OFFLINE_LABEL = "Offline (templates and samples; no AI model configured)"
OFFLINE_SOURCE = "offline"

_STOPWORDS_TEXT = """
    a about after all also an and any are as at be because been but by can could do does for from had has have how i
    if in into is it its just me more most my no not of on or our out so some than that the their them then there
    these they this to too up us very was we were what when where which who why will with would you your write post
    posts about make please want need like using use new our
    """
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
_WORD = re.compile(r"[^\W\d_][\w'-]{2,}", re.UNICODE)
_VARIABLE = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
EMOJIS = ("💡", "🚀", "✨", "📌", "👉")
PATTERNS = (
    "{emoji}{Topic}: three things worth knowing this week. Which one matters most to you?",
    "{emoji}A quick thought on {topic} for {audience}: start small, measure, and repeat what works.",
    "{emoji}What we keep learning about {topic}: simple beats clever. What is your take?",
    "{emoji}If you do one thing about {topic} this week, write down what worked and share it with your team.",
    "{emoji}{Topic}, in one sentence: focus on what your audience actually needs. Agree?",
)


def topic_words(text: str, count: int = 3) -> list[str]:
    words = [word.lower().strip("'-") for word in _WORD.findall(text)]
    words = [word for word in words if word not in STOPWORDS]
    counts = Counter(words)
    first = {}
    for index, word in enumerate(words):
        first.setdefault(word, index)
    return sorted(counts, key=lambda word: (-counts[word], first[word]))[:count]


_INSTRUCTION = re.compile(
    r"^(?:please\s+)?(?:(?:write|create|make|generate|draft)\s+(?:me\s+)?(?:an?\s+|some\s+)?(?:short\s+|quick\s+)?"
    r"(?:post|tweet|thread|caption|update)s?\s*)?(?:about|on|for|regarding)?\s*",
    re.IGNORECASE,
)


def topic_phrase(prompt: str, words: int = 8) -> str:
    """What the prompt is about, without "write a post about": its first few words."""
    phrase = _INSTRUCTION.sub("", " ".join(prompt.split()), count=1)
    return " ".join(phrase.split()[:words]).rstrip(".!?,;:")


def fill_template(body: str, values: dict[str, str]) -> tuple[str, list[str]]:
    """Replace {name} variables with `values`; unknown ones stay visible and are returned. `{{`/`}}` escape braces."""
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        name = match.group(1)
        if name in values:
            return values[name]
        if name not in missing:
            missing.append(name)
        return token

    return _VARIABLE.sub(replace, body), missing


def _seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("|".join(str(part) for part in parts).encode()).digest()[:4], "big")


def _templates(request: GenerationRequest, domain_row_id: int | None) -> list[Template]:
    chosen = template_for(request.workspace, request.template_id)
    if chosen is not None:
        return [chosen]
    rows = Template.objects.for_workspace(request.workspace).order_by("name", "pk")
    rows = rows.filter(platform__in=["", *request.platforms])
    return [row for row in rows if row.domain_id in (None, domain_row_id)]


def generate_offline(
    request: GenerationRequest, *, variation: int = 0, failures: list[str] | None = None
) -> GeneratedPost:
    """A post from the workspace's templates or the domain's samples; `variation` picks another one."""
    request = clean_request(request)
    context = domain_context(request.workspace, request.domain_key)
    documents = documents_for(request.workspace, request.document_ids)
    notes = list(documents.notes)
    topics = topic_words(request.prompt) or topic_words(context.name) or [context.key]
    topic = topic_phrase(request.prompt) or context.name.lower()
    seed = _seed(request.prompt, request.domain_key, variation)
    emoji = f"{EMOJIS[seed % len(EMOJIS)]} " if request.emojis else ""
    values = {
        "topic": topic,
        "Topic": topic[:1].upper() + topic[1:],
        "domain": context.name,
        "audience": context.audience or "everyone who follows us",
        "tone": context.tone,
        "workspace": request.workspace.name,
        "date": datetime.now(tz=UTC).date().isoformat(),
        "emoji": emoji,
    }
    values["hashtags"] = " ".join(f"#{tag}" for tag in clean_hashtags([*topics, context.key]))

    templates = _templates(request, context.row.pk if context.row else None)
    template_used = None
    if templates:
        template_used = templates[seed % len(templates)]
        body, missing = fill_template(template_used.body, values)
        if missing:
            names = ", ".join("{" + name + "}" for name in missing)
            notes.append(
                f"The template “{template_used.name}” uses {names}, which LetsGrow cannot fill in offline: "
                "replace it before posting."
            )
        origin = f"template “{template_used.name}”"
    elif context.sample_posts and (not request.prompt or seed % 3 == 0):
        body = context.sample_posts[seed % len(context.sample_posts)]
        origin = f"a sample post of {context.name}"
    else:
        body = PATTERNS[seed % len(PATTERNS)].format(**values)
        origin = f"a pattern for {context.name}"
    if documents.used and documents.used[0]["key_points"]:
        point = documents.used[0]["key_points"][seed % len(documents.used[0]["key_points"])]
        body = f"{body}\n\n{point}"

    body, inline_tags = split_trailing_hashtags(body)
    tags = clean_hashtags([*inline_tags, *topics, context.key]) if request.hashtags else []
    if not request.hashtags:
        body = remove_hashtags(body)
    if not request.emojis:
        body = strip_emojis(body)

    checkers = checkers_for(request.workspace, request.platforms)
    fitted = fit_all(body, tags, checkers)
    for slug, item in fitted.items():
        if item.trimmed:
            notes.append(f"Shortened for {checkers[slug].name} to fit its limit.")
    first = request.platforms[0]
    score = score_post(workspace=request.workspace, text=fitted[first].text, platform=first)
    title = (topic[:1].upper() + topic[1:])[:80]
    record = {
        "prompt": request.prompt,
        "system_prompt": f"Offline: filled in {origin}; nothing was sent to an AI model.",
        "model": OFFLINE_LABEL,
        "source": OFFLINE_SOURCE,
        "domain": context.key,
        "documents": [{"id": doc["id"], "name": doc["name"]} for doc in documents.used],
        "template": {"id": template_used.pk, "name": template_used.name} if template_used else None,
        "temperature": request.temperature,
        "controls": {"hashtags": request.hashtags, "emojis": request.emojis, "platforms": request.platforms},
        "usage": {"prompt_tokens": 0, "completion_tokens": 0},
        "failures": list(failures or []),
        "created_at": now_iso(),
    }
    return GeneratedPost(
        title=title,
        content=body,
        hashtags=tags,
        variants={slug: item.text for slug, item in fitted.items()},
        source=OFFLINE_SOURCE,
        model_label=OFFLINE_LABEL,
        failures=list(failures or []),
        score=score.value,
        score_reasons=score.reasons,
        score_basis=score.basis,
        generation_record=record,
        notes=notes,
        lengths={slug: (item.check.length, item.check.max_length) for slug, item in fitted.items()},
    )


# --------------------------------------------------------------------------- proofreading and key points

TYPOS = {
    "teh": "the",
    "recieve": "receive",
    "definately": "definitely",
    "alot": "a lot",
    "seperate": "separate",
    "occured": "occurred",
    "untill": "until",
    "wich": "which",
    "accomodate": "accommodate",
    "tommorow": "tomorrow",
}


def proofread_offline(text: str) -> tuple[str, list[str]]:
    """Fix what plain rules can: common misspellings, a doubled word, stray spaces, sentence capitals."""
    changes: list[str] = []
    for wrong, right in TYPOS.items():
        pattern = re.compile(rf"\b{wrong}\b", re.IGNORECASE)
        if pattern.search(text):
            text = pattern.sub(right, text)
            changes.append(f"Corrected “{wrong}” to “{right}”.")
    doubled = re.compile(r"\b(\w+)\s+\1\b", re.IGNORECASE)
    if doubled.search(text):
        text = doubled.sub(r"\1", text)
        changes.append("Removed a doubled word.")
    if re.search(r"(?<![\w'])i(?![\w'])", text):
        text = re.sub(r"(?<![\w'])i(?![\w'])", "I", text)
        changes.append("Capitalised “I”.")
    if re.search(r"[ \t]{2,}", text):
        text = re.sub(r"[ \t]{2,}", " ", text)
        changes.append("Removed doubled spaces.")
    if re.search(r"[ \t]+([,.!?;:])(?!\w)", text):
        text = re.sub(r"[ \t]+([,.!?;:])(?!\w)", r"\1", text)
        changes.append("Removed spaces before punctuation.")
    capitalised = re.sub(r"(^|[.!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)
    if capitalised != text:
        text = capitalised
        changes.append("Started each sentence with a capital letter.")
    return text, changes


_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def key_points_offline(text: str, max_points: int = 8) -> list[str]:
    """The most informative sentences of `text`, in reading order: frequent content words, not too short."""
    sentences = [" ".join(part.split()) for part in _SENTENCE.split(text)]
    sentences = [sentence for sentence in sentences if len(sentence.split()) >= 5]
    if not sentences or max_points <= 0:
        return []
    frequencies = Counter(word for sentence in sentences for word in topic_words(sentence, count=1000))

    def weight(index: int) -> float:
        words = topic_words(sentences[index], count=1000)
        if not words:
            return 0.0
        # Normalised by sqrt(length): long sentences do not win on length alone; early ones get a small lead.
        return sum(frequencies[word] for word in words) / math.sqrt(len(words)) + 0.5 / (1 + index)

    chosen: list[int] = []
    seen: set[str] = set()
    for index in sorted(range(len(sentences)), key=weight, reverse=True):
        key = sentences[index].lower()
        if key in seen:
            continue
        seen.add(key)
        chosen.append(index)
        if len(chosen) == max_points:
            break
    return [sentences[index][:300] for index in sorted(chosen)]

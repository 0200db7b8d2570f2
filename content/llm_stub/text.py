"""Deterministic, plausible model output derived from the prompt.

The same prompt always gives the same answer, so tests can assert on it, and
different prompts give different posts, so the product looks alive on a fresh
install. The stub follows a few instructions a real model would: "at most N
characters", "no emojis", "no hashtags", "at most N key points". Text to
summarise or proofread is read from between `<<<` and `>>>` when present.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter

_STOPWORDS_TEXT = """
    a about above after again against all also am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her here
    hers herself him himself his how i if in into is it its itself just let me more most my myself no nor not now of
    off on once only or other our ours ourselves out over own same she should so some such than that the their theirs
    them themselves then there these they this those through to too under until up very was we were what when where
    which while who whom why will with would you your yours yourself yourselves write post posts make give please
    want need like using use used into onto about short long tweet thread content text social media platform
    platforms audience tone hashtags hashtag emojis emoji json object title answer characters character words word
    most least limit shorter version keep brand voice domain generate generated return only field fields key
    points point sentence sentences paragraph must should include includes including without every one two three
    say says said much many lot lots get gets got way ways thing things really new rewrite counts meaning facts
    follow following structure variables variation angle different others
    """
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{2,}")
_LIMIT = re.compile(r"at most (\d{1,5}) characters", re.IGNORECASE)
_POINTS = re.compile(r"at most (\d{1,3}) key points", re.IGNORECASE)
_QUOTED = re.compile(r"<<<\s*(.*?)\s*>>>", re.DOTALL)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")

EMOJIS = ("🚀", "💡", "✨", "📈", "🔥", "👀")
OPENERS = (
    "{E}Here is what nobody tells you about {a}.",
    "{E}{A} is changing faster than most people notice.",
    "{E}Three things we learned this week about {a}.",
    "{E}Small habit, big difference: {a}.",
)
MIDDLES = (
    "Start with {b}, then look at {c}: that is where the real gains are.",
    "The teams doing well with {b} keep it simple and measure {c} every week.",
    "Most of the value comes from {b}; {c} is the multiplier.",
    "Pair {b} with a clear plan for {c} and the results follow.",
)
CLOSERS = (
    "What would you try first?",
    "Save this for your next planning session.",
    "Tell us how you handle {a} in the comments.",
    "Which of these surprised you?",
)
TITLES = ("Why {A} matters now", "{A}: a practical take", "Getting {A} right", "{A}, {b} and what comes next")


def estimate_tokens(text: str) -> int:
    """About 1.3 tokens per word, like English text through a BPE tokenizer."""
    return math.ceil(len(text.split()) * 1.3)


def quoted_text(message: str) -> str:
    """The text between <<< and >>>, else the whole message."""
    match = _QUOTED.search(message)
    return match.group(1) if match else message


def topic_words(text: str, count: int = 4) -> list[str]:
    """The most frequent content words of `text`, first occurrence breaking ties."""
    words = [word.lower().strip("'-") for word in _WORD.findall(text)]
    words = [word for word in words if word not in STOPWORDS and len(word) > 2]
    counts = Counter(words)
    order = {word: index for index, word in reversed(list(enumerate(words)))}
    return sorted(counts, key=lambda word: (-counts[word], order[word]))[:count]


def _pick(options: tuple[str, ...], seed: bytes, salt: int) -> str:
    return options[seed[salt] % len(options)]


def char_limit(messages_text: str) -> int | None:
    limits = [int(value) for value in _LIMIT.findall(messages_text)]
    return min(limits) if limits else None


def _trim(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - 1)].rsplit(" ", 1)[0].rstrip(" ,;:")
    return cut + "…"


def post(user: str, instructions: str) -> dict[str, object]:
    """A post about the user's topic: {"title", "content", "hashtags"}, obeying the instructions it understands."""
    lowered = instructions.lower()
    topics = topic_words(quoted_text(user)) or ["ideas", "growth", "focus"]
    while len(topics) < 3:
        topics.append(("growth", "focus", "results")[len(topics) % 3])
    a, b, c = topics[:3]
    seed = hashlib.sha256(user.encode("utf-8")).digest()
    with_emojis = not re.search(r"\bno emojis?\b|do not use emojis?|without emojis?", lowered)
    with_hashtags = not re.search(r"\bno hashtags?\b|do not use hashtags?|without hashtags?", lowered)
    emoji = _pick(EMOJIS, seed, 0) + " " if with_emojis else ""
    values = {"a": a, "A": a.capitalize(), "b": b, "c": c, "E": emoji}
    content = " ".join(
        part.format(**values) for part in (_pick(OPENERS, seed, 1), _pick(MIDDLES, seed, 2), _pick(CLOSERS, seed, 3))
    )
    limit = char_limit(instructions)
    hashtags = [topic.replace("'", "").replace("-", "") for topic in topics[:3]] if with_hashtags else []
    if limit is not None:
        # Leave room for the hashtags the caller appends.
        room = limit - sum(len(tag) + 2 for tag in hashtags)
        if room < 40:
            hashtags, room = hashtags[:1], limit - (len(hashtags[0]) + 2 if hashtags else 0)
        content = _trim(content, max(room, 10))
    return {"title": _pick(TITLES, seed, 4).format(**values), "content": content, "hashtags": hashtags}


def overlong(user: str, length: int) -> str:
    """Plain text of exactly `length` characters about the topic: a model ignoring every limit."""
    topics = topic_words(quoted_text(user)) or ["ideas"]
    sentence = f"There is so much more to say about {' and '.join(topics[:2])}, and we will say all of it. "
    text = sentence * (length // len(sentence) + 1)
    return text[:length]


def sentences(text: str) -> list[str]:
    return [part.strip() for part in _SENTENCE_END.split(text) if len(part.strip().split()) >= 3]


def key_points(user: str, instructions: str) -> dict[str, object]:
    """{"key_points": [...]}: the sentences of the quoted text richest in its topic words, in reading order."""
    text = quoted_text(user)
    wanted = _POINTS.findall(instructions + " " + user)
    limit = min(int(value) for value in wanted) if wanted else 5
    topics = set(topic_words(text, count=12))
    found = sentences(text)
    ranked = sorted(
        range(len(found)),
        key=lambda i: -sum(word.lower() in topics for word in _WORD.findall(found[i])),
    )[: max(limit, 0)]
    return {"key_points": [found[i][:300] for i in sorted(ranked)]}


TYPOS = {
    "teh": "the",
    "recieve": "receive",
    "definately": "definitely",
    "alot": "a lot",
    "seperate": "separate",
    "occured": "occurred",
    "untill": "until",
    "wich": "which",
}


def proofread(user: str) -> dict[str, object]:
    """{"text", "changes"}: the quoted text with typos, doubled spaces and sentence capitals fixed."""
    text = quoted_text(user)
    changes: list[str] = []
    for wrong, right in TYPOS.items():
        pattern = re.compile(rf"\b{wrong}\b", re.IGNORECASE)
        if pattern.search(text):
            text = pattern.sub(right, text)
            changes.append(f"Corrected “{wrong}” to “{right}”.")
    if re.search(r"\bi\b", text):
        text = re.sub(r"\bi\b", "I", text)
        changes.append("Capitalised “I”.")
    if re.search(r" {2,}", text):
        text = re.sub(r" {2,}", " ", text)
        changes.append("Removed doubled spaces.")
    if re.search(r"\s+([,.!?;:])", text):
        text = re.sub(r"\s+([,.!?;:])", r"\1", text)
        changes.append("Removed spaces before punctuation.")
    capitalised = re.sub(r"(^|[.!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)
    if capitalised != text:
        text = capitalised
        changes.append("Started each sentence with a capital letter.")
    return {"text": text, "changes": changes}

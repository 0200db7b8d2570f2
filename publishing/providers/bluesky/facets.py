"""Rich-text facets for Bluesky posts: links, @mentions and #hashtags with UTF-8 byte offsets.

Bluesky does not detect anything in a post's text: a URL, a mention or a hashtag
is only clickable when the record carries a facet for it
(`app.bsky.richtext.facet`). Facet ranges count **UTF-8 bytes** of the text, not
characters, so an accent or an emoji before a link moves the link's range.

The detection follows the official client's rules (@atproto/api `detectFacets`):
a mention or tag starts the text or follows whitespace (mentions also "("), trailing
punctuation is not part of a link or a tag, and a tag is at most 64 graphemes.
Unlike the official client we only link URLs with an explicit http(s):// scheme or
a `www.` prefix: bare domains ("example.com") need a full TLD list to tell them
from "file.txt", and a wrongly linked word is worse than an unlinked one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import regex

MAX_TAG_GRAPHEMES = 64
MAX_TAG_BYTES = 640

# Invisible characters that never belong to a tag (soft hyphen, word joiner, zero-width spaces/joiners).
_INVISIBLE = "\u00ad\u2060\u200a\u200b\u200c\u200d\u20e2"
_LINK = regex.compile(r"(?:^|(?<=[\s(]))((?:https?://|www\.)\S+)", regex.IGNORECASE)
_MENTION = regex.compile(r"(?:^|(?<=[\s(]))@([a-zA-Z0-9.-]+)\b")
# "#" or the full-width "\uff03", then a tag with at least one character that is not a digit or punctuation.
_TAG = regex.compile(
    r"(?:^|(?<=\s))[#\uff03]"
    rf"((?!\ufe0f)[^\s{_INVISIBLE}]*[^\d\s\p{{P}}{_INVISIBLE}]+[^\s{_INVISIBLE}]*)"
)
_TRAILING_PUNCTUATION = regex.compile(r"\p{P}+$")
# atproto handle syntax: dot-separated DNS labels, the last one starting with a letter.
HANDLE = regex.compile(r"^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")


def grapheme_count(text: str) -> int:
    """Count user-perceived characters (extended grapheme clusters), as Bluesky's 300 limit does."""
    return len(regex.findall(r"\X", text))


def is_handle(value: str) -> bool:
    return len(value) <= 253 and bool(HANDLE.match(value))


@dataclass(frozen=True)
class Span:
    """One detected link, mention or tag, by character offsets into the Python string."""

    kind: str  # "link", "mention" or "tag"
    start: int
    end: int
    value: str  # the full URI, the handle without "@", the tag without "#"


def find_spans(text: str) -> list[Span]:
    """Find every link, mention and hashtag in `text`, in order, without overlaps (links win)."""
    spans: list[Span] = []
    for match in _LINK.finditer(text):
        uri = match.group(1)
        # "see https://x.y/a.": the sentence's punctuation is not the URL's.
        uri = regex.sub("[.,;:!?\"'\u00bb\u201d\u2019]+$", "", uri)
        # "(see https://x.y/Foo_(bar))": keep the URL's own balanced parentheses, drop the sentence's.
        while uri.endswith(")") and uri.count(")") > uri.count("("):
            uri = regex.sub("[.,;:!?\"'\u00bb\u201d\u2019]+$", "", uri[:-1])
        if uri.lower() in ("http://", "https://", "www."):
            continue
        start = match.start(1)
        full = uri if uri.lower().startswith(("http://", "https://")) else f"https://{uri}"
        spans.append(Span("link", start, start + len(uri), full))
    for match in _MENTION.finditer(text):
        handle = match.group(1).rstrip(".-")
        if not is_handle(handle):
            continue
        start = match.start(1) - 1  # include the "@"
        spans.append(Span("mention", start, match.start(1) + len(handle), handle.lower()))
    for match in _TAG.finditer(text):
        tag = _TRAILING_PUNCTUATION.sub("", match.group(1).strip())
        if not tag:
            continue
        start = match.start(1) - 1  # include the "#"
        spans.append(Span("tag", start, match.start(1) + len(tag), tag))
    spans.sort(key=lambda span: (span.start, span.kind != "link"))
    kept: list[Span] = []
    for span in spans:
        # A "#" or "@" inside a URL is part of the URL, never a tag or a mention of its own.
        if kept and span.start < kept[-1].end:
            continue
        kept.append(span)
    return kept


def tag_is_too_long(tag: str) -> bool:
    return grapheme_count(tag) > MAX_TAG_GRAPHEMES or len(tag.encode()) > MAX_TAG_BYTES


def byte_slice(text: str, start: int, end: int) -> dict[str, int]:
    """The `app.bsky.richtext.facet#byteSlice` of text[start:end]: UTF-8 byte offsets, end exclusive."""
    byte_start = len(text[:start].encode("utf-8"))
    return {"byteStart": byte_start, "byteEnd": byte_start + len(text[start:end].encode("utf-8"))}


def build_facets(text: str, resolve_handle: Callable[[str], str | None]) -> list[dict[str, Any]]:
    """Build the facets for every link, resolvable mention and valid tag in `text`.

    `resolve_handle(handle)` returns the account's DID, or None when the handle does not
    resolve; such a mention stays plain text (a mention facet must carry a DID). Each
    handle is resolved once. Tags over 64 graphemes are left out, as the lexicon refuses them.
    """
    facets: list[dict[str, Any]] = []
    resolved: dict[str, str | None] = {}
    for span in find_spans(text):
        if span.kind == "link":
            feature = {"$type": "app.bsky.richtext.facet#link", "uri": span.value}
        elif span.kind == "mention":
            if span.value not in resolved:
                resolved[span.value] = resolve_handle(span.value)
            did = resolved[span.value]
            if not did:
                continue
            feature = {"$type": "app.bsky.richtext.facet#mention", "did": did}
        else:
            if tag_is_too_long(span.value):
                continue
            feature = {"$type": "app.bsky.richtext.facet#tag", "tag": span.value}
        facets.append({"index": byte_slice(text, span.start, span.end), "features": [feature]})
    return facets

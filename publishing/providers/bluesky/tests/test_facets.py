"""Facets: UTF-8 byte offsets, links, mentions and tags as the official Bluesky client detects them."""

from __future__ import annotations

import pytest

from publishing.providers.bluesky.facets import build_facets, find_spans, grapheme_count

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # 7 code points, 25 bytes, 1 grapheme
THUMB_MEDIUM = "\U0001f44d\U0001f3fd"  # thumbs up + skin tone: 2 code points, 8 bytes, 1 grapheme
FLAG = "\U0001f1e9\U0001f1ea"  # regional indicators D + E: 1 grapheme
E_COMBINING = "e\u0301"  # "é" as e + combining acute: 1 grapheme, 3 bytes


def no_resolver(handle: str) -> str | None:
    raise AssertionError(f"nothing to resolve, asked for {handle}")


def sliced(text: str, facet: dict) -> str:
    index = facet["index"]
    return text.encode("utf-8")[index["byteStart"] : index["byteEnd"]].decode("utf-8")


def test_link_offsets_count_utf8_bytes_after_accents_and_emoji():
    prefix = f"Café {FAMILY} déjà vu {THUMB_MEDIUM} {E_COMBINING} → "
    url = "https://example.com/ünï?q=1&x=%20"
    text = f"{prefix}{url} ok"

    facets = build_facets(text, no_resolver)

    assert len(facets) == 1
    assert facets[0]["features"] == [{"$type": "app.bsky.richtext.facet#link", "uri": url}]
    assert facets[0]["index"] == {
        "byteStart": len(prefix.encode("utf-8")),
        "byteEnd": len(prefix.encode("utf-8")) + len(url.encode("utf-8")),
    }
    # Character offsets would be wrong here: the prefix has far more bytes than characters.
    assert facets[0]["index"]["byteStart"] != len(prefix)
    assert sliced(text, facets[0]) == url


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see https://example.com/a.", "https://example.com/a"),
        ("(https://example.com/b)", "https://example.com/b"),
        ("(https://en.wikipedia.org/wiki/Foo_(bar)).", "https://en.wikipedia.org/wiki/Foo_(bar)"),
        ("go to www.example.org/path, now", "https://www.example.org/path"),
        ("HTTP://EXAMPLE.COM/X!", "HTTP://EXAMPLE.COM/X"),
    ],
)
def test_links_leave_the_sentence_punctuation_out(text, expected):
    spans = [span for span in find_spans(text) if span.kind == "link"]

    assert [span.value for span in spans] == [expected]


def test_a_bare_domain_is_not_linked():
    assert find_spans("read example.com and file.txt") == []


def test_mentions_resolve_each_handle_once_to_a_did():
    asked: list[str] = []

    def resolve(handle: str) -> str | None:
        asked.append(handle)
        return {"alice.bsky.social": "did:plc:alice"}.get(handle)

    text = f"{FLAG} Hi @Alice.bsky.social! cc @alice.bsky.social, @ghost.example.com and me@mail.example.com @nodot"

    facets = build_facets(text, resolve)

    assert asked == ["alice.bsky.social", "ghost.example.com"]
    assert [f["features"] for f in facets] == [
        [{"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:alice"}]
    ] * 2
    assert [sliced(text, f) for f in facets] == ["@Alice.bsky.social", "@alice.bsky.social"]


@pytest.mark.parametrize(
    ("text", "tags"),
    [
        ("#letsgrow", ["letsgrow"]),
        ("Love it #café!", ["café"]),
        ("#1 and #2024 are numbers", []),
        ("#2024goals", ["2024goals"]),
        ("no x#tag inside words", []),
        ("full width \uff03tag", ["tag"]),
        ("#tag. #other,", ["tag", "other"]),
        ("https://example.com/#anchor is a link", []),
        ("#" + "a" * 64, ["a" * 64]),
    ],
)
def test_tags(text, tags):
    facets = build_facets(text, no_resolver)

    tag_facets = [f for f in facets if f["features"][0]["$type"] == "app.bsky.richtext.facet#tag"]
    assert [f["features"][0]["tag"] for f in tag_facets] == tags
    # The range covers the "#" and the tag, never the punctuation after it.
    assert [sliced(text, f)[1:] for f in tag_facets] == tags


def test_a_tag_over_64_graphemes_gets_no_facet():
    assert build_facets("#" + "a" * 65, no_resolver) == []


def test_overlapping_spans_keep_the_link():
    text = "https://mastodon.social/@user/#tag"

    facets = build_facets(text, no_resolver)

    assert len(facets) == 1
    assert facets[0]["features"][0]["uri"] == text


def test_facets_come_in_text_order_with_exact_slices():
    text = f"{FAMILY} #first https://a.example/x @bob.bsky.social #last"

    facets = build_facets(text, lambda handle: "did:plc:bob")

    assert [sliced(text, f) for f in facets] == ["#first", "https://a.example/x", "@bob.bsky.social", "#last"]
    starts = [f["index"]["byteStart"] for f in facets]
    assert starts == sorted(starts)


@pytest.mark.parametrize(
    ("text", "count"),
    [("", 0), ("abc", 3), (FAMILY, 1), (THUMB_MEDIUM, 1), (FLAG, 1), (E_COMBINING, 1), (f"a{FAMILY}b", 3)],
)
def test_grapheme_count(text, count):
    assert grapheme_count(text) == count

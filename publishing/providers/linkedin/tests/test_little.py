"""The little text format: escaping, hashtag templates, and reading it back as LinkedIn shows it."""

from __future__ import annotations

import pytest

from publishing.providers.linkedin import little

RESERVED = "\\|{}@[]()<>#*_~"


@pytest.mark.parametrize("char", list(RESERVED))
def test_every_reserved_character_is_escaped_and_reads_back(char):
    text = f"before {char} after"

    commentary = little.to_commentary(text)

    assert commentary == f"before \\{char} after"
    assert little.render(commentary) == little.Rendered(text)


def test_a_text_full_of_reserved_characters_round_trips():
    text = "Price (EUR) <50> ~ *new* [beta] {x|y} me@example.com C:\\path snake_case #launch! #2"

    assert little.render(little.to_commentary(text)).text == text


def test_hashtags_become_templates_so_they_stay_clickable():
    assert little.to_commentary("Hello #LetsGrow and #Café2026!") == (
        "Hello {hashtag|\\#|LetsGrow} and {hashtag|\\#|Café2026}!"
    )


@pytest.mark.parametrize(
    ("text", "commentary"),
    [
        ("C# rocks", "C\\# rocks"),  # glued to a word: not a tag
        ("issue #42", "issue \\#42"),  # digits only: a number, not a tag
        ("a#b", "a\\#b"),
        ("#my_tag", "{hashtag|\\#|my}\\_tag"),  # an underscore ends the tag
        ("# alone", "\\# alone"),
    ],
)
def test_what_is_not_a_hashtag_is_escaped_text(text, commentary):
    assert little.to_commentary(text) == commentary
    assert little.render(commentary).text == text


def test_an_unescaped_reserved_character_cuts_the_text_where_linkedin_would():
    rendered = little.render("Launch day (finally)!")

    assert rendered.text == "Launch day "
    assert rendered.truncated_at == len("Launch day ")
    assert rendered.is_truncated


def test_templates_and_mentions_render_as_linkedin_shows_them():
    commentary = "Hi @[Acme Corp](urn:li:organization:1234), see {hashtag|#|news} and {hashtag|\\#|more}"

    assert little.render(commentary) == little.Rendered("Hi Acme Corp, see #news and #more")


def test_length_counts_utf16_units():
    assert little.utf16_length("ab") == 2
    assert little.utf16_length("😀") == 2
    assert little.utf16_length("é") == 1

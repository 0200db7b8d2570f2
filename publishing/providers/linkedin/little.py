"""LinkedIn's "little" text format, used by the Posts API `commentary` field.

little (learn.microsoft.com, community-management/shares/little-text-format) reserves
``\\ | { } @ [ ] ( ) < > # * _ ~``. Each must be backslash-escaped to be plain text:
LinkedIn does not reject an unescaped one, it silently cuts the post at the first one and
still answers 201 (crossposter v1.1.5 release note, @linkedctl/core escape.ts).

Our choice for hashtags: a ``#tag`` the user typed becomes LinkedIn's HashtagTemplate
``{hashtag|\\#|tag}``, so it stays a clickable hashtag; an escaped ``\\#tag`` would only render
as the text "#tag". [U] Doc versions differ on the sign inside the template: older pages show
``{hashtag|#|tag}``, newer ones ``{hashtag|\\#|tag}``; we send the escaped form, which is also
valid little where ``#`` must be escaped everywhere.
[U] Only letters and digits make up a tag: an underscore ends it (and is then escaped as text),
because we could not confirm that LinkedIn hashtags may contain one.
[U] URLs are escaped like any other text (``_``, ``~``, ``#``, ``(``…); the little page says
nothing about links, and a complete post matters more than a perfectly auto-linked URL.
Mentions (``@[Name](urn:li:person:…)``) need a URN we do not have, so a typed ``@name`` is text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RESERVED = frozenset("\\|{}@[]()<>#*_~")

# A hashtag: "#" not glued to a preceding word ("C#", "a#b", "&#38;" are not tags), then letters
# and digits with at least one letter ("#1" is a number, not a tag).
_HASHTAG = re.compile(r"(?<![\w&])#(?=[^\W_]*[^\W\d_])([^\W_]+)")

# What LinkedIn itself parses as little elements besides escaped text.
_TEMPLATE = re.compile(r"\{hashtag\|(\\#|#|\\\uff03|\uff03)\|((?:\\.|[^\\{}|])+)\}")
_MENTION = re.compile(r"@\[((?:\\.|[^\\\]])+)\]\((urn:li:[A-Za-z]+:[^)\s]+)\)")
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


def escape(text: str) -> str:
    """Backslash-escape every little reserved character, so LinkedIn shows `text` as is."""
    return "".join("\\" + char if char in RESERVED else char for char in text)


def hashtag(tag: str) -> str:
    """LinkedIn's HashtagTemplate for `tag` (without the sign)."""
    return "{hashtag|\\#|" + escape(tag) + "}"


def to_commentary(text: str) -> str:
    """The `commentary` to send for plain `text`: reserved characters escaped, hashtags as templates."""
    parts: list[str] = []
    position = 0
    for match in _HASHTAG.finditer(text):
        parts.append(escape(text[position : match.start()]))
        parts.append(hashtag(match.group(1)))
        position = match.end()
    parts.append(escape(text[position:]))
    return "".join(parts)


@dataclass(frozen=True)
class Rendered:
    """What LinkedIn shows for a commentary, and where it cut it (None: shown in full)."""

    text: str
    truncated_at: int | None = None

    @property
    def is_truncated(self) -> bool:
        return self.truncated_at is not None


def render(commentary: str) -> Rendered:
    """Read little as LinkedIn does: escapes resolved, templates and mentions shown, cut at a stray reserved char."""
    out: list[str] = []
    i, length = 0, len(commentary)
    while i < length:
        char = commentary[i]
        if char == "\\" and i + 1 < length and commentary[i + 1] in RESERVED:
            out.append(commentary[i + 1])
            i += 2
            continue
        if char == "{" and (match := _TEMPLATE.match(commentary, i)):
            sign = match.group(1).lstrip("\\")
            out.append(sign + _unescape(match.group(2)))
            i = match.end()
            continue
        if char == "@" and (match := _MENTION.match(commentary, i)):
            out.append(_unescape(match.group(1)))
            i = match.end()
            continue
        if char in RESERVED:
            return Rendered("".join(out), truncated_at=i)
        out.append(char)
        i += 1
    return Rendered("".join(out))


def utf16_length(text: str) -> int:
    """Length in UTF-16 code units. [U] LinkedIn's limit is most likely checked on a Java string."""
    return len(text.encode("utf-16-le")) // 2


def _unescape(value: str) -> str:
    return _ESCAPE.sub(r"\1", value)

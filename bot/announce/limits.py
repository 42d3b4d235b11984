"""Discord's size limits, grapheme-safe truncation, markdown escaping and inert mentions.

Lengths are counted in code points (Python `len`), as Discord's API counts them. Truncation
never splits a user-perceived character (an emoji ZWJ sequence, a flag, a base letter and its
combining marks): it works on extended grapheme clusters found with the `regex` module's `\\X`.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import urlsplit

import regex

from bot.fetch.guard import non_public_reason, parse_ip_host
from bot.textutil import clean_text

CONTENT_LIMIT: Final = 2000
EMBED_TITLE_LIMIT: Final = 256
EMBED_DESCRIPTION_LIMIT: Final = 4096
EMBED_FOOTER_LIMIT: Final = 2048
EMBED_AUTHOR_LIMIT: Final = 256
EMBED_FIELD_NAME_LIMIT: Final = 256
EMBED_FIELD_VALUE_LIMIT: Final = 1024
EMBED_MAX_FIELDS: Final = 25
EMBEDS_TOTAL_LIMIT: Final = 6000  # across every embed of one message
MAX_EMBEDS: Final = 10
THREAD_NAME_LIMIT: Final = 100
WEBHOOK_USERNAME_LIMIT: Final = 80
BUTTON_LABEL_LIMIT: Final = 80
CUSTOM_ID_LIMIT: Final = 100
BUTTON_URL_LIMIT: Final = 512
URL_LIMIT: Final = 2048
MAX_APPLIED_TAGS: Final = 5
MAX_BUTTONS_PER_ROW: Final = 5

ELLIPSIS: Final = "…"
ZWSP: Final = "\u200b"

_GRAPHEME = regex.compile(r"\X")
# Whitespace, C0 controls, DEL and the characters a valid URL percent-encodes: raw in a URL,
# they could close markup or form a mention.
_URL_UNSAFE = re.compile(r'[\s\x00-\x1f<>"\\`\x7f]')
# Below U+0300, where combining marks begin, every code point is a grapheme cluster of its own
# except CR LF, which is one; text without either needs no segmentation, the regex module's
# `\X` costs about 0.3 us a character (a test checks every pair of code points in that range).
_NEEDS_SEGMENTING = re.compile("[^\x00-\u02ff]|\r\n")
# Discord autolinks bare URLs before applying markdown, so escaping inside them would break them.
_BARE_URL = re.compile(r"https?://[^\s<>]+[^\s<>.,:;\"'\]\)]")
# Characters that start inline markdown anywhere in a line, and masked-link brackets.
_INLINE_MARKDOWN = re.compile(r"([\\*_~`|\[\]])")
# Block markdown only counts at the start of a line: quotes, headings, subtext, lists.
# [^\S\n]: a line's own leading whitespace; \s* would run on through every following empty
# line from each line start, quadratic in a run of newlines.
_LINE_START_MARKDOWN = re.compile(r"^([^\S\n]*)([>#+-])", re.MULTILINE)
_ORDERED_LIST = re.compile(r"^([^\S\n]*\d+)\.(?=\s)", re.MULTILINE)
_MASS_MENTION = re.compile(r"@(everyone|here)", re.IGNORECASE)
# <@123>, <@!123>, <@&123>, <#123>, </command:123>: a zero-width space after `<` breaks them.
_BRACKET_MENTION = re.compile(r"<(?=[@#/])")


def graphemes(text: str) -> list[str]:
    """Split text into user-perceived characters (extended grapheme clusters)."""
    if _NEEDS_SEGMENTING.search(text) is None:
        return list(text)  # every code point is a cluster of its own (see _NEEDS_SEGMENTING)
    found: list[str] = _GRAPHEME.findall(text)
    return found


def neutralise_mentions(text: str) -> str:
    """Make @everyone, @here and <@…>/<@&…>/<#…> render literally and never ping."""
    text = _MASS_MENTION.sub(lambda m: "@" + ZWSP + m.group(1), text)
    return _BRACKET_MENTION.sub("<" + ZWSP, text)


def escape_markdown(text: str) -> str:
    """Backslash-escape Discord markdown so feed text renders as written; bare URLs stay intact."""
    pieces: list[str] = []
    position = 0
    for match in _BARE_URL.finditer(text):
        pieces.append(_escape_plain(text[position : match.start()]))
        pieces.append(match.group(0))
        position = match.end()
    pieces.append(_escape_plain(text[position:]))
    return "".join(pieces)


def _escape_plain(text: str) -> str:
    text = _INLINE_MARKDOWN.sub(r"\\\1", text)
    text = _LINE_START_MARKDOWN.sub(r"\1\\\2", text)
    return _ORDERED_LIST.sub(r"\1\\.", text)


def hostile_to_markdown(text: str, *, single_line: bool = False) -> str:
    """Clean, neutralise mentions and escape markdown: the one way feed text enters a message."""
    return escape_markdown(neutralise_mentions(clean_text(text, single_line=single_line)))


def hostile_to_plain(text: str) -> str:
    """Clean to one line and neutralise mentions, for places Discord shows without markdown."""
    return neutralise_mentions(clean_text(text, single_line=True))


def truncate(text: str, limit: int, *, ellipsis: str = ELLIPSIS) -> str:
    """Shorten text to at most `limit` code points at a grapheme (and if possible word) boundary.

    A cut text ends with `ellipsis`. The cut prefers the last space when it keeps at least
    60 % of the room, so words are not chopped; scripts without spaces are cut per grapheme.
    A dangling markdown escape backslash at the cut is dropped so it cannot escape the ellipsis.
    """
    if limit < 0:
        raise ValueError("limit must not be negative")
    if len(text) <= limit:
        return text
    room = limit - len(ellipsis)
    if room <= 0:
        return "".join(_fit_graphemes(ellipsis, limit))
    kept = _fit_graphemes(text, room)
    # Work on whole clusters throughout, so stripping can never orphan a combining mark.
    last_space = next(
        (index for index in range(len(kept) - 1, -1, -1) if kept[index].isspace()), None
    )
    if last_space is not None and len("".join(kept[:last_space])) >= room * 0.6:
        del kept[last_space:]
    _drop_trailing_space(kept)
    backslashes = 0
    while backslashes < len(kept) and kept[-1 - backslashes] == "\\":
        backslashes += 1
    if backslashes % 2:
        kept.pop()
        _drop_trailing_space(kept)
    return "".join(kept) + ellipsis


def _drop_trailing_space(clusters: list[str]) -> None:
    while clusters and clusters[-1].isspace():
        clusters.pop()


def _fit_graphemes(text: str, room: int) -> list[str]:
    """The longest run of whole graphemes from the start of text that fits in `room`."""
    # Only look at a bounded prefix: a grapheme is rarely longer than a few dozen code points.
    prefix = text[: room + 64]
    if _NEEDS_SEGMENTING.search(prefix) is None:
        return list(prefix[:room])
    kept: list[str] = []
    used = 0
    for cluster in graphemes(prefix):
        if used + len(cluster) > room:
            break
        kept.append(cluster)
        used += len(cluster)
    return kept


def safe_image_url(url: str | None) -> str | None:
    """`safe_url`, and never a loopback, private or link-local address: Discord would be asked
    to fetch it for the embed, and from Discord's side such an address is never the publisher's.
    """
    checked = safe_url(url)
    if checked is None:
        return None
    host = (urlsplit(checked).hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return None
    address = parse_ip_host(host)
    if address is not None and non_public_reason(address) is not None:
        return None
    return checked


def safe_url(url: str | None, *, limit: int = URL_LIMIT) -> str | None:
    """The URL if it is an absolute http(s) URL with a host that fits `limit`; else None."""
    if not url:
        return None
    url = url.strip()
    if len(url) > limit or _URL_UNSAFE.search(url):
        return None
    try:
        url.encode("utf-8")  # lone surrogates could be neither sent nor stored
        parts = urlsplit(url)
    except (ValueError, UnicodeEncodeError):
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url

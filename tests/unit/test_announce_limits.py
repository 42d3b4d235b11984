"""Grapheme-safe truncation, markdown escaping, inert mentions and URL checks."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.announce import limits
from bot.announce.limits import (
    ELLIPSIS,
    ZWSP,
    escape_markdown,
    graphemes,
    hostile_to_markdown,
    neutralise_mentions,
    safe_url,
    truncate,
)

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # man, woman, girl joined by ZWJ
FLAG_FR = "\U0001f1eb\U0001f1f7"
E_ACUTE_DECOMPOSED = "e\u0301"


def test_short_text_is_returned_unchanged() -> None:
    assert truncate("Rent strike wins", 16) == "Rent strike wins"


def test_cut_prefers_a_word_boundary_and_ends_with_an_ellipsis() -> None:
    assert truncate("Tenants win repairs after long strike", 20) == "Tenants win repairs…"


def test_cut_without_spaces_falls_back_to_graphemes() -> None:
    assert truncate("労働者の住宅問題について", 6) == "労働者の住…"


def _boundaries(text: str) -> set[int]:
    """Offsets at which a grapheme starts or the text ends."""
    offsets = {0}
    for cluster in graphemes(text):
        offsets.add(max(offsets) + len(cluster))
    return offsets


@pytest.mark.parametrize("cluster", [FAMILY, FLAG_FR, E_ACUTE_DECOMPOSED, "\U0001f44d\U0001f3fd"])
def test_cut_never_splits_a_grapheme(cluster: str) -> None:
    text = "ab" + cluster * 10
    for limit in range(len(text)):
        cut = truncate(text, limit)
        assert len(cut) <= limit
        body = cut.removesuffix(ELLIPSIS)
        assert text.startswith(body)
        assert len(body) in _boundaries(text)


def test_emoji_at_the_cut_point_is_dropped_whole() -> None:
    text = "x" * 8 + FAMILY + "tail"
    assert truncate(text, 12) == "x" * 8 + ELLIPSIS


def test_dangling_escape_backslash_is_not_left_before_the_ellipsis() -> None:
    escaped = escape_markdown("aaaa*bbbb")  # aaaa\*bbbb
    assert truncate(escaped, 6) == "aaaa…"


def test_tiny_limits_still_fit() -> None:
    assert truncate("hello", 0) == ""
    assert truncate("hello", 1) == ELLIPSIS


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.integers(min_value=0, max_value=320))
def test_truncation_fits_and_keeps_whole_graphemes(text: str, limit: int) -> None:
    cut = truncate(text, limit)
    assert len(cut) <= limit
    if len(text) <= limit:
        assert cut == text
    else:
        body = cut.removesuffix(ELLIPSIS)
        assert cut.endswith(ELLIPSIS) or limit == 0
        assert text.startswith(body)
        assert len(body) in _boundaries(text)


def test_inline_markdown_is_escaped() -> None:
    assert escape_markdown("**bold** _it_ ~~s~~ `c` ||sp||") == (
        r"\*\*bold\*\* \_it\_ \~\~s\~\~ \`c\` \|\|sp\|\|"
    )


def test_masked_links_and_block_markdown_are_escaped() -> None:
    text = "# Heading\n> quote\n- item\n-# small\n1. first\n[click](https://evil.example)"
    assert escape_markdown(text) == (
        "\\# Heading\n\\> quote\n\\- item\n\\-# small\n1\\. first\n"
        "\\[click\\](https://evil.example)"
    )


def test_hyphens_inside_lines_are_left_alone() -> None:
    assert escape_markdown("left-wing 10 - 5") == "left-wing 10 - 5"


def test_bare_urls_keep_their_underscores() -> None:
    assert escape_markdown("see https://example.org/a_b_c. _x_") == (
        "see https://example.org/a_b_c. \\_x\\_"
    )


def test_backslash_is_escaped_first() -> None:
    assert escape_markdown("a\\*b") == "a\\\\\\*b"


@pytest.mark.parametrize(
    ("raw", "inert"),
    [
        ("@everyone", f"@{ZWSP}everyone"),
        ("@HERE now", f"@{ZWSP}HERE now"),
        ("<@123456>", f"<{ZWSP}@123456>"),
        ("<@!123>", f"<{ZWSP}@!123>"),
        ("<@&1>", f"<{ZWSP}@&1>"),
        ("<#42>", f"<{ZWSP}#42>"),
        ("</cmd:1>", f"<{ZWSP}/cmd:1>"),
        ("mail me@example.org", "mail me@example.org"),
    ],
)
def test_mentions_are_made_inert(raw: str, inert: str) -> None:
    assert neutralise_mentions(raw) == inert


def test_hostile_text_loses_bidi_controls_and_mentions() -> None:
    cleaned = hostile_to_markdown("\u202eevil\u2066 @everyone\x00 *x*", single_line=True)
    assert cleaned == f"evil @{ZWSP}everyone \\*x\\*"
    assert all(unicodedata.category(ch) != "Cc" for ch in cleaned)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.org/a?b=1", "https://example.org/a?b=1"),
        ("http://example.org", "http://example.org"),
        ("javascript:alert(1)", None),
        ("data:image/png;base64,AAAA", None),
        ("ftp://example.org/file", None),
        ("//example.org/a", None),
        ("https://exa mple.org", None),
        ("https://example.org/\ud800", None),
        ("https://", None),
        ("", None),
        (None, None),
        ("https://example.org/" + "a" * 3000, None),
    ],
)
def test_only_http_urls_survive(url: str | None, expected: str | None) -> None:
    assert safe_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1/logo.png",
        "http://0x7f.1/logo.png",
        "http://[::ffff:127.0.0.1]/a.png",
        "http://10.0.0.5/a.png",
        "http://localhost/a.png",
        "https://cdn.localhost/a.png",
    ],
)
def test_images_on_private_hosts_are_dropped(url: str) -> None:
    assert limits.safe_image_url(url) is None
    assert limits.safe_url(url) == url  # links stay: the reader's browser, not Paperboy, opens them


def test_public_images_are_kept() -> None:
    assert (
        limits.safe_image_url("https://cdn.paper.example/a.png")
        == "https://cdn.paper.example/a.png"
    )


def test_below_combining_marks_every_code_point_is_its_own_grapheme_except_cr_lf() -> None:
    """The ground `graphemes`' shortcut stands on, checked for every pair in the range against
    the regex module's own segmentation (the shortcut's range ends where combining marks start)."""
    import regex

    cluster = regex.compile(r"\X")
    joined = [
        (first, second)
        for first in range(0x300)
        for second in range(0x300)
        if cluster.fullmatch(chr(first) + chr(second))
    ]
    assert joined == [(0x0D, 0x0A)]
    # Not vacuous: the first combining mark does join what stands before it.
    assert cluster.fullmatch("e\u0301")


@given(st.text(alphabet=st.characters(max_codepoint=0x330)), st.integers(0, 80))
@settings(max_examples=1000, deadline=None)
def test_the_grapheme_shortcut_splits_and_cuts_as_full_segmentation_does(
    text: str, limit: int
) -> None:
    assert graphemes(text) == limits._GRAPHEME.findall(text)
    full = limits._GRAPHEME.findall(text[: limit + 64])
    fitted, used = [], 0
    for found in full:
        if used + len(found) > limit:
            break
        fitted.append(found)
        used += len(found)
    assert limits._fit_graphemes(text, limit) == fitted


@given(st.text(alphabet=st.characters(max_codepoint=0x3000), max_size=40))
@settings(max_examples=1000, deadline=None)
def test_unsafe_url_characters_are_those_a_url_must_percent_encode(tail: str) -> None:
    url = "https://example.com/" + tail
    unsafe = any(ch.isspace() or ch in '<>"\\`\x7f' or ord(ch) < 32 for ch in url)
    assert (limits._URL_UNSAFE.search(url) is not None) == unsafe

"""html_to_text, the shared HTML-to-plain-text helper added for feeds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.textutil import _LINE, _PARAGRAPH, _extract_text, clean_text, html_to_text, strip_unsafe


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>One</p><p>Two</p>", "One\n\nTwo"),
        ("<p>Line<br>break</p>", "Line\nbreak"),
        ("Source\n  newlines are spaces", "Source newlines are spaces"),
        ("<script>alert(1)</script><style>p{}</style>Visible", "Visible"),
        ("Tom &amp;amp; Jerry", "Tom &amp; Jerry"),
        ("&lt;b&gt;not a tag&lt;/b&gt;", "<b>not a tag</b>"),
        ("<ul><li>a</li><li>b</li></ul>", "a\n\nb"),
        ("<b>bold</b> <i>and</i> plain", "bold and plain"),
        ("x\u202ey", "xy"),
        ("<p>\x00nul</p>", "nul"),
        ("", ""),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>a <!-- hidden --> b</p>", "a b"),
        ("<p>a <!-- not closed <b>bold</b>", "a <!-- not closed bold"),
        ("x <!--<b>y", "x <!--y"),  # the opener is text; the tag after it is still a tag
        ("<![if !supportLists]>1.<![endif]> Point", "1. Point"),  # Word's conditional sections
        ("<![CDATA[ kept out ]]>after", "after"),
        ("<![CDATA[ never closed <i>x</i>", "<![CDATA[ never closed x"),
        ("<![ x ]> z", "<![ x ]> z"),  # Python 3.11's _markupbase raised AssertionError here
        ("<![foo[ x ]]> z", "<![foo[ x ]]> z"),
        ("rents < wages & <b>more", "rents < wages & more"),
        ("ends on <a href='x", "ends on <a href='x"),
    ],
)
def test_html_to_text_unclosed_markup(html: str, text: str) -> None:
    assert html_to_text(html) == text


def parsed_as_given(html: str) -> str:
    """HTMLParser over the text as it came: what html_to_text did before it made markup
    linear, and still does wherever that changes nothing."""
    text = _extract_text(html.replace("\x00", ""))
    return clean_text(text.replace(_PARAGRAPH, "\n\n").replace(_LINE, "\n"))


@given(st.text(alphabet="<>/ab p&;#x=\"' -\n", max_size=80))
def test_markup_without_declarations_reads_as_it_did(html: str) -> None:
    # Without "<!" the only rewriting is of the `<` after the last `>`, which HTMLParser makes
    # text anyway, piece by piece.
    assert html_to_text(html) == parsed_as_given(html)


@given(st.text())
def test_html_to_text_never_fails_and_is_clean(html: str) -> None:
    text = html_to_text(html)
    assert text == clean_text(text)


def test_strip_unsafe_keeps_whitespace() -> None:
    assert strip_unsafe("<pre>  a\n\n\n\tb</pre>\u202e") == "<pre>  a\n\n\n\tb</pre>"


@given(
    st.one_of(st.text(alphabet=st.characters(max_codepoint=0x7F)), st.text()),
    st.booleans(),
)
def test_the_printable_ascii_shortcut_cleans_as_the_full_rules_do(
    text: str, single_line: bool
) -> None:
    from bot.textutil import clean_text_fully

    assert clean_text(text, single_line=single_line) == clean_text_fully(
        text, single_line=single_line
    )

"""html_to_text, the shared HTML-to-plain-text helper added for feeds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.textutil import clean_text, html_to_text, strip_unsafe


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

"""Text helpers shared by the pipeline: everything from outside passes through `clean_text`."""

from __future__ import annotations

import re
import unicodedata
from html.parser import HTMLParser

# C0 and C1 controls except tab and newline, DEL, and the bidirectional overrides and isolates
# that can make a title render backwards or hide text (Trojan Source, CVE-2021-42574).
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff\ufff9-\ufffb]"
)
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u3000]+")


def clean_text(text: str, *, single_line: bool = False) -> str:
    """Normalise to NFC, drop control and bidi-override characters, tidy whitespace."""
    if text.isascii() and text.isprintable():
        # The common case (guids, links, short titles): NFC, the UTF-8 round trip and the
        # control filter change nothing, and the only whitespace is the plain space.
        if "  " in text or text.startswith(" ") or text.endswith(" "):
            return " ".join(text.split())
        return text
    return clean_text_fully(text, single_line=single_line)


def clean_text_fully(text: str, *, single_line: bool = False) -> str:
    """`clean_text` without its shortcut for printable ASCII (the rules it must agree with)."""
    text = unicodedata.normalize("NFC", text)
    # Lone surrogates cannot be encoded to UTF-8 and would break Discord and SQLite alike.
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _UNSAFE.sub("", text)
    if single_line:
        return " ".join(text.split())
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# Elements whose text is never content: code, styling, and embedded documents.
_SKIPPED_TAGS = frozenset(
    {"script", "style", "template", "noscript", "iframe", "object", "svg", "math", "head", "title"}
)
# Elements that start a new paragraph, so their text does not run into the neighbour's.
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "dd", "details", "div", "dl", "dt",
        "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
        "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "tr", "ul",
    }
)  # fmt: skip
_HTML_WHITESPACE = re.compile(r"[ \t\n\r\f]+")
_PARAGRAPH = "\x00P"  # a marker no cleaned text contains; becomes a blank line at the end
_LINE = "\x00L"


class _TextExtractor(HTMLParser):
    """Collects the readable text of an HTML fragment, one pass, no tree."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self._skip_depth = 0
        self._pre_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth += 1
        elif tag == "br":
            self.pieces.append(_LINE)
        elif tag in _BLOCK_TAGS:
            self.pieces.append(_PARAGRAPH)
            if tag == "pre":
                self._pre_depth += 1
        elif tag in ("td", "th"):
            self.pieces.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <br/> and friends: treat as a start tag, but never open a skipped region.
        if tag == "br":
            self.pieces.append(_LINE)
        elif tag in _BLOCK_TAGS:
            self.pieces.append(_PARAGRAPH)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK_TAGS:
            self.pieces.append(_PARAGRAPH)
            if tag == "pre":
                self._pre_depth = max(0, self._pre_depth - 1)

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        if self._pre_depth:
            self.pieces.append(data.replace("\n", _LINE))
        else:
            # Line breaks in HTML source are just spaces; only tags make paragraphs.
            self.pieces.append(_HTML_WHITESPACE.sub(" ", data))


# What HTMLParser searches for after an opener (html.parser and _markupbase, Python 3.11).
_COMMENT_OPEN = re.compile("<!--")
_COMMENT_CLOSE = re.compile(r"--\s*>")
_SECTION_OPEN = re.compile(r"<!\[(?i:temp|cdata|ignore|include|rcdata)(?![-_.a-zA-Z0-9])")
_SECTION_CLOSE = re.compile(r"]\s*]\s*>")
_WORD_SECTION_OPEN = re.compile(r"<!\[(?i:if|else|endif)(?![-_.a-zA-Z0-9])")  # Word's <![if ...]>
_WORD_SECTION_CLOSE = re.compile(r"]\s*>")


def _escape_unclosed(
    html: str, opener: re.Pattern[str], close: re.Pattern[str], searched_from: int
) -> str:
    """`html` with the `<` of every `opener` whose close (searched for from `searched_from`
    characters after the opener's start, as HTMLParser does) does not come, written as `&lt;`.

    Python 3.11's HTMLParser (3.11.7 here; CPython gh-135462, CVE-2025-6069) searches the rest
    of the text for the close of each such opener and, finding none, moves on by a few
    characters: time quadratic in the input. Escaped, the opener is text, as HTMLParser makes
    it at the end of the text, and costs nothing.
    """
    last_close = -1
    for found in close.finditer(html):
        last_close = found.start()
    return opener.sub(
        lambda found: (
            found.group()
            if found.start() + searched_from <= last_close
            else "&lt;" + found.group()[1:]
        ),
        html,
    )


def _linear_markup(html: str) -> str:
    """`html` rewritten so that HTMLParser reads it in linear time, with the same text for every
    construct it can close; what it cannot close becomes text (as it does at the end anyway)."""
    last_gt = html.rfind(">")
    head, tail = html[: last_gt + 1], html[last_gt + 1 :]
    # After the last `>` no tag, comment or declaration can end: all of it is text.
    tail = tail.replace("<", "&lt;")
    if "<!" in head:
        head = _escape_unclosed(head, _COMMENT_OPEN, _COMMENT_CLOSE, 4)
        head = _escape_unclosed(head, _SECTION_OPEN, _SECTION_CLOSE, 3)
        head = _escape_unclosed(head, _WORD_SECTION_OPEN, _WORD_SECTION_CLOSE, 3)
    return head + tail


def _extract_text(html: str) -> str:
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    return "".join(extractor.pieces)


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment: tags dropped, entities unescaped once, paragraphs kept.

    Linear in the length of `html`, whatever it holds (see `_linear_markup`).
    """
    if "<" not in html and "&" not in html:
        return clean_text(_HTML_WHITESPACE.sub(" ", html))
    # Markers must not be forgeable by the input itself.
    html = _linear_markup(html.replace("\x00", ""))
    try:
        text = _extract_text(html)
    except AssertionError:
        # Python 3.11's _markupbase raises on a marked section it cannot name ("<![ x"): read
        # every declaration as text instead.
        text = _extract_text(html.replace("<!", "&lt;!"))
    text = text.replace(_PARAGRAPH, "\n\n").replace(_LINE, "\n")
    return clean_text(text)


def strip_unsafe(text: str) -> str:
    """NFC and without control or bidi-override characters, but with whitespace left as it is."""
    text = unicodedata.normalize("NFC", text)
    text = text.encode("utf-8", "replace").decode("utf-8")
    return _UNSAFE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))

"""A guard against entity expansion attacks, run on a feed before any XML parser sees it.

feedparser keeps "safe" entity declarations (plain text values of any length) and, when the strict
parser fails, its loose parser expands them itself: a 40 KB entity referenced 2,000 times becomes
an 80-million-character title. Nested declarations (billion laughs) are expanded by expat. So we
read the DTD ourselves and refuse documents whose entities are too many, too large or too deep.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.errors import FeedError

MAX_ENTITIES = 64
"""Most entity declarations a feed may make; real feeds make none or a handful."""
MAX_ENTITY_CHARS = 1_024
"""Longest fully expanded value of one entity."""
MAX_TOTAL_ENTITY_CHARS = 8_192
"""Largest sum of the fully expanded values of all declared entities."""
MAX_NESTING = 3
"""Deepest chain of entities referring to entities."""
MAX_EXPANSION_CHARS = 1_000_000
"""Most text all references in the document may expand to, counted over the whole body."""

_ENTITY_DECL = re.compile(
    r"""<!ENTITY\s+(?P<param>%\s+)?(?P<name>[^\s"'%>]+)\s*
        (?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<other>[^>]*))""",
    re.VERBOSE | re.IGNORECASE,
)
_REFERENCE = re.compile(r"[&%]([^\s;&%<>\"']+);")
_CHAR_REFERENCE = re.compile(r"&#(?:[0-9]+|[xX][0-9a-fA-F]+);")
_NAME_START = re.compile(r"<[^\s!?/<>]")
# feedparser's replace_doctype collects declarations before the first '<' followed by a byte
# matching \w, which for bytes is ASCII only (feedparser/sanitizer.py).
_FEEDPARSER_FIRST_ELEMENT = re.compile(r"<[A-Za-z0-9_]")
_ENTITY_KEYWORD = re.compile(r"<!ENTITY", re.IGNORECASE)
_GENERAL_REFERENCE = re.compile(r"&([^\s;&<>\"']+);")


@dataclass(frozen=True)
class _Declaration:
    name: str
    value: str
    parameter: bool


def prolog_of(text: str) -> str:
    """The text before the root element: declarations, comments, PIs and the whole DOCTYPE.

    Conservative on purpose: unknown text is skipped up to the next '<', so a declaration cannot be
    hidden behind junk; an unterminated construct makes the rest of the document count as prolog.
    """
    i, end = 0, len(text)
    while i < end:
        if (after := _after_comment_or_pi(text, i)) is not None:
            i = after
        elif text[i : i + 9].upper() == "<!DOCTYPE":
            i = _end_of_markup(text, i + 9, doctype=True)
        elif text.startswith("<!", i):
            # A stray declaration outside a DOCTYPE (loose parsers still read ENTITY ones).
            i = _end_of_markup(text, i + 2)
        elif _NAME_START.match(text, i):
            return text[:i]
        else:
            following = text.find("<", i + 1)
            i = end if following < 0 else following
    return text


def _after_comment_or_pi(text: str, i: int) -> int | None:
    """Index after a comment or processing instruction starting at i (the end if unclosed)."""
    for opener, closer in (("<!--", "-->"), ("<?", "?>")):
        if text.startswith(opener, i):
            close = text.find(closer, i + len(opener))
            return len(text) if close < 0 else close + len(closer)
    return None


def _end_of_markup(text: str, i: int, *, doctype: bool = False) -> int:
    """Index after the '>' closing a declaration that started before i, skipping quoted strings
    (and, for a DOCTYPE, its internal subset in brackets)."""
    end = len(text)
    while i < end:
        char = text[i]
        if char in "\"'":
            close = text.find(char, i + 1)
            if close < 0:
                return end
            i = close + 1
        elif char == "[" and doctype:
            i = _end_of_subset(text, i + 1)
        elif char == ">":
            return i + 1
        else:
            i += 1
    return end


def _end_of_subset(text: str, i: int) -> int:
    """Index after the ']' closing an internal subset."""
    end = len(text)
    while i < end:
        if (after := _after_comment_or_pi(text, i)) is not None:
            i = after
        elif text.startswith("<!", i):
            i = _end_of_markup(text, i + 2)
        elif text[i] == "]":
            return i + 1
        else:
            i += 1
    return end


def _declarations(prolog: str) -> list[_Declaration]:
    found = []
    for match in _ENTITY_DECL.finditer(prolog):
        value = match.group("dq")
        if value is None:
            value = match.group("sq")
        # External (SYSTEM/PUBLIC) entities are never fetched; they count but expand to nothing.
        found.append(_Declaration(match.group("name"), value or "", bool(match.group("param"))))
    return found


def _refuse(detail: str) -> FeedError:
    return FeedError(
        "parse-error", f"The feed declares entities that would expand to {detail}; refused."
    )


def _expanded_sizes(declarations: list[_Declaration]) -> dict[str, int]:
    """Fully expanded length of each entity; raises on cycles, deep nesting or oversize values."""
    # The first declaration of a name wins, as in XML.
    table: dict[str, _Declaration] = {}
    for declaration in declarations:
        key = ("%" if declaration.parameter else "&") + declaration.name
        table.setdefault(key, declaration)
    sizes: dict[str, int] = {}

    def size_of(key: str, depth: int, active: frozenset[str]) -> int:
        if key in sizes:
            return sizes[key]
        if key in active:
            raise _refuse("an endless loop (an entity refers to itself)")
        if depth > MAX_NESTING:
            raise _refuse(f"more than {MAX_NESTING} levels of entities inside entities")
        value = _CHAR_REFERENCE.sub("x", table[key].value)
        total = 0
        position = 0
        for ref in _REFERENCE.finditer(value):
            total += ref.start() - position
            position = ref.end()
            inner = ref.group(0)[0] + ref.group(1)
            if inner in table:
                total += size_of(inner, depth + 1, active | {key})
            else:
                total += len(ref.group(0))  # predefined (&amp;) or undeclared: stays short
            if total > MAX_ENTITY_CHARS:
                raise _refuse(f"more than {MAX_ENTITY_CHARS:,} characters each")
        total += len(value) - position
        if total > MAX_ENTITY_CHARS:
            raise _refuse(f"more than {MAX_ENTITY_CHARS:,} characters each")
        sizes[key] = total
        return total

    for key in table:
        size_of(key, 1, frozenset())
    return sizes


def declaration_region(text: str) -> str:
    """The start of a document where entity declarations take effect for some parser.

    The union of our prolog (which skips junk up to any name-like tag) and feedparser's (which
    skips everything up to a '<' followed by an ASCII letter, digit or underscore, so `<:x/>` or
    `<-` before a DOCTYPE hide nothing from its loose parser): a declaration either of them
    reads is checked.
    """
    prolog_end = len(prolog_of(text))
    first_element = _FEEDPARSER_FIRST_ELEMENT.search(text)
    feedparser_end = first_element.end() if first_element else 0
    return text[: max(prolog_end, feedparser_end)]


def check_entities(text: str) -> None:
    """Raise FeedError('parse-error') if the document's DTD declares dangerous entities.

    `text` is the document as the XML parser will see it (already decoded). Documents without
    entity declarations cost one short scan of the prolog.
    """
    region = declaration_region(text)
    if "<!" not in region or not _ENTITY_KEYWORD.search(region):
        return
    declarations = _declarations(region)
    if len(declarations) > MAX_ENTITIES:
        raise _refuse(f"too many definitions ({len(declarations):,}, at most {MAX_ENTITIES})")
    sizes = _expanded_sizes(declarations)
    total = sum(sizes.values())
    if total > MAX_TOTAL_ENTITY_CHARS:
        raise _refuse(f"{total:,} characters in all (at most {MAX_TOTAL_ENTITY_CHARS:,})")
    # Each reference in the body costs its expanded size: bound the total amplification too.
    general = {key[1:]: size for key, size in sizes.items() if key.startswith("&")}
    if not general:
        return
    # Counted over the whole text: loose parsers expand references wherever they meet them.
    expansion = 0
    for ref in _GENERAL_REFERENCE.finditer(text):
        expansion += general.get(ref.group(1), 0)
        if expansion > MAX_EXPANSION_CHARS:
            raise _refuse(f"more than {MAX_EXPANSION_CHARS:,} characters in the feed")

"""Keyword lists: the comma-separated rules of member alerts and of filters stored before #16.

Input such as ``housing, rent strike, category:Labour, author:"Jane Doe"`` becomes a
`FilterSpec`. Keywords match whole words or phrases in the title, summary and categories;
``category:`` matches one of the article's categories exactly; ``author:`` matches a whole
word or phrase of the author line. Matching ignores case and accents. Users never supply a
regular expression, so no input can make matching slow.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final, Literal, Protocol

from bot.errors import InvalidInput
from bot.textutil import clean_text

MAX_TERMS: Final = 50
MAX_TERM_CHARS: Final = 100
MAX_FILTER_CHARS: Final = 1000

TermKind = Literal["keyword", "category", "author"]
_PREFIXES: Final[dict[str, TermKind]] = {"category": "category", "author": "author"}
_WORD = re.compile(r"\w+")


class FilterableArticle(Protocol):
    """What filters look at; `render.AnnouncementArticle` satisfies it."""

    @property
    def title(self) -> str: ...
    @property
    def author(self) -> str: ...
    @property
    def standfirst(self) -> str: ...
    @property
    def excerpt(self) -> str: ...
    @property
    def categories(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class FilterTerm:
    """One rule: a keyword/phrase, a category name, or an author name."""

    kind: TermKind
    value: str

    def describe(self) -> str:
        """How the rule reads in diagnostics: keyword 'sport', category 'Labour'."""
        return f"{self.kind} '{self.value}'"

    def to_text(self) -> str:
        """The term as a moderator would type it; parse_filter reads it back."""
        value = f'"{self.value}"' if ("," in self.value or ":" in self.value) else self.value
        return value if self.kind == "keyword" else f"{self.kind}:{value}"


@dataclass(frozen=True)
class FilterSpec:
    """A list of filter terms; empty means no rule."""

    terms: tuple[FilterTerm, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.terms)

    def to_text(self) -> str:
        """Canonical text form, stored in the database and shown to moderators."""
        return ", ".join(term.to_text() for term in self.terms)


@dataclass(frozen=True)
class FilterDecision:
    """Whether an article passes, and which rule decided, for the diagnostics command."""

    ok: bool
    rule: str


# Letters whose "accent" is part of the letter, so NFKD does not split it off.
_UNDECOMPOSABLE = str.maketrans(
    {"ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ı": "i", "æ": "ae", "œ": "oe", "þ": "th"}
)


def fold(text: str) -> str:
    """Case- and accent-insensitive form: casefolded, combining marks removed, NFKC."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_UNDECOMPOSABLE))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFKC", stripped)


def _words(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(fold(text)))


def _split_terms(text: str) -> list[str]:
    """Split on commas outside double quotes; an unclosed quote is an error."""
    terms: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
            current.append(char)
        elif char == "," and not quoted:
            terms.append("".join(current))
            current = []
        else:
            current.append(char)
    if quoted:
        raise InvalidInput('The filter has an opening " with no closing "; close the quote.')
    terms.append("".join(current))
    return terms


def _parse_term(raw: str) -> FilterTerm | None:
    raw = raw.strip()
    if not raw:
        return None
    kind: TermKind = "keyword"
    prefix, colon, rest = raw.partition(":")
    if colon and prefix.strip().lower() in _PREFIXES and not prefix.strip().startswith('"'):
        kind = _PREFIXES[prefix.strip().lower()]
        raw = rest.strip()
    if len(raw) >= 2 and raw.startswith('"') and raw.endswith('"'):
        raw = raw[1:-1]
    if '"' in raw:
        raise InvalidInput(
            f'Quotes must surround a whole term, as in author:"Jane Doe"; got {raw[:40]}.'
        )
    value = " ".join(raw.split())
    if not value:
        raise InvalidInput(f"The {kind} rule is empty; write a name after the colon.")
    if len(value) > MAX_TERM_CHARS:
        raise InvalidInput(
            f"The term starting {value[:30]!r} is {len(value)} characters long; "
            f"each term may have at most {MAX_TERM_CHARS}."
        )
    if not _words(value):
        raise InvalidInput(f"The term {value!r} has no letters or digits to match.")
    return FilterTerm(kind, value)


def parse_keyword_list(text: str) -> FilterSpec:
    """Parse moderator input into a FilterSpec, raising InvalidInput with a specific message."""
    text = clean_text(text, single_line=True)
    if len(text) > MAX_FILTER_CHARS:
        raise InvalidInput(
            f"The filter is {len(text)} characters long; the most allowed is {MAX_FILTER_CHARS}."
        )
    terms: list[FilterTerm] = []
    for raw in _split_terms(text):
        term = _parse_term(raw)
        if term is not None and term not in terms:
            terms.append(term)
    if len(terms) > MAX_TERMS:
        raise InvalidInput(f"The filter has {len(terms)} terms; the most allowed is {MAX_TERMS}.")
    return FilterSpec(tuple(terms))


def _contains_phrase(haystack: tuple[str, ...], needle: tuple[str, ...]) -> bool:
    size = len(needle)
    starts = range(len(haystack) - size + 1)
    return size > 0 and any(haystack[i : i + size] == needle for i in starts)


@dataclass(frozen=True)
class _FoldedArticle:
    """The article's texts as folded word tuples, computed once per decision."""

    texts: tuple[tuple[str, ...], ...]
    categories: tuple[tuple[str, ...], ...]
    author: tuple[str, ...]

    @classmethod
    def of(cls, article: FilterableArticle) -> _FoldedArticle:
        categories = tuple(_words(category) for category in article.categories)
        # Each text is searched on its own so a phrase never spans the title and the summary.
        texts = (_words(article.title), _words(article.standfirst), _words(article.excerpt))
        return cls(texts + categories, categories, _words(article.author))


def _matches_folded(term: FilterTerm, folded: _FoldedArticle) -> bool:
    wanted = _words(term.value)
    if term.kind == "category":
        return wanted in folded.categories
    if term.kind == "author":
        return _contains_phrase(folded.author, wanted)
    return any(_contains_phrase(text, wanted) for text in folded.texts)


def term_matches(term: FilterTerm, article: FilterableArticle) -> bool:
    """Whether one rule matches the article."""
    return _matches_folded(term, _FoldedArticle.of(article))


def matches_keywords(
    article: FilterableArticle, include: FilterSpec, exclude: FilterSpec
) -> FilterDecision:
    """Decide whether the article passes: an exclude rule wins, then any include rule must match."""
    folded = _FoldedArticle.of(article)
    for term in exclude.terms:
        if _matches_folded(term, folded):
            return FilterDecision(False, f"excluded by {term.describe()}")
    if not include:
        return FilterDecision(True, "no include rules, so every article passes")
    for term in include.terms:
        if _matches_folded(term, folded):
            return FilterDecision(True, f"included by {term.describe()}")
    return FilterDecision(False, "no include rule matched")

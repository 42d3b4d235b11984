"""Filters moderators can read and test: a small boolean language over an article's fields.

    housing AND (title:"rent strike" OR category:Labour) AND NOT author:"Jane Doe"

Grammar (adjacent terms are joined by an implicit AND; NOT binds tightest, then AND, then OR)::

    filter  := or
    or      := and ("OR" and)*
    and     := unary (["AND"] unary)*
    unary   := "NOT"* primary
    primary := "(" or ")" | [scope ":"] (word | '"' phrase '"' | "/" regex "/" | "(" or ")")

Operators are the upper-case words AND, OR and NOT (a lower-case "and" is an ordinary word).
A bare word or a phrase matches whole words, in order, in the title, the summaries and the
categories (what keyword filters always matched); a scope limits it to one field. Matching ignores
case and accents (`fold`). Regular expressions run on RE2, whose matching time is linear in the
text, and see the folded text.

Parsing is a hand-written tokenizer and a recursive-descent parser with explicit limits on
length, terms and nesting, so every input is refused or accepted in time linear in its length;
evaluation looks at each term once per article. Errors are `FilterError`s naming the problem and
its position. Filters stored before this language existed (comma-separated keyword lists, see
`bot.announce.keywords`) carry `LEGACY_PREFIX` and keep their meaning through `parse_stored`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol

import re2  # linear-time regular expressions; stdlib `re` backtracks

from bot.announce import keywords
from bot.announce.keywords import FilterSpec, fold, parse_keyword_list
from bot.errors import InvalidInput
from bot.textutil import clean_text

MAX_FILTER_CHARS: Final = 1000
MAX_TERMS: Final = 50
MAX_TERM_CHARS: Final = 100
MAX_DEPTH: Final = 8
"""Parentheses nested deeper than this are refused (recursion in the parser is bounded by it)."""
REGEX_MAX_MEMORY: Final = 1 << 20
"""RE2's memory budget per pattern; a pattern needing more is refused when it is parsed."""
LEGACY_PREFIX: Final = "legacy-list:"
"""Marks a stored filter written as a comma-separated keyword list (migration 0009)."""

Scope = Literal["any", "title", "summary", "content", "author", "category", "link"]
SCOPES: Final[tuple[Scope, ...]] = ("title", "summary", "content", "author", "category", "link")
TermKind = Literal["word", "phrase", "regex"]
OPERATORS: Final = frozenset({"AND", "OR", "NOT"})
_WORD = re.compile(r"\w+")
_SCOPE_LIST = ", ".join(f"{scope}:" for scope in SCOPES[:-1]) + f" or {SCOPES[-1]}:"
_FIELD_LABELS: Final[dict[str, str]] = {
    "title": "the title",
    "standfirst": "the summary",
    "excerpt": "the summary",
    "content": "the content",
    "author": "the author",
    "category": "a category",
    "link": "the link",
}


class FilterableArticle(keywords.FilterableArticle, Protocol):
    """What filters look at: what keyword lists look at, plus the link and the text;
    `render.AnnouncementArticle` satisfies it."""

    @property
    def url(self) -> str: ...
    @property
    def text(self) -> str: ...


# -- errors -------------------------------------------------------------------------------------


class FilterError(InvalidInput):
    """A filter that cannot be used; the message names the problem and where it is."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position
        """1-based character position in the (cleaned) filter text, when there is one."""


class FilterTooLong(FilterError):
    """Longer than `MAX_FILTER_CHARS`, or one term longer than `MAX_TERM_CHARS`."""


class TooManyTerms(FilterError):
    """More than `MAX_TERMS` terms."""


class FilterTooDeep(FilterError):
    """Parentheses nested deeper than `MAX_DEPTH`."""


class UnbalancedParentheses(FilterError):
    """A ( never closed, or a ) with nothing to close."""


class EmptyGroup(FilterError):
    """A pair of parentheses with nothing inside."""


class UnknownScope(FilterError):
    """A `name:` prefix that is not one of `SCOPES`."""


class UnclosedQuote(FilterError):
    """A phrase or a regular expression that is never closed, or an empty one."""


class MissingTerm(FilterError):
    """An operator or a scope with no term where one is needed."""


class InvalidRegex(FilterError):
    """A regular expression RE2 cannot compile within its limits."""


# -- the parsed filter --------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """One thing to look for: a word, a phrase or a regular expression, in one scope."""

    scope: Scope
    kind: TermKind
    value: str
    position: int = field(default=0, compare=False)
    index: int = field(default=0, compare=False)
    """Its place among the filter's terms (each term is evaluated once per article)."""
    words: tuple[str, ...] = field(default=(), compare=False)
    pattern: Any = field(default=None, compare=False, repr=False)  # a compiled RE2 pattern

    def to_text(self) -> str:
        """The term as a moderator would type it; `parse_filter` reads it back."""
        if self.kind == "regex":
            body = f"/{self.value}/"
        elif self.kind == "phrase":
            body = f'"{self.value}"'
        else:
            body = self.value
        return body if self.scope == "any" else f"{self.scope}:{body}"


@dataclass(frozen=True)
class Not:
    """Matches when its operand does not."""

    operand: Node


@dataclass(frozen=True)
class And:
    """Matches when every operand does."""

    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    """Matches when any operand does."""

    operands: tuple[Node, ...]


Node = Term | Not | And | Or


def _node_text(node: Node) -> str:
    if isinstance(node, Term):
        return node.to_text()
    if isinstance(node, Not):
        inner = _node_text(node.operand)
        return f"NOT {inner}" if isinstance(node.operand, Term | Not) else f"NOT ({inner})"
    if isinstance(node, And):
        return " AND ".join(
            f"({_node_text(o)})" if isinstance(o, Or) else _node_text(o) for o in node.operands
        )
    return " OR ".join(_node_text(operand) for operand in node.operands)


@dataclass(frozen=True)
class Filter:
    """A parsed filter; an empty one (no terms) has no opinion."""

    root: Node | None = None
    terms: tuple[Term, ...] = ()

    def __bool__(self) -> bool:
        return self.root is not None

    def to_text(self) -> str:
        """Canonical text: explicit operators, scopes on every term; parses back to the same."""
        return "" if self.root is None else _node_text(self.root)


# -- tokenizer ----------------------------------------------------------------------------------

TokenKind = Literal["(", ")", "AND", "OR", "NOT", "scope", "word", "phrase", "regex"]


@dataclass(frozen=True)
class _Token:
    kind: TokenKind
    text: str
    position: int  # 1-based


def _regex_end(text: str, start: int) -> int:
    """Index of the / closing the regex opened at `start`, skipping backslash escapes; -1: none."""
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == "/":
            return index
        index += 1
    return -1


def _tokens(text: str) -> list[_Token]:
    """Split filter text into tokens in one pass (each character is looked at a bounded number
    of times)."""
    tokens: list[_Token] = []
    index = 0
    size = len(text)
    while index < size:
        char = text[index]
        position = index + 1
        if char.isspace():
            index += 1
        elif char in "()":
            tokens.append(_Token(char, char, position))  # type: ignore[arg-type]
            index += 1
        elif char == '"':
            end = text.find('"', index + 1)
            if end < 0:
                raise UnclosedQuote(
                    f'The " at position {position} opens a phrase that is never closed; '
                    'add a closing ".',
                    position,
                )
            tokens.append(_Token("phrase", text[index + 1 : end], position))
            index = end + 1
        elif char == "/":
            end = _regex_end(text, index)
            if end < 0:
                raise UnclosedQuote(
                    f"The / at position {position} opens a regular expression that is never "
                    "closed; add a closing /.",
                    position,
                )
            tokens.append(_Token("regex", text[index + 1 : end], position))
            index = end + 1
        else:
            end = index
            while end < size and not text[end].isspace() and text[end] not in '()"':
                end += 1
            run = text[index:end]
            prefix, colon, rest = run.partition(":")
            if colon and prefix.isascii() and prefix.isalpha() and not rest.startswith("//"):
                if prefix.lower() not in SCOPES:
                    raise UnknownScope(
                        f"Unknown field '{prefix[:30]}:' at position {position}; "
                        f"use {_SCOPE_LIST}, or put the text in quotes to look for it.",
                        position,
                    )
                tokens.append(_Token("scope", prefix.lower(), position))
                index += len(prefix) + 1
                continue
            if run.endswith(","):
                comma = index + len(run)
                raise MissingTerm(
                    f"The comma at position {comma} separates nothing: write OR between "
                    'alternatives, as in housing OR "rent strike".',
                    comma,
                )
            index = end
            if _WORD.search(run) is None:
                continue  # punctuation alone ("&", "-") matches nothing, as between words
            kind: TokenKind = run if run in OPERATORS else "word"  # type: ignore[assignment]
            tokens.append(_Token(kind, run, position))
    return tokens


# -- parser -------------------------------------------------------------------------------------

_TERM_STARTS: Final = frozenset({"scope", "word", "phrase", "regex", "(", "NOT"})


def _compile_regex(pattern: str, position: int) -> Any:
    options = re2.Options()
    options.case_sensitive = False
    options.never_capture = True
    options.log_errors = False
    options.max_mem = REGEX_MAX_MEMORY
    try:
        return re2.compile(pattern, options)
    except re2.error as error:
        detail = error.args[0] if error.args else "invalid"
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        raise InvalidRegex(
            f"The regular expression at position {position} is not valid: {str(detail)[:80]}.",
            position,
        ) from None


class _Parser:
    def __init__(self, tokens: list[_Token], text_length: int) -> None:
        self.tokens = tokens
        self.index = 0
        self.end_position = text_length + 1
        self.terms: list[Term] = []

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def parse(self) -> Filter:
        if not self.tokens:
            return Filter()
        root = self.or_(0, None)
        leftover = self.peek()
        if leftover is not None:
            # Only a ) can stop `or_` early: every other token starts or joins a term.
            raise UnbalancedParentheses(
                f"The ) at position {leftover.position} has no ( before it to close.",
                leftover.position,
            )
        return Filter(root, tuple(self.terms))

    def or_(self, depth: int, scope: Scope | None) -> Node:
        operands = [self.and_(depth, scope)]
        while (token := self.peek()) is not None and token.kind == "OR":
            self.take()
            self.expect_term_after(token)
            operands.append(self.and_(depth, scope))
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def and_(self, depth: int, scope: Scope | None) -> Node:
        operands = [self.unary(depth, scope)]
        while (token := self.peek()) is not None:
            if token.kind == "AND":
                self.take()
                self.expect_term_after(token)
            elif token.kind not in _TERM_STARTS:
                break
            operands.append(self.unary(depth, scope))
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def unary(self, depth: int, scope: Scope | None) -> Node:
        negated = False
        while (token := self.peek()) is not None and token.kind == "NOT":
            self.take()
            self.expect_term_after(token)
            negated = not negated
        node = self.primary(depth, scope)
        return Not(node) if negated else node

    def expect_term_after(self, operator: _Token) -> None:
        following = self.peek()
        if following is None or following.kind not in _TERM_STARTS:
            raise MissingTerm(
                f"{operator.text} at position {operator.position} has no term after it.",
                operator.position,
            )

    def primary(self, depth: int, scope: Scope | None) -> Node:
        token = self.peek()
        if token is None:
            raise MissingTerm(
                f"The filter ends at position {self.end_position} where a term is needed.",
                self.end_position,
            )
        if token.kind in ("AND", "OR"):
            raise MissingTerm(
                f"{token.kind} at position {token.position} has no term before it.",
                token.position,
            )
        if token.kind == ")":
            raise UnbalancedParentheses(
                f"The ) at position {token.position} has no ( before it to close.",
                token.position,
            )
        self.take()
        if token.kind == "scope":
            if scope is not None:
                raise MissingTerm(
                    f"The field {token.text}: at position {token.position} is inside a group "
                    f"already limited to {scope}:; give each term one field.",
                    token.position,
                )
            following = self.peek()
            if following is None or following.kind not in ("word", "phrase", "regex", "("):
                raise MissingTerm(
                    f'{token.text}: at position {token.position} needs a word, a "phrase" '
                    "or a group in parentheses right after it.",
                    token.position,
                )
            return self.primary(depth, token.text)  # type: ignore[arg-type]
        if token.kind == "(":
            if depth + 1 > MAX_DEPTH:
                raise FilterTooDeep(
                    f"The ( at position {token.position} nests groups {depth + 1} deep; "
                    f"at most {MAX_DEPTH} are allowed.",
                    token.position,
                )
            closing = self.peek()
            if closing is not None and closing.kind == ")":
                raise EmptyGroup(
                    f"The group () at position {token.position} is empty; put a term inside.",
                    token.position,
                )
            inner = self.or_(depth + 1, scope)
            closing = self.peek()
            if closing is None or closing.kind != ")":
                raise UnbalancedParentheses(
                    f"The ( at position {token.position} is never closed; add a ) after its terms.",
                    token.position,
                )
            self.take()
            return inner
        return self.term(token, scope or "any")

    def term(self, token: _Token, scope: Scope) -> Term:
        if len(self.terms) >= MAX_TERMS:
            raise TooManyTerms(
                f"The filter has more than {MAX_TERMS} terms (the next starts at position "
                f"{token.position}); use fewer.",
                token.position,
            )
        value = " ".join(token.text.split()) if token.kind != "regex" else token.text
        if len(value) > MAX_TERM_CHARS:
            raise FilterTooLong(
                f"The term at position {token.position} is {len(value)} characters long; "
                f"each term may have at most {MAX_TERM_CHARS}.",
                token.position,
            )
        kind: TermKind = token.kind  # type: ignore[assignment]
        pattern = None
        words: tuple[str, ...] = ()
        if kind == "regex":
            if not value:
                raise UnclosedQuote(
                    f"The regular expression at position {token.position} is empty.",
                    token.position,
                )
            pattern = _compile_regex(value, token.position)
        else:
            words = tuple(_WORD.findall(fold(value)))
            if not words:
                what = "phrase" if kind == "phrase" else f"word {value[:30]!r}"
                raise MissingTerm(
                    f"The {what} at position {token.position} has no letters or digits to match.",
                    token.position,
                )
        term = Term(scope, kind, value, token.position, len(self.terms), words, pattern)
        self.terms.append(term)
        return term


def parse_filter(text: str) -> Filter:
    """Parse moderator input; a `FilterError` names what is wrong and where. Empty: no rule."""
    text = clean_text(text, single_line=True).strip()
    if len(text) > MAX_FILTER_CHARS:
        raise FilterTooLong(
            f"The filter is {len(text):,} characters long; the most allowed is "
            f"{MAX_FILTER_CHARS:,}.",
            MAX_FILTER_CHARS + 1,
        )
    tokens = _tokens(text)
    if text and not tokens:
        raise MissingTerm("The filter has no letters or digits to match.", 1)
    return _Parser(tokens, len(text)).parse()


def from_keyword_list(spec: FilterSpec) -> Filter:
    """The filter meaning exactly what a comma-separated keyword list meant: any one rule."""
    terms: list[Term] = []
    for legacy in spec.terms:
        value = " ".join(legacy.value.replace('"', " ").split())
        simple = _WORD.fullmatch(value) is not None and value not in OPERATORS
        scope: Scope = "any" if legacy.kind == "keyword" else legacy.kind
        words = tuple(_WORD.findall(fold(value)))
        terms.append(Term(scope, "word" if simple else "phrase", value, 0, len(terms), words))
    if not terms:
        return Filter()
    root: Node = terms[0] if len(terms) == 1 else Or(tuple(terms))
    return Filter(root, tuple(terms))


def parse_stored(text: str) -> Filter:
    """A filter as stored in the database: the language above, or a marked keyword list."""
    if text.startswith(LEGACY_PREFIX):
        return from_keyword_list(parse_keyword_list(text.removeprefix(LEGACY_PREFIX)))
    return parse_filter(text)


def keyword_list_as_filter(text: str) -> str:
    """A comma-separated keyword list (an export from before #16) in today's language."""
    return from_keyword_list(parse_keyword_list(text)).to_text()


def display_text(stored: str) -> str:
    """A stored filter as moderators see it (a keyword list shown in today's language)."""
    if stored.startswith(LEGACY_PREFIX):
        try:
            return parse_stored(stored).to_text()
        except InvalidInput:
            return stored.removeprefix(LEGACY_PREFIX)
    return stored


# -- evaluation ---------------------------------------------------------------------------------


class _Fields:
    """An article's texts, folded once each and only when a term asks for them."""

    def __init__(self, article: FilterableArticle) -> None:
        self.article = article
        self._words: dict[str, tuple[str, ...]] = {}
        self._folded: dict[str, tuple[str, ...]] = {}

    def raw(self, name: str) -> tuple[str, ...]:
        article = self.article
        if name == "category":
            return article.categories
        if name == "content":
            # The full text once the page is archived; until then the feed's own summary.
            return (article.text or article.excerpt,)
        if name == "link":
            return (article.url,)
        return (str(getattr(article, name)),)

    def words(self, name: str) -> tuple[str, ...]:
        """Each text of the field as ' word word ', so a phrase is a substring search."""
        if name not in self._words:
            self._words[name] = tuple(
                " " + " ".join(_WORD.findall(fold(text))) + " " for text in self.raw(name)
            )
        return self._words[name]

    def folded(self, name: str) -> tuple[str, ...]:
        if name not in self._folded:
            self._folded[name] = tuple(fold(text) for text in self.raw(name))
        return self._folded[name]


_SCOPE_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    # Bare words look where keyword filters always looked.
    "any": ("title", "standfirst", "excerpt", "category"),
    "title": ("title",),
    "summary": ("standfirst", "excerpt"),
    "content": ("content",),
    "author": ("author",),
    "category": ("category",),
    "link": ("link",),
}


def _term_field(term: Term, fields: _Fields) -> str | None:
    """The field where the term matches, or None."""
    needle = " " + " ".join(term.words) + " "
    for name in _SCOPE_FIELDS[term.scope]:
        if term.kind == "regex":
            if any(term.pattern.search(text) is not None for text in fields.folded(name)):
                return name
        elif term.scope == "category":
            # category: names a whole category, as it always has.
            if needle in fields.words(name):
                return name
        elif any(needle in text for text in fields.words(name)):
            return name
    return None


@dataclass(frozen=True)
class TermMatch:
    """One term's result on one article: where it matched, if it did."""

    term: Term
    field: str | None

    @property
    def matched(self) -> bool:
        """Whether the term was found."""
        return self.field is not None

    def describe(self) -> str:
        """How the result reads: title:"rent strike" found in the title."""
        if self.field is None:
            return f"{self.term.to_text()} not found"
        return f"{self.term.to_text()} found in {_FIELD_LABELS[self.field]}"


@dataclass(frozen=True)
class Verdict:
    """Whether an article matches a filter, and each term's result (the explanation API)."""

    ok: bool
    terms: tuple[TermMatch, ...] = ()

    def why(self, limit: int = 5) -> str:
        """The terms that decided, in words: the found ones if it matched, else the missing."""
        chosen = [t for t in self.terms if t.matched == self.ok] or list(self.terms)
        text = "; ".join(t.describe() for t in chosen[:limit])
        more = len(chosen) - limit
        return text + (f"; and {more} more" if more > 0 else "")


def _value(node: Node, results: list[bool]) -> bool:
    if isinstance(node, Term):
        return results[node.index]
    if isinstance(node, Not):
        return not _value(node.operand, results)
    if isinstance(node, And):
        return all(_value(operand, results) for operand in node.operands)
    return any(_value(operand, results) for operand in node.operands)


def evaluate(flt: Filter, article: FilterableArticle, fields: _Fields | None = None) -> Verdict:
    """Whether `article` matches, with every term's result; an empty filter matches all."""
    if flt.root is None:
        return Verdict(True)
    fields = fields or _Fields(article)
    found = tuple(TermMatch(term, _term_field(term, fields)) for term in flt.terms)
    return Verdict(_value(flt.root, [match.matched for match in found]), found)


@dataclass(frozen=True)
class FilterDecision:
    """Whether an article passes a subscription's filters, and why, in words."""

    ok: bool
    rule: str


def matches(article: FilterableArticle, include: Filter, exclude: Filter) -> FilterDecision:
    """The exclude filter wins when it matches; then the include filter must match."""
    fields = _Fields(article)
    if exclude:
        excluded = evaluate(exclude, article, fields)
        if excluded.ok:
            return FilterDecision(False, f"excluded: {excluded.why()}")
    if not include:
        return FilterDecision(True, "no include filter, so every article passes")
    included = evaluate(include, article, fields)
    if included.ok:
        return FilterDecision(True, f"included: {included.why()}")
    return FilterDecision(False, f"the include filter did not match: {included.why()}")


def evaluator(article: FilterableArticle) -> Callable[[Filter], Verdict]:
    """Evaluate several filters on one article, folding its texts once (mention rules)."""
    fields = _Fields(article)
    return lambda flt: evaluate(flt, article, fields)

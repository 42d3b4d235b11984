"""The filter language: grammar, precedence, errors with positions, folding, phrases, regexes,
explanations, and the keyword lists stored before it (which must keep their meaning)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.announce import filters
from bot.announce.filters import (
    And,
    EmptyGroup,
    Filter,
    FilterError,
    FilterTooDeep,
    FilterTooLong,
    InvalidRegex,
    MissingTerm,
    Not,
    Term,
    TooManyTerms,
    UnbalancedParentheses,
    UnclosedQuote,
    UnknownScope,
    evaluate,
    from_keyword_list,
    matches,
    parse_filter,
    parse_stored,
)
from bot.announce.keywords import FilterSpec, matches_keywords, parse_keyword_list
from bot.errors import PaperboyError


@dataclass(frozen=True)
class Article:
    title: str = ""
    url: str = ""
    author: str = ""
    standfirst: str = ""
    excerpt: str = ""
    text: str = ""
    categories: tuple[str, ...] = ()


RENT = Article(
    title="Rent strike spreads across Łódź",
    url="https://paper.example/news/2026/rent-strike",
    author="Jane Doe",
    standfirst="Tenants' union says the café owners back them.",
    excerpt="A longer summary of the strike.",
    text="The full text mentions the landlord association.",
    categories=("Housing", "Labour movement"),
)


def shape(node: filters.Node | None) -> object:
    """The tree without positions: ('or', [...]) and terms as their canonical text."""
    if node is None:
        return None
    if isinstance(node, Term):
        return node.to_text()
    if isinstance(node, Not):
        return ("not", shape(node.operand))
    kind = "and" if isinstance(node, And) else "or"
    return (kind, [shape(operand) for operand in node.operands])


def ok(text: str, article: Article = RENT) -> bool:
    return evaluate(parse_filter(text), article).ok


# -- grammar ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("rent", "rent"),
        ("rent strike", ("and", ["rent", "strike"])),
        ("rent AND strike", ("and", ["rent", "strike"])),
        ("a OR b c", ("or", ["a", ("and", ["b", "c"])])),
        ("a b OR c", ("or", [("and", ["a", "b"]), "c"])),
        ("(a OR b) c", ("and", [("or", ["a", "b"]), "c"])),
        ("NOT a b", ("and", [("not", "a"), "b"])),
        ("NOT (a b)", ("not", ("and", ["a", "b"]))),
        ("NOT NOT a", "a"),
        ("a OR NOT b AND c", ("or", ["a", ("and", [("not", "b"), "c"])])),
        ('title:"rent strike"', 'title:"rent strike"'),
        ("TITLE:rent", "title:rent"),
        ("title: rent", "title:rent"),
        ("author:(jane OR bob)", ("or", ["author:jane", "author:bob"])),
        ("link:https://paper.example/news", "link:https://paper.example/news"),
        ("summary:/caf(e|é)/", "summary:/caf(e|é)/"),
        ("rock and roll", ("and", ["rock", "and", "roll"])),  # lower-case: ordinary words
        ("12:30", "12:30"),
        ("", None),
    ],
)
def test_grammar_and_precedence(text: str, tree: object) -> None:
    assert shape(parse_filter(text).root) == tree


@pytest.mark.parametrize(
    "text",
    [
        'housing AND (title:"rent strike" OR category:Labour) AND NOT author:"Jane Doe"',
        "a OR NOT (b OR c) d",
        "summary:/t[a-z]+ants/ OR link:paper.example",
        "NOT (a AND NOT b)",
    ],
)
def test_canonical_text_parses_back_to_the_same_filter(text: str) -> None:
    parsed = parse_filter(text)
    again = parse_filter(parsed.to_text())
    assert shape(again.root) == shape(parsed.root)
    assert again.to_text() == parsed.to_text()


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "error", "position", "words"),
    [
        ("(housing OR rent", UnbalancedParentheses, 1, "( at position 1 is never closed"),
        ("housing) OR rent", UnbalancedParentheses, 8, ") at position 8 has no ("),
        ("a ((b)", UnbalancedParentheses, 3, "( at position 3 is never closed"),
        ("a () b", EmptyGroup, 3, "group () at position 3 is empty"),
        ("titel:rent", UnknownScope, 1, "Unknown field 'titel:' at position 1; use title:"),
        ("x " * 500 + "y", FilterTooLong, 1001, "1,001 characters long; the most allowed is 1,000"),
        ("w " * 51, TooManyTerms, 101, "more than 50 terms (the next starts at position 101)"),
        ("(" * 9 + "a" + ")" * 9, FilterTooDeep, 9, "nests groups 9 deep; at most 8"),
        ('"rent strike', UnclosedQuote, 1, '" at position 1 opens a phrase that is never closed'),
        ("/rent", UnclosedQuote, 1, "/ at position 1 opens a regular expression"),
        ("/(a/", InvalidRegex, 1, "regular expression at position 1 is not valid"),
        ("housing, rent", MissingTerm, 8, "comma at position 8 separates nothing: write OR"),
        ("AND rent", MissingTerm, 1, "AND at position 1 has no term before it"),
        ("rent OR", MissingTerm, 6, "OR at position 6 has no term after it"),
        ("rent NOT", MissingTerm, 6, "NOT at position 6 has no term after it"),
        ("title: OR x", MissingTerm, 1, "title: at position 1 needs a word"),
        ("title:(author:x)", MissingTerm, 8, "already limited to title:"),
        ('"!!"', MissingTerm, 1, "phrase at position 1 has no letters or digits"),
        ("&& --", MissingTerm, 1, "no letters or digits"),
        ("x" * 101, FilterTooLong, 1, "101 characters long; each term may have at most 100"),
    ],
)
def test_errors_name_the_problem_and_its_position(
    text: str, error: type[FilterError], position: int, words: str
) -> None:
    with pytest.raises(error) as caught:
        parse_filter(text)
    assert isinstance(caught.value, PaperboyError)
    assert caught.value.position == position
    assert words in str(caught.value)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='ab ()"/:,ORANDTtitle\\', max_size=60))
def test_any_text_parses_or_is_refused_with_a_filter_error(text: str) -> None:
    try:
        parsed = parse_filter(text)
    except FilterError as error:
        assert error.position is None or 1 <= error.position <= len(text) + 1
        return
    assert parse_filter(parsed.to_text()).to_text() == parsed.to_text()


# -- matching -----------------------------------------------------------------------------------


def test_matching_ignores_case_and_accents_both_ways() -> None:
    assert ok("LODZ") and ok("łódź") and ok("Cafe") and ok('"CAFÉ OWNERS"')
    accented = Article(title="Cafe closes in Lodz")
    assert ok("café łódź", accented)


def test_phrases_match_whole_words_in_order_within_one_field() -> None:
    assert ok('"rent strike"') and not ok('"strike rent"')
    assert not ok('"ren strike"')  # whole words only
    assert not ok("ren")
    # "Łódź" ends the title and "Tenants" starts the summary: a phrase never spans two fields.
    assert not ok('"lodz tenants"')


def test_each_scope_looks_at_its_own_field() -> None:
    assert ok("title:strike") and not ok("title:tenants")
    assert ok("summary:tenants") and ok("summary:longer") and not ok("summary:spreads")
    assert ok("content:landlord") and not ok("landlord")  # bare words never read the full text
    assert ok('author:"jane doe"') and not ok("author:tenants")
    assert ok('link:"news 2026"') and ok("link:paper.example/news") and not ok("link:sport")
    # category: names a whole category, as keyword filters did.
    assert ok('category:"labour movement"') and not ok("category:labour")
    assert ok("labour")  # a bare word still finds it inside a category


def test_content_falls_back_to_the_feed_summary_before_archiving() -> None:
    unarchived = Article(excerpt="Landlords respond")
    assert ok("content:landlords", unarchived)


def test_regular_expressions_see_the_folded_text() -> None:
    assert ok(r"/rent\s+str[a-z]+/") and ok("title:/lodz$/") and not ok("author:/^doe/")
    # RE2 is linear: a pattern that makes backtracking engines explode just answers.
    long_run = Article(title="a" * 20_000 + "b")
    assert not ok("/(a+)+$/", Article(title="a" * 20_000 + "!"))
    assert ok("/(a|aa)+b/", long_run)


def test_explanation_names_each_term_and_where_it_matched() -> None:
    verdict = evaluate(parse_filter('title:"rent strike" OR sport NOT category:sport'), RENT)
    assert verdict.ok
    described = [match.describe() for match in verdict.terms]
    assert described == [
        'title:"rent strike" found in the title',
        "sport not found",
        "category:sport not found",
    ]
    assert verdict.why() == 'title:"rent strike" found in the title'
    failed = evaluate(parse_filter("sport OR weather"), RENT)
    assert not failed.ok and failed.why() == "sport not found; weather not found"


def test_exclude_wins_then_include_must_match() -> None:
    include, exclude = parse_filter("strike"), parse_filter("author:jane")
    decision = matches(RENT, include, exclude)
    assert not decision.ok and decision.rule == "excluded: author:jane found in the author"
    assert matches(RENT, include, Filter()).rule == "included: strike found in the title"
    assert matches(RENT, Filter(), Filter()).ok
    missed = matches(RENT, parse_filter("sport"), Filter())
    assert missed == filters.FilterDecision(
        False, "the include filter did not match: sport not found"
    )


WORDS = st.sampled_from(["rent", "strike", "lodz", "cafe", "sport", "jane", "housing", "x1"])


@st.composite
def expressions(draw: st.DrawFn, depth: int = 0) -> str:
    if depth > 2 or draw(st.booleans()):
        scope = draw(st.sampled_from(["", "title:", "summary:", "author:", "category:"]))
        words = draw(st.lists(WORDS, min_size=1, max_size=2))
        return scope + (words[0] if len(words) == 1 else '"' + " ".join(words) + '"')
    left, right = draw(expressions(depth + 1)), draw(expressions(depth + 1))
    operator = draw(st.sampled_from([" AND ", " OR ", " "]))
    negate = "NOT " if draw(st.booleans()) else ""
    return f"{negate}({left}{operator}{right})"


ARTICLES = st.builds(
    Article,
    title=st.lists(WORDS, max_size=5).map(" ".join),
    author=st.lists(WORDS, max_size=2).map(" ".join),
    excerpt=st.lists(WORDS, max_size=5).map(" ".join),
    categories=st.lists(WORDS, max_size=2).map(tuple),
)


@settings(max_examples=200, deadline=None)
@given(expressions(), expressions(), ARTICLES)
def test_boolean_laws_hold(a: str, b: str, article: Article) -> None:
    def value(text: str) -> bool:
        return evaluate(parse_filter(text), article).ok

    assert value(f"NOT (({a}) OR ({b}))") == value(f"NOT ({a}) AND NOT ({b})")
    assert value(f"({a}) ({b})") == (value(a) and value(b))
    assert value(f"({a}) OR ({b})") == (value(a) or value(b))
    assert value(parse_filter(a).to_text()) == value(a)


# -- filters stored before the language ---------------------------------------------------------


def test_stored_keyword_lists_keep_their_meaning() -> None:
    stored = filters.LEGACY_PREFIX + 'housing, rent strike, category:Labour, author:"Jane Doe"'
    parsed = parse_stored(stored)
    assert parsed.to_text() == 'housing OR "rent strike" OR category:Labour OR author:"Jane Doe"'
    assert evaluate(parsed, Article(title="A rent strike")).ok
    assert not evaluate(parsed, Article(title="rent and a strike")).ok  # a phrase, not AND
    assert filters.display_text(stored) == parsed.to_text()
    assert filters.display_text("housing OR sport") == "housing OR sport"


KEYWORD_VALUES = st.lists(
    st.sampled_from(["rent", "strike", "rent strike", "AND", "a:b", "café", "x-1", "note: this"]),
    min_size=1,
    max_size=4,
)


@settings(max_examples=200, deadline=None)
@given(KEYWORD_VALUES, st.sampled_from(["", "category:", "author:"]), ARTICLES)
def test_keyword_list_conversion_decides_like_the_old_matcher(
    values: list[str], prefix: str, article: Article
) -> None:
    text = ", ".join(f'{prefix}"{value}"' for value in values)
    spec = parse_keyword_list(text)
    converted = from_keyword_list(spec)
    old = matches_keywords(article, spec, FilterSpec())
    assert evaluate(converted, article).ok == old.ok
    # The canonical text of the conversion parses, to the same decisions.
    assert evaluate(parse_filter(converted.to_text()), article).ok == old.ok

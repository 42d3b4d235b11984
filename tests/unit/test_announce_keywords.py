"""Moderator filters: parsing limits and whole-word, accent-insensitive matching."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.announce.keywords import (
    FilterSpec,
    FilterTerm,
)
from bot.announce.keywords import matches_keywords as matches
from bot.announce.keywords import (
    parse_keyword_list as parse_filter,
)
from bot.errors import InvalidInput


@dataclass(frozen=True)
class Article:
    title: str = ""
    author: str = ""
    standfirst: str = ""
    excerpt: str = ""
    categories: tuple[str, ...] = ()


def test_parse_reads_keywords_phrases_and_prefixes() -> None:
    spec = parse_filter('housing, rent strike, category:Labour, author:"Jane Doe", AUTHOR: Bob')
    assert spec.terms == (
        FilterTerm("keyword", "housing"),
        FilterTerm("keyword", "rent strike"),
        FilterTerm("category", "Labour"),
        FilterTerm("author", "Jane Doe"),
        FilterTerm("author", "Bob"),
    )


def test_quoted_terms_may_hold_commas_and_colons() -> None:
    spec = parse_filter('"Smith, Jones", "note: this"')
    assert spec.terms == (
        FilterTerm("keyword", "Smith, Jones"),
        FilterTerm("keyword", "note: this"),
    )


def test_canonical_text_round_trips() -> None:
    spec = parse_filter('housing, category:"Trade unions", author:Jane Doe, "a, b", "x: y"')
    assert parse_filter(spec.to_text()) == spec


def test_empty_input_and_blank_terms_give_an_empty_spec() -> None:
    assert parse_filter(" , ,") == FilterSpec()
    assert not parse_filter("")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (", ".join(f"word{i}" for i in range(51)), "51 terms; the most allowed is 50"),
        ("x" * 101, "101 characters long; each term may have at most 100"),
        ("a, " * 400, "characters long; the most allowed is 1000"),
        ('author:"Jane', 'opening " with no closing'),
        ("category:", "category rule is empty"),
        ("!!!", "no letters or digits"),
        ('rent "strike"', "Quotes must surround a whole term"),
    ],
)
def test_bad_filters_get_specific_messages(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_filter(text)


ARTICLE = Article(
    title="Tenants win a rent strike in Łódź",
    author="Jane Doe and Amir Khan",
    standfirst="Repairs agreed after six weeks.",
    excerpt="The café workers' union backed them.",
    categories=("Housing", "Trade Unions"),
)


@pytest.mark.parametrize(
    ("include", "rule"),
    [
        ("RENT STRIKE", "included by keyword 'RENT STRIKE'"),
        ("lodz", "included by keyword 'lodz'"),
        ("cafe", "included by keyword 'cafe'"),
        ("repairs", "included by keyword 'repairs'"),
        ("category:trade unions", "included by category 'trade unions'"),
        ("unions", "included by keyword 'unions'"),
        ("author:amir khan", "included by author 'amir khan'"),
    ],
)
def test_include_rules_match_whole_words_ignoring_case_and_accents(include: str, rule: str) -> None:
    decision = matches(ARTICLE, parse_filter(include), FilterSpec())
    assert decision.ok
    assert decision.rule == rule


@pytest.mark.parametrize(
    "include",
    [
        "rent strikes",
        "ten",
        "category:Unions",
        "author:Doe Amir",
        "strike in repairs",
        "author:Jan",
    ],
)
def test_partial_words_and_cross_field_phrases_do_not_match(include: str) -> None:
    decision = matches(ARTICLE, parse_filter(include), FilterSpec())
    assert decision == decision.__class__(False, "no include rule matched")


def test_exclude_wins_over_include_and_names_the_rule() -> None:
    decision = matches(ARTICLE, parse_filter("housing"), parse_filter("sport, author:jane doe"))
    assert not decision.ok
    assert decision.rule == "excluded by author 'jane doe'"


def test_no_rules_lets_everything_through() -> None:
    decision = matches(ARTICLE, FilterSpec(), FilterSpec())
    assert decision.ok
    assert "no include rules" in decision.rule


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=1200))
def test_any_input_parses_or_raises_invalid_input(text: str) -> None:
    try:
        spec = parse_filter(text)
    except InvalidInput as error:
        assert str(error).endswith(".")
    else:
        assert len(spec.terms) <= 50
        assert all(len(term.value) <= 100 for term in spec.terms)
        assert parse_filter(spec.to_text()) == spec

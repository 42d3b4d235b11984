"""Sentence splitting on the cases news text throws at it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.articles.sentences import MAX_SENTENCE_CHARS, fix_missing_spaces, split_sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Dr. Smith met the U.S. delegation on Monday. They talked for an hour.",
            ["Dr. Smith met the U.S. delegation on Monday.", "They talked for an hour."],
        ),
        (
            "The novel was by J. R. R. Tolkien and it sold well. Critics were unkind.",
            ["The novel was by J. R. R. Tolkien and it sold well.", "Critics were unkind."],
        ),
        (
            "Inflation rose 3.5% in May. Wages rose 2.1%.",
            ["Inflation rose 3.5% in May.", "Wages rose 2.1%."],
        ),
        (
            'She said "We will not go back." Then the meeting ended.',
            ['She said "We will not go back."', "Then the meeting ended."],
        ),
        (
            "The strike ended.Next week talks resume.",
            ["The strike ended.", "Next week talks resume."],
        ),
        (
            "They waited... And waited. Nothing happened.",
            ["They waited...", "And waited.", "Nothing happened."],
        ),
        (
            "A heading without a full stop\nThe first paragraph starts here.",
            ["A heading without a full stop", "The first paragraph starts here."],
        ),
    ],
)
def test_splits_news_text(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_missing_space_fix_leaves_initials_and_urls_alone() -> None:
    assert fix_missing_spaces("the U.S.Army and example.com.") == "the U.S.Army and example.com."
    assert fix_missing_spaces("it ended.Then") == "it ended. Then"


def test_over_long_sentence_is_cut_at_semicolons_first() -> None:
    clause = "the council closed another library branch in the north of the city"
    text = "; ".join([clause] * 20) + "."
    pieces = split_sentences(text)
    assert len(pieces) > 1
    assert all(len(piece) <= MAX_SENTENCE_CHARS for piece in pieces)
    assert pieces[0].endswith(";")
    # Nothing is lost but the separators' spaces.
    assert " ".join(pieces).replace(" ", "") == text.replace(" ", "")


def test_a_huge_unbroken_token_is_still_bounded() -> None:
    pieces = split_sentences("x" * 2000)
    assert [len(p) for p in pieces] == [600, 600, 600, 200]


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=3000))
def test_any_text_gives_bounded_non_empty_sentences(text: str) -> None:
    for sentence in split_sentences(text):
        assert sentence.strip() == sentence
        assert 0 < len(sentence) <= MAX_SENTENCE_CHARS


def test_a_run_far_past_any_sentence_is_cut_into_pieces_first_and_loses_no_word() -> None:
    # 40 x MAX_SENTENCE_CHARS of words with dashes: cut in pieces at spaces, then halved.
    run = " - ".join(f"word{n}" for n in range(40 * MAX_SENTENCE_CHARS // 9))
    pieces = split_sentences(run)
    assert all(0 < len(piece) <= MAX_SENTENCE_CHARS for piece in pieces)
    words = [word for piece in pieces for word in piece.split() if word != "-"]
    assert words == [word for word in run.split() if word != "-"]

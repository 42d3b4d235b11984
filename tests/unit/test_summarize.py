"""Summaries: genuine standfirsts, lead sentences, key points, and the LLM fallback."""

# ruff: noqa: E501  (sample prose is kept one sentence or one article per line)

from __future__ import annotations

import pytest

from bot.articles.llm import build_messages, parse_answer
from bot.articles.summarize import (
    BRIEF_MAX_WORDS,
    BRIEF_TARGET_WORDS,
    is_genuine_standfirst,
    lead_sentences,
    reading_minutes,
    summarize,
)
from bot.errors import InvalidInput
from tests.unit.support import BODY, TITLE


def test_brief_uses_a_genuine_standfirst() -> None:
    standfirst = "Campaigners blame right-to-buy sales as the borough's housing crisis deepens."
    summary = summarize(TITLE, BODY, standfirst=standfirst)
    assert summary.kind == "publisher"
    assert summary.sentences == (standfirst,)


@pytest.mark.parametrize(
    "fake",
    [
        "",
        "Too short.",
        # The body's own opening, as feeds often give it.
        "The number of families waiting for a council home in the borough has doubled in five years",
        # WordPress's automatic 55-word excerpt, in its three usual endings.
        "Families waiting for homes are stuck in hostels while rents rise […]",
        "Families waiting for homes are stuck in hostels while rents rise [...]",
        "Families waiting for homes are stuck in hostels while rents rise &hellip;",
    ],
)
def test_brief_rejects_fake_standfirsts(fake: str) -> None:
    assert not is_genuine_standfirst(fake, BODY)
    summary = summarize(TITLE, BODY, standfirst=fake)
    assert summary.kind == "extractive"
    assert summary.sentences[0].startswith("The number of families waiting")


def test_brief_is_whole_lead_sentences_within_budget() -> None:
    summary = summarize(TITLE, BODY)
    assert 1 <= len(summary.sentences) <= 3
    assert sum(len(s.split()) for s in summary.sentences) <= BRIEF_MAX_WORDS
    assert all(s.endswith(".") for s in summary.sentences)
    assert BODY.startswith(summary.sentences[0])


def _sentence(words: int) -> str:
    return " ".join(["word"] * (words - 1)) + " end."


def test_brief_stops_once_the_target_length_is_reached() -> None:
    long_lead = [_sentence(BRIEF_TARGET_WORDS + 2), _sentence(10), _sentence(10)]
    assert lead_sentences(long_lead) == long_lead[:1]
    # A short opening line ("Nurses are striking.") is followed by more until the target is met.
    short_leads = [_sentence(6), _sentence(12), _sentence(BRIEF_TARGET_WORDS), _sentence(5)]
    assert lead_sentences(short_leads) == short_leads[:3]


def test_brief_never_breaks_the_word_or_sentence_budget() -> None:
    assert lead_sentences([_sentence(8), _sentence(BRIEF_MAX_WORDS)]) == [_sentence(8)]
    tiny = [_sentence(3)] * 6
    assert lead_sentences(tiny) == tiny[:3]
    # The first sentence always stays, however long: a brief is never empty.
    assert lead_sentences([_sentence(BRIEF_MAX_WORDS + 20)]) == [_sentence(BRIEF_MAX_WORDS + 20)]


def test_key_points_are_three_to_five_in_article_order() -> None:
    summary = summarize(TITLE, BODY, style="key-points")
    assert summary.kind == "extractive"
    assert 3 <= len(summary.sentences) <= 5
    positions = [BODY.index(sentence) for sentence in summary.sentences]
    assert positions == sorted(positions)


def test_key_points_look_past_an_anecdotal_opening() -> None:
    anecdote = (
        "It was raining hard when Maria left her flat before dawn.\n"
        "She carried an umbrella borrowed from her neighbour.\n"
    )
    text = anecdote + BODY
    summary = summarize(TITLE, text, style="key-points")
    assert not any(sentence in anecdote for sentence in summary.sentences)


def test_key_points_skip_repeated_sentences() -> None:
    repeated = (
        BODY + "\n" + "\n".join(["More than twelve thousand households are now on the list."] * 6)
    )
    summary = summarize(TITLE, repeated, style="key-points")
    assert len(set(summary.sentences)) == len(summary.sentences)


def test_empty_or_boilerplate_only_text_is_a_clear_error() -> None:
    with pytest.raises(InvalidInput, match="no text"):
        summarize(TITLE, "Photo: Somebody\nShare this:\n")


def test_unknown_style_is_rejected() -> None:
    with pytest.raises(InvalidInput, match="style"):
        summarize(TITLE, BODY, style="poem")  # type: ignore[arg-type]


def test_reading_minutes() -> None:
    assert reading_minutes("word " * 10) == 1
    assert reading_minutes("word " * 1150) == 5


def test_prompt_is_grounded_and_truncated() -> None:
    messages = build_messages(TITLE, "x" * 50_000, "brief")
    assert "only facts stated in the article" in messages[0]["content"]
    assert len(messages[1]["content"]) < 13_000


def test_parse_answer_strips_bullets() -> None:
    assert parse_answer("- One point.\n\n2) Two point.\n* Three.") == (
        "One point.",
        "Two point.",
        "Three.",
    )

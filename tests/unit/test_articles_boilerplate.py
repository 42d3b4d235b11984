"""Boilerplate removal: captions, credits, bylines, datelines and calls to action."""

from __future__ import annotations

import pytest

from bot.articles.boilerplate import is_boilerplate_line, strip_boilerplate, strip_dateline
from bot.articles.summarize import summarize


@pytest.mark.parametrize(
    "line",
    [
        "Photo: A Person",
        "Image: Marchers on Whitehall",
        "Picture: the picket line at dawn",
        "(Photo: Jo Bloggs)",
        "Credit: Jo Bloggs",
        "Photo credit: Jo Bloggs",
        "By Jane Doe",
        "By Jane Doe and John Smith",
        "Share this:",
        "Subscribe to our newsletter",
        "Read more: Why the strike matters",
        "Click here to donate",
        "Facebook Twitter Email",
        "© Jo Bloggs 2024",
        "Strikers in Leeds. Getty Images",
    ],
)
def test_recognises_boilerplate(line: str) -> None:
    assert is_boilerplate_line(line)


@pytest.mark.parametrize(
    "line",
    [
        "By the end of the week the workers had won.",
        "Read more closely, the offer was a pay cut in real terms for most of the staff.",
        "The photo showed police kettling the march, which organisers said was unprovoked.",
        "Share prices fell by a fifth after the announcement of the results on Monday.",
        "",
    ],
)
def test_keeps_real_sentences(line: str) -> None:
    assert not is_boilerplate_line(line)


def test_dateline_is_stripped_only_from_the_front() -> None:
    assert strip_dateline("LONDON, 3 March — Nurses walked out today over pay.") == (
        "Nurses walked out today over pay."
    )
    assert strip_dateline("PARIS (AFP) - Unions called a general strike for Thursday.") == (
        "Unions called a general strike for Thursday."
    )
    assert strip_dateline("NHS staff walked out today over pay.") == (
        "NHS staff walked out today over pay."
    )


def test_inline_credit_is_removed() -> None:
    text = "The march filled the square (Photo: Jo Bloggs) by noon."
    assert strip_boilerplate(text) == "The march filled the square by noon."


ARTICLE_WITH_CAPTIONS = """Photo: Kim Lee speaking at the rally
Image: The crowd outside the town hall
By Sam Writer
LEEDS, 4 May — Care workers across the city voted to strike after their employer refused to
pay the living wage.
The vote was the largest turnout the branch has seen in a decade, with nine in ten backing action.
Picture: A banner on the picket line
Organisers said the first walkout would be next Tuesday, and further days would follow.
Managers said they were disappointed and urged staff to accept the existing offer of two per cent.
Share this:
The union says the council, which funds the contract, must step in with more money.
"""


@pytest.mark.parametrize("style", ["brief", "key-points"])
def test_captions_never_reach_a_summary(style: str) -> None:
    summary = summarize("Care workers vote to strike", ARTICLE_WITH_CAPTIONS, style=style)  # type: ignore[arg-type]
    joined = " ".join(summary.sentences)
    for marker in ("Photo:", "Image:", "Picture:", "By Sam", "LEEDS", "Share this"):
        assert marker not in joined
    assert summary.sentences[0].startswith("Care workers across the city voted to strike")

"""One text policy: announcements, /summary and the CLI agree on what a genuine standfirst is."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bot.announce.render import AnnouncementArticle, summary_text
from bot.articles.summarize import Style, Summary, best_summary, summarize
from bot.articles.textpolicy import WORDPRESS_TRIM, is_genuine_standfirst, opening_sentences

BODY = (
    "Tenants on the Riverside estate have won a full repair programme after a six-week rent "
    "strike. The council conceded on Tuesday night.\n"
    "Damp and mould had been reported in more than half the flats for three winters running.\n"
    "A meeting on Saturday will decide how to monitor the works."
)
YOAST = " The post Riverside tenants win appeared first on The Weekly."
OPENING_30 = " ".join(BODY.split()[:30])  # (a real trim keeps 55 words)

# Each input with the verdict of the one rule; comments say where the two old rules differed.
STANDFIRSTS = [
    ("Six weeks of withheld rent forced the council to fix damp homes.", True),
    ("Six weeks of withheld rent forced repairs." + YOAST, True),
    ("", False),
    ("Too short.", False),
    # Short but genuine-looking: announcements used to accept it, /summary did not.
    ("Damp homes fixed." + YOAST, False),
    # Ends in an ellipsis: announcements accepted it unless it was the body's opening.
    ("A six-week strike, a council climb-down, and what comes next...", False),
    ("A six-week strike, a council climb-down, and what comes next…", False),
    (OPENING_30 + " [&hellip;]", False),
    (OPENING_30 + " [&#8230;]", False),
    (OPENING_30 + " [...]", False),
    # The body's opening with one word changed: /summary rejected it, announcements accepted it.
    ("Tenants on the Riverside estate have won a full repairs programme", False),
    # The body's opening with Yoast's line: /summary accepted it, announcements did not.
    ("Tenants on the Riverside estate have won a full repair programme." + YOAST, False),
]


def _article(standfirst: str, text: str = BODY) -> AnnouncementArticle:
    return AnnouncementArticle(
        id=1, title="Riverside tenants win", url="https://weekly.example.org/a", text=text,
        standfirst=standfirst, excerpt="",
    )  # fmt: skip


@pytest.mark.parametrize(("standfirst", "genuine"), STANDFIRSTS)
def test_announcement_and_summary_agree_on_the_standfirst(standfirst: str, genuine: bool) -> None:
    assert is_genuine_standfirst(standfirst, BODY) is genuine
    from_publisher = summarize("Riverside tenants win", BODY, standfirst=standfirst).kind
    assert (from_publisher == "publisher") is genuine
    blurb = summary_text(_article(standfirst))
    # The announcement shows the standfirst exactly when /summary says "From the publisher".
    assert blurb.startswith(standfirst.split()[0] if genuine else "Tenants on the Riverside")


def test_boilerplate_before_the_body_does_not_hide_a_copied_opening() -> None:
    text = "Photo: Jane Doe\n" + BODY
    copied = "Tenants on the Riverside estate have won a full repair programme"
    assert not is_genuine_standfirst(copied, text)
    assert summarize("Riverside", text, standfirst=copied).kind == "extractive"


def test_opening_sentences_drops_the_sentence_a_trim_cut() -> None:
    opening = opening_sentences(OPENING_30 + " [&hellip;]", 300)
    assert opening.trimmed and opening.fits
    assert opening.text.endswith("conceded on Tuesday night.")
    assert not WORDPRESS_TRIM.search(opening.text)


@dataclass
class _CountingModel:
    """A model that records being asked; the publisher's standfirst must not reach it."""

    asked: int = 0

    async def summary(
        self, title: str, text: str, *, style: Style = "brief", standfirst: str = ""
    ) -> Summary:
        self.asked += 1
        return Summary(("A machine summary.",), "llm", 1)


async def test_best_summary_prefers_a_genuine_standfirst_over_the_model() -> None:
    model = _CountingModel()
    genuine = "Six weeks of withheld rent forced the council to fix damp homes."
    made = await best_summary("Riverside", BODY, standfirst=genuine, model=model)
    assert (made.kind, model.asked) == ("publisher", 0)
    made = await best_summary("Riverside", BODY, standfirst="", model=model)
    assert (made.kind, model.asked) == ("llm", 1)
    made = await best_summary("Riverside", BODY, standfirst="")
    assert made.kind == "extractive"

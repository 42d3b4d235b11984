"""Offline summaries: the publisher's standfirst, the article's lead, or key points by centrality.

Why lead-based for `brief`: on news, the opening sentences beat graph methods by a wide margin
(Liu & Lapata 2019, "Text Summarization with Pretrained Encoders"; Zheng & Lapata 2019,
"Sentence Centrality Revisited for Unsupervised Summarization"; figures in BENCHMARKS.md).
Journalists write the lead to summarise.

`key-points` picks 3-5 sentences from the whole article by TF-IDF centrality plus a small
position prior, with maximal marginal relevance (Carbonell & Goldstein 1998) against repeats,
and returns them in article order.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Literal, Protocol

from bot.articles import terms
from bot.articles.boilerplate import strip_boilerplate
from bot.articles.sentences import split_sentences
from bot.articles.textpolicy import is_genuine_standfirst, standfirst_text
from bot.errors import InvalidInput
from bot.textutil import clean_text

Style = Literal["brief", "key-points"]
Kind = Literal["publisher", "extractive", "llm"]
STYLES: tuple[Style, ...] = ("brief", "key-points")

BRIEF_MAX_WORDS = 75
BRIEF_MAX_SENTENCES = 3
# Stop adding lead sentences once this many words are in: about a standfirst's length, which beat
# both lead-1 and filling the word budget on ROUGE-L (bench.quality; figures in BENCHMARKS.md).
BRIEF_TARGET_WORDS = 30
WORDS_PER_MINUTE = 230
_MIN_POINT_WORDS = 6
_MAX_POINT_WORDS = 80
_MMR_LAMBDA = 0.7
LEAD_BONUS = 0.15


@dataclass(frozen=True)
class Summary:
    """A summary: whole sentences, where they came from, and the article's reading time."""

    sentences: tuple[str, ...]
    kind: Kind
    reading_minutes: int


def reading_minutes(text: str) -> int:
    """Minutes to read the text at an ordinary pace, at least 1."""
    return max(1, round(len(text.split()) / WORDS_PER_MINUTE))


def clean_body(text: str) -> str:
    """The article body ready for splitting: safe characters, no boilerplate lines."""
    return strip_boilerplate(clean_text(text))


def summarize(title: str, text: str, *, standfirst: str = "", style: Style = "brief") -> Summary:
    """Summarise an article offline; raises InvalidInput when there is nothing to summarise."""
    if style not in STYLES:
        raise InvalidInput(f"Unknown summary style {style!r}; choose brief or key-points.")
    body = clean_body(text)
    minutes = reading_minutes(body)
    if style == "brief" and is_genuine_standfirst(standfirst, body):
        sentences = split_sentences(standfirst_text(standfirst))
        return Summary(tuple(sentences), "publisher", minutes)
    sentences = split_sentences(body)
    if not sentences:
        raise InvalidInput("This article has no text to summarise.")
    chosen = lead_sentences(sentences) if style == "brief" else key_points(title, sentences)
    return Summary(tuple(chosen), "extractive", minutes)


class SummaryModel(Protocol):
    """A machine summariser (the LLM backend); it falls back to `summarize` on any failure."""

    async def summary(
        self, title: str, text: str, *, style: Style = "brief", standfirst: str = ""
    ) -> Summary:
        """A summary of the article in `style`."""
        ...


async def best_summary(
    title: str,
    text: str,
    *,
    standfirst: str = "",
    style: Style = "brief",
    model: SummaryModel | None = None,
    offline: Summary | None = None,
) -> Summary:
    """The one summary entry point (reader service and CLI): the publisher's genuine standfirst,
    else the model's summary when one is configured, else the offline summary (`offline`, when
    the caller computed `summarize` elsewhere, such as in a worker pool)."""
    if offline is None:
        offline = summarize(title, text, standfirst=standfirst, style=style)
    # The publisher's own standfirst beats any machine summary.
    if offline.kind == "publisher" or model is None:
        return offline
    return await model.summary(title, clean_body(text), style=style, standfirst=standfirst)


def lead_sentences(
    sentences: list[str],
    *,
    max_words: int = BRIEF_MAX_WORDS,
    max_count: int = BRIEF_MAX_SENTENCES,
    target_words: int = BRIEF_TARGET_WORDS,
) -> list[str]:
    """Opening whole sentences until `target_words` are in, within the budget (at least one)."""
    chosen: list[str] = []
    used = 0
    for sentence in sentences:
        count = len(sentence.split())
        if chosen and (
            used >= target_words or used + count > max_words or len(chosen) >= max_count
        ):
            break
        chosen.append(sentence)
        used += count
    return chosen


def point_count(sentence_count: int) -> int:
    """How many key points an article of this many sentences gets: 3 to 5."""
    return max(3, min(5, sentence_count // 8))


def key_points(title: str, sentences: list[str]) -> list[str]:
    """3-5 central, non-repeating sentences from across the article, in article order."""
    candidates = [
        index
        for index, sentence in enumerate(sentences)
        if _MIN_POINT_WORDS <= len(sentence.split()) <= _MAX_POINT_WORDS
    ]
    if len(candidates) < 3:
        candidates = list(range(len(sentences)))
    wanted = min(point_count(len(sentences)), len(candidates))
    bags = [Counter(terms.stems(sentence)) for sentence in sentences]
    # Sentence-level IDF: terms in every sentence do not tell sentences apart.
    frequencies: Counter[str] = Counter()
    for bag in bags:
        frequencies.update(bag.keys())
    vectors = [terms.tfidf_vector(bag, frequencies, len(bags)) for bag in bags]
    document: Counter[str] = Counter()
    for bag in bags:
        document.update(bag)
    for stem_ in terms.stems(title):
        document[stem_] += terms.TITLE_WEIGHT
    centroid = terms.tfidf_vector(document, frequencies, len(bags))
    relevance = {
        index: terms.cosine(vectors[index], centroid)
        # A gentle lead bias: news puts what matters first, but key points span the piece.
        + LEAD_BONUS / math.sqrt(1 + index)
        for index in candidates
    }
    chosen: list[int] = []
    while len(chosen) < wanted:
        best = max(
            (i for i in candidates if i not in chosen),
            key=lambda i: (
                _MMR_LAMBDA * relevance[i]
                - (1 - _MMR_LAMBDA)
                * max((terms.cosine(vectors[i], vectors[j]) for j in chosen), default=0.0)
            ),
        )
        chosen.append(best)
    return [sentences[index] for index in sorted(chosen)]

"""The one text policy: what counts as the publisher's standfirst, WordPress's automatic trims,
and cutting a text to whole opening sentences. Announcements, /summary and the CLI all ask here,
so an announcement's blurb and /summary's "From the publisher" cannot disagree."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from bot.articles.boilerplate import strip_boilerplate
from bot.articles.sentences import sentence_tokenizer
from bot.textutil import clean_text

# WordPress's automatic excerpt (wp_trim_words, 55 words) ends in "[…]", "[...]" or "&hellip;".
# (?<!\s) in the patterns below: one starting with \s* is tried where a whitespace run starts
# only; tried from every position inside a run, a search is quadratic in the run's length.
WORDPRESS_TRIM: Final = re.compile(
    r"(?<!\s)\s*(?:\[\s*(?:…|\.\.\.|&hellip;|&#8230;)\s*\]|&hellip;|&#8230;)\s*$", re.IGNORECASE
)
# Yoast SEO appends this sentence to every feed description.
_APPEARED_FIRST = re.compile(
    r"(?<!\s)\s*The post .{1,400}? appeared first on .{1,200}?\.?\s*$", re.DOTALL
)
_TRAILING_ELLIPSIS = re.compile(r"(?<!\s)\s*(?:…|\.\.\.)\s*$")
_SENTENCE_END = re.compile(r"[.!?…]['\"’”)\]]*$")
_WORD_CHARS = re.compile(r"\w+")
SOURCE_WINDOW: Final = 4000  # only the opening of a long text is needed for a short summary
_MIN_STANDFIRST_WORDS = 5


def _collapse(text: str) -> str:
    return " ".join(clean_text(text, single_line=True).split())


def without_yoast(text: str) -> str:
    """The text without Yoast SEO's "The post … appeared first on …" sentence at its end."""
    return _APPEARED_FIRST.sub("", text)


def _normalised_words(text: str) -> list[str]:
    return _WORD_CHARS.findall(text.lower())


def is_genuine_standfirst(standfirst: str, text: str) -> bool:
    """True when the publisher wrote the standfirst: at least five words, not an automatic
    WordPress trim or a cut ending in an ellipsis, and not a copy of the body's opening words."""
    candidate = _collapse(without_yoast(standfirst))
    head = _normalised_words(candidate)
    if len(head) < _MIN_STANDFIRST_WORDS:
        return False
    if WORDPRESS_TRIM.search(candidate) or _TRAILING_ELLIPSIS.search(candidate):
        return False
    body = strip_boilerplate(clean_text(text[: len(standfirst) + SOURCE_WINDOW]))
    opening = _normalised_words(body)[: len(head) + 5]
    # A copy of the body's first words (feed excerpts, truncated leads) adds nothing.
    overlap = sum(1 for a, b in zip(head, opening, strict=False) if a == b)
    return overlap < 0.8 * len(head)


def standfirst_text(standfirst: str) -> str:
    """A standfirst ready for splitting into sentences: safe characters, no Yoast line."""
    return strip_boilerplate(clean_text(without_yoast(standfirst)))


@dataclass(frozen=True)
class Opening:
    """A text's opening: whole sentences within the limit, or its first sentence when none fits."""

    text: str
    fits: bool
    """True when `text` is whole sentences within the limit; else the caller must cut it."""
    trimmed: bool
    """True when a WordPress trim marker ended the source (so a cut should show an ellipsis)."""


def opening_sentences(source: str, limit: int) -> Opening:
    """Whole opening sentences up to `limit` characters, on one line.

    A WordPress trim marker is removed, and the sentence it cut in two is dropped."""
    trimmed = bool(WORDPRESS_TRIM.search(source))
    source = WORDPRESS_TRIM.sub("", source)
    source = _collapse(source[:SOURCE_WINDOW])
    if not source or (len(source) <= limit and not trimmed):
        return Opening(source, True, trimmed)
    sentences = [s.strip() for s in sentence_tokenizer().tokenize(source) if s.strip()]
    if trimmed and len(sentences) > 1 and not _SENTENCE_END.search(sentences[-1]):
        sentences.pop()  # the automatic trim cut this one mid-sentence
    chosen: list[str] = []
    used = 0
    for sentence in sentences:
        extra = len(sentence) + (1 if chosen else 0)
        if used + extra > limit:
            break
        chosen.append(sentence)
        used += extra
    if chosen:
        return Opening(" ".join(chosen), True, trimmed)
    return Opening(sentences[0] if sentences else source, False, trimmed)

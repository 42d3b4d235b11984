"""Sentence splitting: nupunkt's bundled Punkt model plus a few repairs for scraped news.

nupunkt ships its trained model inside the wheel, so nothing is downloaded at run time (NLTK's
punkt would need a data download). Punkt handles abbreviations ("Dr.", "U.S."), initials and
decimals; the post-rules below fix what scraped text adds: missing spaces after full stops
("end.Next") and run-on "sentences" (lists, tables) longer than anyone would read.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nupunkt import PunktSentenceTokenizer

MAX_SENTENCE_CHARS = 600

# A lowercase word, a full stop (or ! ?) and a capitalised word with no space: "end.Next".
# Two lowercase letters before the stop keep "U.S.Army"-style initials and "e.g.The" alone.
_MISSING_SPACE = re.compile(r"(?<=[a-z]{2}[.!?])(?=[A-Z][a-z])")
# Places a long sentence may be cut, best first: semicolons, colons, dashes, then commas.
_CUT_POINTS = (
    re.compile(r";\s+"),
    re.compile(r":\s+"),
    # (?<!\s): tried where a whitespace run starts only; from inside one it is quadratic.
    re.compile(r"(?<!\s)\s+(?:[—–]|-{1,2})\s+"),
    re.compile(r",\s+"),
    re.compile(r"\s+"),
)


@lru_cache(maxsize=1)
def sentence_tokenizer() -> PunktSentenceTokenizer:
    """nupunkt's bundled Punkt model, loaded once."""
    import nupunkt

    return nupunkt.load("default")


def fix_missing_spaces(text: str) -> str:
    """Insert the space scraped text often loses after a full stop ("end.Next" -> "end. Next")."""
    return _MISSING_SPACE.sub(" ", text)


_RUN_PIECES = 16
"""A "sentence" over this many times `max_chars` is cut into pieces before it is halved."""


def split_sentences(text: str, *, max_chars: int = MAX_SENTENCE_CHARS) -> list[str]:
    """Split text into sentences; paragraphs (line breaks) always end a sentence."""
    sentences: list[str] = []
    tokenizer = sentence_tokenizer()
    for paragraph in text.split("\n"):
        paragraph = " ".join(paragraph.split())
        if not paragraph:
            continue
        for sentence in tokenizer.tokenize(fix_missing_spaces(paragraph)):
            sentence = sentence.strip()
            if sentence:
                sentences.extend(_split_long(sentence, max_chars))
    return sentences


def _split_long(sentence: str, max_chars: int) -> list[str]:
    """Cut an over-long sentence at its most natural break nearest the middle, recursively."""
    if len(sentence) <= max_chars:
        return [sentence]
    if len(sentence) > _RUN_PIECES * max_chars:
        # No real sentence is this long. Halving rescans the whole run at every level (n log n
        # in its length), so a run is first cut at spaces into pieces of a bounded size.
        return [
            part for piece in _pieces(sentence, max_chars) for part in _split_long(piece, max_chars)
        ]
    middle = len(sentence) // 2
    for pattern in _CUT_POINTS:
        cuts = [m for m in pattern.finditer(sentence) if 0 < m.start() < len(sentence) - 1]
        if not cuts:
            continue
        best = min(cuts, key=lambda m: abs(m.start() - middle))
        # Keep the separator's punctuation on the left part (";" ends a clause), drop spaces.
        left = sentence[: best.start()] + best.group().strip(" -—–")
        right = sentence[best.end() :]
        if not left.strip() or not right.strip():
            continue
        return _split_long(left.strip(), max_chars) + _split_long(right.strip(), max_chars)
    # One enormous "word" (a URL, a run of symbols): cut it by length.
    return [sentence[i : i + max_chars] for i in range(0, len(sentence), max_chars)]


def _pieces(run: str, max_chars: int) -> list[str]:
    """`run` cut at the last space before every `_RUN_PIECES // 2 * max_chars` characters (by
    length where there is no space), one linear pass."""
    size = _RUN_PIECES // 2 * max_chars
    pieces: list[str] = []
    start = 0
    while len(run) - start > size:
        cut = run.rfind(" ", start + 1, start + size)
        end = cut if cut > start else start + size
        pieces.append(run[start:end].strip())
        start = end
    pieces.append(run[start:].strip())
    return [piece for piece in pieces if piece]

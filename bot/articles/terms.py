"""Words, stems and TF-IDF weights, shared by the summarizer and the related-articles engine.

Stems come from the Snowball English stemmer (PyStemmer: the Snowball algorithms in C, no data
files), so "strikes" and "striking" meet. Its stems equal the pure-Python `snowballstemmer`
reference (a test checks; speed and corpus check in BENCHMARKS.md). Each stem keeps one surface
word for display and for FTS5 queries (FTS5 applies its own porter stemmer to whatever word it
is given).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import Stemmer

# Letters, with inner apostrophes ("don't"); digits alone are not topical terms.
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
TITLE_WEIGHT = 3  # a title word counts as this many body occurrences
MAX_STORED_TERMS = 80

# Function words and news filler that say nothing about a topic (our own list).
STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "almost",
        "also",
        "although",
        "always",
        "am",
        "among",
        "an",
        "and",
        "another",
        "any",
        "anyone",
        "anything",
        "are",
        "around",
        "as",
        "at",
        "away",
        "back",
        "be",
        "became",
        "because",
        "become",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "cannot",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "done",
        "down",
        "during",
        "each",
        "either",
        "else",
        "enough",
        "even",
        "ever",
        "every",
        "few",
        "first",
        "for",
        "from",
        "further",
        "get",
        "gets",
        "getting",
        "given",
        "go",
        "goes",
        "going",
        "got",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "however",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "last",
        "least",
        "less",
        "like",
        "made",
        "make",
        "makes",
        "many",
        "may",
        "me",
        "might",
        "more",
        "most",
        "much",
        "must",
        "my",
        "myself",
        "near",
        "need",
        "never",
        "new",
        "next",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "often",
        "on",
        "once",
        "one",
        "only",
        "or",
        "other",
        "others",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "per",
        "perhaps",
        "put",
        "quite",
        "rather",
        "really",
        "said",
        "same",
        "say",
        "says",
        "see",
        "seen",
        "several",
        "shall",
        "she",
        "should",
        "since",
        "so",
        "some",
        "something",
        "still",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "thing",
        "things",
        "this",
        "those",
        "though",
        "three",
        "through",
        "thus",
        "to",
        "too",
        "two",
        "under",
        "until",
        "up",
        "upon",
        "us",
        "use",
        "used",
        "very",
        "via",
        "was",
        "way",
        "we",
        "well",
        "were",
        "what",
        "whatever",
        "when",
        "where",
        "whether",
        "which",
        "while",
        "who",
        "whom",
        "whose",
        "why",
        "will",
        "with",
        "within",
        "without",
        "would",
        "yet",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "mr",
        "mrs",
        "ms",
        "dr",
        "told",
        "year",
        "years",
        "week",
        "weeks",
        "day",
        "days",
        "time",
        "times",
        "including",
        "according",
        "around",
        "also",
        "already",
        "across",
        "able",
        "among",
        "told",
        "s",
        "t",
        "re",
        "ve",
        "ll",
        "d",
        "m",
        "don",
        "didn",
        "doesn",
        "isn",
        "wasn",
        "aren",
        "weren",
        "won",
        "wouldn",
        "couldn",
        "shouldn",
        "hasn",
        "haven",
    ]
)

_stemmer = Stemmer.Stemmer("english")


# Bounded small: the archiver stems every word it archives, and a large cache is held for the
# life of the bot (memory in BENCHMARKS.md); 20,000 still cover the common words of news prose.
@lru_cache(maxsize=20_000)
def stem(word: str) -> str:
    """The Snowball English stem of a lowercase word."""
    return str(_stemmer.stemWord(word))


def words(text: str) -> list[str]:
    """Lowercase words of the text without possessive "'s", stopwords or 1-letter words."""
    found = []
    for match in _WORD.finditer(text.lower()):
        word = match.group().replace("’", "'")
        if word.endswith("'s"):
            word = word[:-2]
        if len(word) > 1 and word not in STOPWORDS and len(word) <= 40:
            found.append(word)
    return found


def stems(text: str) -> list[str]:
    """Stems of the topical words of the text, in order."""
    return [stem(word) for word in words(text)]


@dataclass(frozen=True)
class Term:
    """One stem of a document: its most frequent surface word and its (title-boosted) count."""

    term: str
    display: str
    count: float


def document_terms(title: str, text: str, *, limit: int | None = None) -> list[Term]:
    """Count the stems of a document (title words weighted), most frequent first."""
    counts: Counter[str] = Counter()
    surfaces: dict[str, Counter[str]] = {}
    for weight, part in ((TITLE_WEIGHT, title), (1, text)):
        for word in words(part):
            key = stem(word)
            counts[key] += weight
            surfaces.setdefault(key, Counter())[word] += 1
    ranked = [
        Term(key, surfaces[key].most_common(1)[0][0], float(count))
        for key, count in counts.most_common(limit)
    ]
    return ranked


def idf(document_frequency: int, documents: int) -> float:
    """Smoothed inverse document frequency (never zero, so unseen terms still count)."""
    return math.log((documents + 1) / (document_frequency + 1)) + 1.0


def tf_weight(count: float) -> float:
    """Sublinear term frequency: the tenth "strike" matters less than the second."""
    return 1.0 + math.log(count) if count > 0 else 0.0


def tfidf_vector(
    counts: Mapping[str, float], frequencies: Mapping[str, int], documents: int
) -> dict[str, float]:
    """TF-IDF weights of a bag of stems given document frequencies over `documents` documents."""
    return {
        term: tf_weight(count) * idf(frequencies.get(term, 0), documents)
        for term, count in counts.items()
    }


def norm(vector: Mapping[str, float]) -> float:
    """Euclidean length of a sparse vector."""
    return math.sqrt(sum(value * value for value in vector.values()))


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Cosine similarity of two sparse vectors (0 when either is empty)."""
    if len(a) > len(b):
        a, b = b, a
    dot = sum(value * b.get(term, 0.0) for term, value in a.items())
    if dot == 0.0:
        return 0.0
    return dot / (norm(a) * norm(b))


def top_terms(vector: Mapping[str, float], count: int) -> list[str]:
    """The `count` heaviest terms of a vector."""
    return [term for term, _ in sorted(vector.items(), key=lambda kv: (-kv[1], kv[0]))[:count]]


def shared_terms(a: Mapping[str, float], b: Mapping[str, float], count: int) -> list[str]:
    """The terms two vectors share that contribute most to their similarity."""
    products = {term: value * b[term] for term, value in a.items() if term in b}
    return top_terms(products, count)


def counts_of(items: Iterable[Term]) -> dict[str, float]:
    """A stem->count mapping from terms."""
    return {item.term: item.count for item in items}

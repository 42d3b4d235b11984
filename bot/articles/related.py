"""Related articles: FTS5 finds candidates, TF-IDF cosine over stored terms ranks them.

1. The source's most distinctive stems (top QUERY_TERMS by TF-IDF against the archive) become an
   OR query on the FTS5 index, ranked by bm25 with the title weighted over the body. FTS5 scores
   every row that matches any word, so the words are chosen within a budget of matching rows
   (POSTINGS_BUDGET, from the stored document counts): a query holding stems found in nearly
   every article scores most of the archive (timing in BENCHMARKS.md), and bm25 gives such
   stems almost no weight anyway.
2. The best CANDIDATES are re-ranked by cosine similarity of TF-IDF vectors built from the terms
   stored for every article at archive time (`index_article`), with current document
   frequencies, so early articles are weighed with today's IDF. SQLite sums each candidate's
   vector length where the rows are; only the terms shared with the query come to Python.
3. The source itself and near-duplicates (cosine above NEAR_DUPLICATE: a syndicated copy or a
   re-post says nothing new) are dropped. Cosine rather than MinHash because the vectors are
   already at hand; MinHash would need its own signatures stored for the same verdict.
4. An optional small recency prior nudges fresher pieces up among near-equals.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.articles import terms
from bot.articles.summarize import clean_body
from bot.errors import InvalidInput, NotFound
from bot.models import WHOLE_ARCHIVE, ArchiveScope
from bot.storage import Storage

QUERY_TERMS = 20
# About how many (article, word) matches the candidate query may score (cost in BENCHMARKS.md).
POSTINGS_BUDGET = 6000
CANDIDATES = 40
NEAR_DUPLICATE = 0.9
SHARED_TERMS = 4
RECENCY_WEIGHT = 0.05
RECENCY_HALF_LIFE_DAYS = 365.0


@dataclass(frozen=True)
class RelatedItem:
    """One related article, with the few terms it shares with the source."""

    id: int
    title: str
    url: str
    published: datetime | None
    score: float
    shared_terms: tuple[str, ...]


def terms_of(title: str, text: str) -> list[terms.Term]:
    """The stems worth storing for a document (its heaviest MAX_STORED_TERMS)."""
    return terms.document_terms(title, clean_body(text), limit=terms.MAX_STORED_TERMS)


async def index_article(storage: Storage, article_id: int) -> int:
    """Compute and store an archived article's terms once; returns how many were stored."""
    # Indexing serves every server: the article's own terms, whoever may read it.
    article = await storage.article_text(WHOLE_ARCHIVE, article_id)
    if article is None:
        raise NotFound(f"There is no archived article number {article_id}.")
    body = article.text or article.description or article.excerpt
    found = terms_of(article.title, body)
    await storage.save_terms_batch([(article_id, [(t.term, t.display, t.count) for t in found])])
    return len(found)


async def related_to_article(
    storage: Storage,
    scope: ArchiveScope,
    article_id: int,
    *,
    limit: int = 5,
    now: datetime | None = None,
) -> list[RelatedItem]:
    """Articles in `scope` related to an archived one in `scope` (NotFound if it is not)."""
    if article_id not in await storage.article_refs(scope, [article_id]):
        raise NotFound("That article is no longer in the archive.")
    stored = (await storage.article_terms([article_id])).get(article_id)
    if stored is None:
        await index_article(storage, article_id)
        stored = (await storage.article_terms([article_id])).get(article_id, {})
    counts = {term: count for term, (_, count) in stored.items()}
    displays = {term: display for term, (display, _) in stored.items()}
    return await _related(
        storage, scope, counts, displays, limit=limit, exclude=[article_id], now=now
    )


async def related_to_text(
    storage: Storage,
    scope: ArchiveScope,
    title: str,
    text: str,
    *,
    limit: int = 5,
    exclude_ids: Sequence[int] = (),
    now: datetime | None = None,
) -> list[RelatedItem]:
    """Articles in `scope` related to any text (a pasted paragraph, a page, a few words)."""
    found = terms_of(title, text)
    if not found:
        raise InvalidInput("Give a few words about the topic to find related articles.")
    counts = terms.counts_of(found)
    displays = {t.term: t.display for t in found}
    return await _related(
        storage, scope, counts, displays, limit=limit, exclude=exclude_ids, now=now
    )


async def related_to_url(
    storage: Storage,
    scope: ArchiveScope,
    url: str,
    load_page: Callable[[str], Awaitable[tuple[str, str]]],
    *,
    limit: int = 5,
    now: datetime | None = None,
) -> list[RelatedItem]:
    """Articles in `scope` related to a URL: the archived article if `scope` has it, else the
    fetched page.

    `load_page(url)` returns (title, text) of the page; the caller fetches and extracts it.
    """
    article_id = await storage.article_id_for_url(scope, url)
    if article_id is not None:
        return await related_to_article(storage, scope, article_id, limit=limit, now=now)
    title, text = await load_page(url)
    return await related_to_text(storage, scope, title, text, limit=limit, now=now)


def recency_factor(published: datetime | None, now: datetime | None) -> float:
    """1 + a small bonus that halves every RECENCY_HALF_LIFE_DAYS of age."""
    if published is None or now is None:
        return 1.0
    age_days = max(0.0, (now - published).total_seconds() / 86400)
    return 1.0 + RECENCY_WEIGHT * math.pow(0.5, age_days / RECENCY_HALF_LIFE_DAYS)


def stored_similarity(
    query: Mapping[str, float],
    query_norm: float,
    shared: Mapping[str, tuple[float, int]],
    vector_norm: float,
    documents: int,
) -> tuple[float, dict[str, float]]:
    """Cosine of a query with a stored article, and the products of the terms they share.

    `shared` holds the article's (count, document count) of the query terms it has and
    `vector_norm` the length of its whole TF-IDF vector (`Storage.vector_norms`): the same
    value as `terms.cosine` of the two `terms.tfidf_vector`s, without loading all its terms.
    """
    products = {
        term: query[term] * terms.tf_weight(count) * terms.idf(frequency, documents)
        for term, (count, frequency) in shared.items()
        if term in query
    }
    dot = sum(products.values())
    if dot == 0.0 or vector_norm == 0.0:
        return 0.0, products
    return dot / (query_norm * vector_norm), products


def candidate_terms(
    query: Mapping[str, float],
    frequencies: Mapping[str, int],
    *,
    count: int = QUERY_TERMS,
    budget: int = POSTINGS_BUDGET,
) -> list[str]:
    """The heaviest query terms whose document counts fit the budget (at least one term)."""
    ranked = terms.top_terms(query, len(query))
    chosen: list[str] = []
    postings = 0
    for term in ranked:
        documents = frequencies.get(term, 0)
        if postings + documents > budget:
            continue  # a lighter term further down may still fit
        chosen.append(term)
        postings += documents
        if len(chosen) == count:
            break
    if not chosen and ranked:
        # Every term is common: the rarest one alone is the cheapest query that finds anything.
        chosen.append(min(ranked, key=lambda term: (frequencies.get(term, 0), term)))
    return chosen


async def _related(
    storage: Storage,
    scope: ArchiveScope,
    counts: Mapping[str, float],
    displays: Mapping[str, str],
    *,
    limit: int,
    exclude: Sequence[int],
    now: datetime | None,
) -> list[RelatedItem]:
    if limit < 1 or not counts:
        return []
    documents = await storage.indexed_article_count()
    frequencies = await storage.document_frequencies(counts)
    # Stems no indexed article has cannot find anything; leave them out of the query.
    query = terms.tfidf_vector(
        {t: c for t, c in counts.items() if frequencies.get(t, 0) > 0}, frequencies, documents
    )
    if not query:
        return []
    query_words = [displays[term] for term in candidate_terms(query, frequencies)]
    candidates = await storage.related_candidate_refs(
        scope, query_words, max(CANDIDATES, limit * 3), exclude
    )
    if not candidates:
        return []
    refs = {ref.id: ref for ref in candidates}
    norms = await storage.vector_norms(list(refs), documents)
    missing = [article_id for article_id in refs if article_id not in norms]
    if missing:
        # Archived but not indexed yet (the archiver indexes right after saving the text, or an
        # import skipped it): index them now rather than leave them out of the answer.
        for article_id in missing:
            await index_article(storage, article_id)
        documents = await storage.indexed_article_count()
        norms = await storage.vector_norms(list(refs), documents)
    shared = await storage.term_counts_among(list(refs), query)
    query_norm = terms.norm(query)
    scored: list[tuple[float, int, tuple[str, ...]]] = []
    for article_id, ref in refs.items():
        if article_id not in norms or article_id not in shared:
            continue  # nothing to index it from, or no stored term in common
        similarity, products = stored_similarity(
            query, query_norm, shared[article_id], norms[article_id], documents
        )
        if similarity <= 0.0 or similarity > NEAR_DUPLICATE:
            continue
        # Shared terms are query terms, so the query's own display words cover them all.
        shown = tuple(displays[term] for term in terms.top_terms(products, SHARED_TERMS))
        scored.append((similarity * recency_factor(ref.published, now), article_id, shown))
    scored.sort(key=lambda item: (-item[0], item[1]))
    items = []
    for score, article_id, shown in scored[:limit]:
        ref = refs[article_id]
        items.append(RelatedItem(ref.id, ref.title, ref.url, ref.published, round(score, 4), shown))
    return items

"""The related engine's fast paths agree with the plain definitions they replace."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench._common import insert_article
from bot.articles import terms
from bot.articles.related import candidate_terms, index_article, stored_similarity
from bot.models import WHOLE_ARCHIVE
from bot.storage import Storage
from bot.storage import sqlite_ln as _ln

QUERY = {"strike": 9.0, "picket": 7.0, "union": 5.0, "pay": 3.0, "worker": 2.0}


def test_candidate_terms_are_the_heaviest_when_all_fit() -> None:
    frequencies = dict.fromkeys(QUERY, 10)
    chosen = candidate_terms(QUERY, frequencies, count=3, budget=1000)
    assert chosen == ["strike", "picket", "union"]


def test_candidate_terms_skip_a_word_too_common_for_the_budget() -> None:
    # "picket" alone would match more rows than the budget allows; lighter words still come in.
    frequencies = {"strike": 100, "picket": 5000, "union": 300, "pay": 4000, "worker": 50}
    chosen = candidate_terms(QUERY, frequencies, count=20, budget=1000)
    assert chosen == ["strike", "union", "worker"]
    assert sum(frequencies[term] for term in chosen) <= 1000


def test_candidate_terms_fall_back_to_the_rarest_word() -> None:
    frequencies = {"strike": 9000, "picket": 7000, "union": 8000, "pay": 9500, "worker": 7500}
    assert candidate_terms(QUERY, frequencies, budget=1000) == ["picket"]
    assert candidate_terms({}, {}, budget=1000) == []


weights = st.floats(min_value=0.1, max_value=50, allow_nan=False)
vocabulary = st.sampled_from(["rent", "strike", "flood", "union", "tenant", "carbon", "pay", "oil"])


@given(
    query_counts=st.dictionaries(vocabulary, weights, min_size=1),
    bag=st.dictionaries(
        vocabulary, st.tuples(weights, st.integers(min_value=1, max_value=500)), min_size=1
    ),
    documents=st.integers(min_value=500, max_value=100_000),
)
def test_stored_similarity_is_the_tfidf_cosine(
    query_counts: dict[str, float], bag: dict[str, tuple[float, int]], documents: int
) -> None:
    frequencies = {term: docs for term, (_, docs) in bag.items()}
    for term in query_counts:
        frequencies.setdefault(term, 3)
    query = terms.tfidf_vector(query_counts, frequencies, documents)
    vector = terms.tfidf_vector(
        {term: count for term, (count, _) in bag.items()}, frequencies, documents
    )
    shared = {term: bag[term] for term in query if term in bag}
    similarity, products = stored_similarity(
        query, terms.norm(query), shared, terms.norm(vector), documents
    )
    assert math.isclose(similarity, terms.cosine(query, vector), rel_tol=1e-9, abs_tol=1e-12)
    assert set(products) == set(query) & set(bag)
    assert terms.top_terms(products, 4) == terms.shared_terms(query, vector, 4)


ARTICLES = [
    ("Bus drivers strike over pay", "Bus drivers strike again; the union wants a pay rise."),
    ("Nurses vote to strike", "Nurses in the union vote for strike action over pay and staffing."),
    ("Floods hit the coast", "Coastal towns flood again as sea levels rise; people want defences."),
    ("Tenants win rent freeze", "The tenants union won a rent freeze after a long campaign."),
]


@pytest.fixture
async def indexed(database_target: str):  # type: ignore[no-untyped-def]
    storage = await Storage.open(database_target)
    ids = []
    for number, (title, text) in enumerate(ARTICLES):
        article_id = await insert_article(storage, f"https://example.org/{number}", title, text)
        await index_article(storage, article_id)
        ids.append(article_id)
    yield storage, ids
    await storage.close()


async def _python_norms(storage: Storage, ids: list[int]) -> dict[int, float]:
    documents = await storage.indexed_article_count()
    stored = await storage.article_terms(ids)
    norms = {}
    for article_id, bag in stored.items():
        counts = {term: count for term, (_, count) in bag.items()}
        frequencies = await storage.document_frequencies(counts)
        norms[article_id] = terms.norm(terms.tfidf_vector(counts, frequencies, documents))
    return norms


async def test_vector_norms_in_sql_equal_the_python_definition(indexed) -> None:  # type: ignore[no-untyped-def]
    storage, ids = indexed
    expected = await _python_norms(storage, ids)
    found = await storage.vector_norms([*ids, 99_999], await storage.indexed_article_count())
    assert set(found) == set(ids)  # an unknown or unindexed id has no norm, rather than zero
    for article_id in ids:
        assert math.isclose(found[article_id], expected[article_id], rel_tol=1e-12)


async def test_vector_norms_without_sqlite_math_functions(indexed) -> None:  # type: ignore[no-untyped-def]
    storage, ids = indexed
    if storage.dialect != "sqlite":
        pytest.skip("only SQLite may be built without ln(); PostgreSQL always has it")
    # Stand in for a SQLite built without math functions: our ln() replaces the built-in one.
    await storage.register_function("ln", 1, _ln, deterministic=True)
    found = await storage.vector_norms(ids, await storage.indexed_article_count())
    expected = await _python_norms(storage, ids)
    assert all(math.isclose(found[i], expected[i], rel_tol=1e-12) for i in ids)
    assert [_ln(None), _ln(0.0), _ln(-2.0), _ln(1.0)] == [None, None, None, 0.0]


async def test_term_counts_among_keeps_only_the_asked_terms(indexed) -> None:  # type: ignore[no-untyped-def]
    storage, ids = indexed
    found = await storage.term_counts_among(ids, ["strike", "pay", "nowhere"])
    assert set(found) == {ids[0], ids[1]}
    assert found[ids[0]] == {"strike": (4.0, 2), "pay": (4.0, 2)}  # title x3 + body once
    assert set(found[ids[1]]) == {"strike", "pay"}
    assert await storage.term_counts_among(ids, []) == {}


async def test_candidate_refs_match_article_refs(indexed) -> None:  # type: ignore[no-untyped-def]
    storage, ids = indexed
    words = ["strike", "union", "pay"]
    refs = await storage.related_candidate_refs(WHOLE_ARCHIVE, words, 10)
    plain = [ref.id for ref in refs]
    assert set(plain) == {ids[0], ids[1], ids[3]}
    by_id = await storage.article_refs(WHOLE_ARCHIVE, plain)
    assert refs == [by_id[article_id] for article_id in plain]
    without = await storage.related_candidate_refs(WHOLE_ARCHIVE, words, 1, exclude_ids=[plain[0]])
    assert [ref.id for ref in without] == plain[1:2]
    assert await storage.related_candidate_refs(WHOLE_ARCHIVE, [], 5) == []

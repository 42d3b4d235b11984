"""Related pieces include articles whose text is archived but not indexed yet (the archiver
indexes right after saving the text, so for a moment an article can be in that state)."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.articles.related import index_article, related_to_article
from bot.models import WHOLE_ARCHIVE
from bot.storage import NewArticle, Storage

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
HOUSING = (
    "Tenants in the estate began a rent strike after the landlord raised rents again. "
    "The tenants' union says the rent rise breaks the tenancy agreement and the landlord "
    "must repair the damp flats before any rent increase. Housing campaigners back the strike."
)
TRANSPORT = (
    "Bus drivers voted for strike action over pay. The bus company cut routes and timetables, "
    "and passengers say the buses are late. The council wants to franchise the bus network."
)


async def archived(storage: Storage, n: int, title: str, text: str) -> int:
    url = f"https://paper.example/{n}/"
    [(article_id, _)] = await storage.add_articles(
        [NewArticle(canonical_url=url, url=url, title=title, published=NOW)], now=NOW
    )
    await storage.save_article_text(article_id, status="done", text=text)
    return article_id


async def test_unindexed_candidates_are_indexed_on_demand(storage: Storage) -> None:
    source = await archived(storage, 1, "Rent strike on the estate", HOUSING)
    sibling = await archived(
        storage, 2, "Tenants' union wins repairs", HOUSING.replace("began", "won")
    )
    await archived(storage, 3, "Bus strike vote", TRANSPORT)
    await index_article(storage, source)  # only the source is indexed, as after a busy moment
    found = await related_to_article(storage, WHOLE_ARCHIVE, source, limit=5, now=NOW)
    assert found and found[0].id == sibling
    assert source not in [item.id for item in found]

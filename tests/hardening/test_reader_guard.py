"""/summary and /related never fetch into private networks, whatever the member pastes.

The ReaderService runs with a guarded Fetcher whose resolver would send every name to a loopback
server that logs requests: a request that slipped past the guard would show up there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.config import FetchConfig
from bot.errors import FetchError, PaperboyError
from bot.fetch import make_session
from bot.models import WHOLE_ARCHIVE, GuildScope
from bot.services.reader import ReaderService
from bot.storage import NewArticle, NewEntry, Storage
from tests.conftest import make_config
from tests.hardening.support import (
    LOOPBACK_SPELLINGS,
    METADATA,
    NOW,
    OTHER_PRIVATE_HOSTS,
    FixedResolver,
    RecordingFetcher,
    recording_server,
)

GUARDED = FetchConfig(total_timeout_seconds=5.0, connect_timeout_seconds=2.0)


@dataclass
class ReaderRig:
    reader: ReaderService
    fetcher: RecordingFetcher
    hits: list[str]
    port: int


@pytest.fixture
async def rig(storage: Storage, tmp_path: Path) -> AsyncIterator[ReaderRig]:
    config = make_config(tmp_path)
    async with (
        recording_server() as (port, hits),
        make_session(GUARDED, "t", resolver=FixedResolver("127.0.0.1")) as session,
    ):
        fetcher = RecordingFetcher(session, GUARDED)
        reader = ReaderService(storage, fetcher, FakeClock(NOW), config.summaries)
        yield ReaderRig(reader, fetcher, hits, port)


MEMBERS = GuildScope(4242)  # a server that follows no feed


def pasted_forms(host: str, port: int) -> list[str]:
    url = f"http://{host}:{port}/latest/meta-data/"
    return [url, f"<{url}>", f"  {url}  "]


@pytest.mark.parametrize("host", [*LOOPBACK_SPELLINGS, "intranet.example"])
async def test_summary_and_related_refuse_loopback_and_names_resolving_to_it(
    rig: ReaderRig, host: str
) -> None:
    for pasted in pasted_forms(host, rig.port):
        for ask in (rig.reader.summary, rig.reader.related):
            with pytest.raises(PaperboyError) as caught:
                await ask(MEMBERS, pasted)
            assert str(caught.value).endswith(".")
            if isinstance(caught.value, FetchError):
                assert caught.value.kind in ("private-address", "invalid-url")
    assert rig.hits == []


@pytest.mark.parametrize("host", OTHER_PRIVATE_HOSTS)
async def test_summary_and_related_refuse_every_private_range(rig: ReaderRig, host: str) -> None:
    for ask in (rig.reader.summary, rig.reader.related):
        with pytest.raises(FetchError) as caught:
            await ask(MEMBERS, f"http://{host}/latest/meta-data/")
        assert caught.value.kind == "private-address"
    assert rig.hits == []


async def test_an_archived_item_linking_to_cloud_metadata_is_summarised_without_a_fetch(
    rig: ReaderRig, storage: Storage
) -> None:
    # A hostile feed's item, archived before its text could be read (text still empty).
    feed = await storage.add_feed("https://news.paper.example/feed/", now=NOW)
    async with storage.poll_transaction(feed.id, now=NOW) as tx:
        trap = NewArticle(
            canonical_url=METADATA,
            url=METADATA,
            title="Trap",
            excerpt="Members are asked to read this short excerpt first.",
            published=NOW - timedelta(hours=1),
        )
        [article_id] = await tx.upsert_articles([trap])
        await tx.insert_entries([NewEntry("trap", article_id, NOW)])
        await tx.finish_success(etag=None, last_modified=None, next_check_at=NOW)
    for answer in (
        await rig.reader.summary_of_archived(WHOLE_ARCHIVE, article_id),
        await rig.reader.summary(WHOLE_ARCHIVE, METADATA),
    ):
        assert answer.article_id == article_id
    # A server that does not follow the feed has no such article: the link is a page to fetch,
    # and the guard refuses it.
    with pytest.raises(FetchError) as caught:
        await rig.reader.summary(MEMBERS, METADATA)
    assert caught.value.kind == "private-address"
    assert {kind for _, kind in rig.fetcher.outcomes} <= {"private-address"}
    assert rig.hits == []

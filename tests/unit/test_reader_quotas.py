"""Member quotas in ReaderService: real archive (SQLite), the news-site stand-in on loopback.

Only page fetches cost quota; answers from the archive or the page cache are free.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.config import LimitsConfig
from bot.errors import FetchError, TryLater
from bot.fetch import Fetcher, HostLimiter, make_session
from bot.models import WHOLE_ARCHIVE
from bot.services.quotas import MemberQuotas, Requester
from bot.services.reader import ReaderService
from bot.storage import Storage
from tests.bench.news_site import Hang, NewsSite, ServerError
from tests.bench.news_site_render import SiteItem
from tests.builders import READER_NOW as NOW
from tests.builders import build_archive
from tests.conftest import make_config

ANN = Requester(1001, 1)
BOB = Requester(1001, 2)
UNARCHIVED = 4

ALL = WHOLE_ARCHIVE  # quotas are the subject here, not what each server may read


@dataclass
class Rig:
    reader: ReaderService
    site: NewsSite
    clock: FakeClock
    archived: list[SiteItem]
    unarchived: list[SiteItem]
    site_slots_held: dict[int, asyncio.Event]  # n -> set once n of the site's slots are held

    def url(self, item: SiteItem) -> str:
        return self.site.article_url(item)

    def fetches_of(self, item: SiteItem) -> int:
        return len(self.site.requests_to(item.path))


RigFactory = Callable[..., AbstractAsyncContextManager[Rig]]


@pytest.fixture
def make_rig(tmp_path: Path) -> RigFactory:
    @asynccontextmanager
    async def factory(**limits: float) -> AsyncIterator[Rig]:
        config = make_config(tmp_path)
        storage = await Storage.open(tmp_path / "reader.db")
        http = make_session(config.fetch, "Paperboy-test")
        held = {n: asyncio.Event() for n in (1, 2)}

        def observe(key: str, active: int, waiting: int) -> None:
            if active in held:
                held[active].set()

        try:
            async with NewsSite(initially_published=30) as site:
                unarchived = site.items[:UNARCHIVED]
                await build_archive(storage, site, skip=tuple(i.slug for i in unarchived))
                fetcher = Fetcher(
                    http,
                    config.fetch,
                    host_limiter=HostLimiter(config.fetch.per_host_concurrency, on_change=observe),
                )
                clock = FakeClock(NOW)
                quotas = MemberQuotas(LimitsConfig(**limits))  # type: ignore[arg-type]
                reader = ReaderService(storage, fetcher, clock, config.summaries, quotas=quotas)
                archived = site.items[UNARCHIVED:]
                yield Rig(reader, site, clock, archived, unarchived, held)
        finally:
            await http.close()
            await storage.close()

    return factory


async def test_archive_and_cache_answers_are_free_and_fetches_are_counted(
    make_rig: RigFactory,
) -> None:
    async with make_rig(member_fetches_per_window=2, member_window_seconds=60) as rig:
        for item in rig.archived[:6]:  # archived: no fetch, no quota
            await rig.reader.summary(ALL, rig.url(item), who=ANN)
            await rig.reader.related(ALL, rig.url(item), who=ANN)
        page = rig.unarchived[0]
        await rig.reader.summary(ALL, rig.url(page), who=ANN)  # fetched: 1 of 2
        await rig.reader.summary(ALL, rig.url(page), who=ANN)  # the page cache answers
        await rig.reader.summary(
            WHOLE_ARCHIVE, rig.url(page) + "?utm_source=discord", who=ANN
        )  # same page
        assert rig.fetches_of(page) == 1
        # Query strings make new URLs, but every fetch counts against the member.
        await rig.reader.related(
            WHOLE_ARCHIVE, rig.url(rig.unarchived[1]) + "?n=1", who=ANN
        )  # 2 of 2
        rig.clock.advance(15)
        with pytest.raises(TryLater) as caught:
            await rig.reader.summary(ALL, rig.url(rig.unarchived[1]) + "?n=2", who=ANN)
        assert str(caught.value) == (
            "You can have 2 pages fetched every 60 seconds; try again in 45 seconds."
        )
        assert caught.value.retry_after == 45
        assert rig.fetches_of(rig.unarchived[1]) == 1  # the refused one was never fetched
        await rig.reader.summary(
            WHOLE_ARCHIVE, rig.url(rig.unarchived[1]) + "?n=2", who=BOB
        )  # Bob's own
        await rig.reader.summary(
            WHOLE_ARCHIVE, rig.url(rig.archived[0]), who=ANN
        )  # archive: still free
        rig.clock.advance(45)
        await rig.reader.summary(
            WHOLE_ARCHIVE, rig.url(rig.unarchived[2]), who=ANN
        )  # the window moved on


async def test_a_page_that_failed_is_not_fetched_again_for_a_while(make_rig: RigFactory) -> None:
    async with make_rig(failed_url_seconds=300) as rig:
        page = rig.unarchived[0]
        rig.site.set_fault(page.path, ServerError(status=503))
        with pytest.raises(FetchError) as first:
            await rig.reader.summary(ALL, rig.url(page), who=ANN)
        assert first.value.kind == "http-5xx"
        rig.clock.advance(100)
        for ask in (rig.reader.summary, rig.reader.related):
            with pytest.raises(TryLater) as again:
                await ask(ALL, rig.url(page), who=BOB)
            assert str(again.value).startswith("That page could not be fetched a moment ago: ")
            assert str(first.value) in str(again.value)
            assert str(again.value).endswith("if you ask in 4 minutes.")
        assert rig.fetches_of(page) == 1
        rig.site.clear_faults()
        rig.clock.advance(200)
        await rig.reader.summary(ALL, rig.url(page), who=BOB)
        assert rig.fetches_of(page) == 2


async def test_a_servers_fetches_in_flight_are_capped(make_rig: RigFactory) -> None:
    async with make_rig(server_concurrent_fetches=1) as rig:
        held = rig.unarchived[0]
        rig.site.set_fault(held.path, Hang())
        arrived = rig.site.next_request(held.path)
        first = asyncio.create_task(rig.reader.summary(ALL, rig.url(held), who=ANN))
        # Held at the site, not only its slot taken: a request still on its way when the hangs
        # are released would hang on until its deadline.
        await asyncio.wait_for(arrived, 10)
        await rig.site_slots_held[1].wait()
        with pytest.raises(TryLater) as caught:
            await rig.reader.related(ALL, rig.url(rig.unarchived[1]), who=BOB)
        assert str(caught.value) == (
            "Paperboy is already fetching a page for this server; try again in 10 seconds."
        )
        # Another server's member, and answers from the archive, are not held back.
        await rig.reader.summary(ALL, rig.url(rig.archived[0]), who=BOB)
        await rig.reader.related(ALL, rig.url(rig.unarchived[1]), who=Requester(2002, 2))
        rig.site.release_hangs()
        await first
        await rig.reader.related(
            WHOLE_ARCHIVE, rig.url(rig.unarchived[1]), who=BOB
        )  # the slot came back


async def test_a_full_site_slot_is_a_try_later_for_members(make_rig: RigFactory) -> None:
    async with make_rig(member_slot_wait_seconds=0) as rig:
        held = rig.unarchived[:2]
        for item in held:
            rig.site.set_fault(item.path, Hang())
        arrived = [rig.site.next_request(item.path) for item in held]
        tasks = [
            asyncio.create_task(rig.reader.summary(ALL, rig.url(item), who=ANN)) for item in held
        ]
        await asyncio.wait_for(asyncio.gather(*arrived), 10)  # both held at the site
        await rig.site_slots_held[2].wait()  # the site's 2 slots, both held by Ann's fetches
        with pytest.raises(TryLater) as caught:
            await rig.reader.summary(ALL, rig.url(rig.unarchived[2]), who=BOB)
        assert "as many requests to the site 127.0.0.1 as it allows" in str(caught.value)
        assert "try again in" in str(caught.value)
        assert rig.fetches_of(rig.unarchived[2]) == 0
        rig.site.release_hangs()
        await asyncio.gather(*tasks)
        # A busy answer is Paperboy's own queueing, not the page's fault: not remembered.
        await rig.reader.summary(ALL, rig.url(rig.unarchived[2]), who=BOB)

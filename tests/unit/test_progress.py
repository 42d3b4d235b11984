"""Progress on long jobs: archive import reports each document it reads while expanding
sources (sitemaps included), and bars are drawn only on a terminal without --quiet."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bot.cli._context import CommandContext
from bot.clock import SystemClock
from bot.fetch import Fetcher
from bot.ingest.archiver import Archiver
from bot.ingest.importer import Importer, ImportReport
from tests.bench.news_site import NewsSite
from tests.conftest import make_config


async def test_expanding_sources_reports_each_document_read(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    ctx = CommandContext(config)
    try:
        async with NewsSite(initially_published=3) as site:
            fetcher = Fetcher(await ctx.http(), config.fetch)
            clock = SystemClock()
            storage = await ctx.storage()
            importer = Importer(storage, fetcher, Archiver(storage, fetcher, config, clock), clock)
            read: list[int] = []
            report = ImportReport()
            jobs = await importer.expand(
                [site.sitemap_url, site.feed_url, site.url("/missing.xml")],
                report,
                fetched=read.append,
            )
    finally:
        await ctx.aclose()
    assert read == [1, 1]  # the sitemap and the feed; the missing one failed before reading
    assert len(jobs) == 6 and report.failed == 1


class FakeTerminal:
    def __init__(self, tty: bool) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


@pytest.mark.parametrize(
    ("tty", "quiet", "shown"), [(True, False, True), (True, True, False), (False, False, False)]
)
def test_bars_only_on_a_terminal_without_quiet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tty: bool, quiet: bool, shown: bool
) -> None:
    monkeypatch.setattr(sys, "stderr", FakeTerminal(tty))
    assert CommandContext(make_config(tmp_path), quiet=quiet).show_progress() is shown

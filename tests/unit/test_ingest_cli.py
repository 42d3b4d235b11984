"""`paperboy feed check` and `paperboy archive import` handlers, against the news-site stand-in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import build_parser
from bot.cli._context import CommandContext
from tests.bench.news_site import PATHOLOGICAL_HOME_PATH, NewsSite, ServerError
from tests.conftest import make_config


async def run_cli(argv: list[str], tmp_path: Path) -> int:
    args = build_parser().parse_args(argv)
    ctx = CommandContext(make_config(tmp_path))
    try:
        return int(await args.handler(args, ctx))
    finally:
        await ctx.aclose()


async def test_feed_check_json_discovers_and_lists_items(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with NewsSite() as site:
        status = await run_cli(["feed", "check", site.home_url, "--json"], tmp_path)
        expected_titles = [item.title for item in site.items]
    assert status == 0
    out = json.loads(capsys.readouterr().out)
    assert out["feed"]["url"] == site.feed_url
    assert out["feed"]["title"] == "The Weekly Worker"
    assert [item["title"] for item in out["items"]] == expected_titles
    first = out["items"][0]
    assert set(first) == {
        "key", "title", "url", "published", "author", "categories", "summary", "image",
    }  # fmt: skip
    assert first["key"].startswith("guid:") and first["published"].endswith("+00:00")


async def test_feed_check_prints_the_error_class_and_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with NewsSite() as site:
        site.set_fault("/feed/", ServerError(503))
        status = await run_cli(["feed", "check", site.feed_url], tmp_path)
    assert status == 1
    err = capsys.readouterr().err
    assert err.startswith("http-5xx: The server at 127.0.0.1 had an error (503")


async def test_archive_import_prints_a_summary_and_skips_on_a_second_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with NewsSite(initially_published=3) as site:
        first = await run_cli(["archive", "import", site.sitemap_url], tmp_path)
        first_out = capsys.readouterr().out
        second = await run_cli(["archive", "import", site.feed_url], tmp_path)
        second_out = capsys.readouterr().out
    assert (first, second) == (0, 0)
    assert first_out.strip() == "Imported 3 articles, skipped 0 already archived, 0 failed"
    assert second_out.strip() == "Imported 0 articles, skipped 3 already archived, 0 failed"


async def test_feed_check_stops_discovery_on_a_hostile_page_at_the_deadline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = build_parser().parse_args(["feed", "check", "URL"])
    ctx = CommandContext(make_config(tmp_path, workers={"job_timeout_seconds": 0.5}))
    async with NewsSite() as site:
        args.url = site.url(PATHOLOGICAL_HOME_PATH)
        try:
            status = await args.handler(args, ctx)
        finally:
            await ctx.aclose()
    assert status == 1
    assert capsys.readouterr().err.startswith(
        "too-slow: Reading this page took too long (over 0.5 s), so Paperboy stopped."
    )

"""The optional LLM backend: its own session that reaches only the configured server (loopback is
fine there), the extractive fallback on every failure, logged once per spell of failures, and
members' links never going through it."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import open_app
from bot.articles.llm import DestinationRefused, LlmBackend, make_llm_session
from bot.articles.summarize import summarize
from bot.cli import build_parser
from bot.cli._context import CommandContext
from bot.clock import FakeClock
from bot.config import Config, FetchConfig, SummariesConfig
from bot.errors import FetchError
from bot.fetch import Fetcher, make_session
from bot.models import WHOLE_ARCHIVE
from bot.services.reader import ReaderService
from bot.storage import NewArticle, NewEntry, Storage
from tests.bench.llm_standin import LlmStandIn
from tests.conftest import make_config
from tests.hardening.support import NOW
from tests.unit.support import BODY, TITLE

LOGGER = "bot.articles.llm"
GUARDED = FetchConfig(total_timeout_seconds=5.0, connect_timeout_seconds=2.0)


def summaries(base_url: str, timeout: float = 5.0) -> SummariesConfig:
    return SummariesConfig(
        backend="openai", openai_base_url=base_url, openai_model="tiny", timeout_seconds=timeout
    )


@pytest.fixture
async def server() -> AsyncIterator[LlmStandIn]:
    async with LlmStandIn() as running:
        yield running


async def backend_for(
    base_url: str, *, timeout: float = 5.0, environ: dict[str, str] | None = None
) -> LlmBackend:
    config = summaries(base_url, timeout)
    return LlmBackend(make_llm_session(config, "Paperboy-test"), config, environ=environ or {})


async def test_an_answer_from_a_loopback_server_is_used(server: LlmStandIn) -> None:
    llm = await backend_for(server.base_url, environ={"OPENAI_API_KEY": "sk-test"})
    try:
        summary = await llm.summary(TITLE, BODY)
    finally:
        await llm.close()
    assert summary.kind == "llm"
    assert summary.sentences == (
        "Waiting list for council homes has doubled.",
        "Campaigners call a meeting.",
    )
    assert server.requests[0]["model"] == "tiny"
    assert "twelve thousand households" in str(server.requests[0]["messages"])
    assert server.authorizations == ["Bearer sk-test"]


@pytest.mark.parametrize("mode", ["error", "junk", "empty", "hang", "redirect"])
async def test_every_failure_falls_back_to_the_extractive_summary(
    server: LlmStandIn, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with LlmStandIn() as elsewhere:
        server.mode = mode
        server.redirect_to = f"{elsewhere.base_url}/chat/completions"
        llm = await backend_for(server.base_url, timeout=0.5)
        try:
            with caplog.at_level(logging.WARNING, logger=LOGGER):
                summary = await llm.summary(TITLE, BODY, style="key-points")
        finally:
            await llm.close()
        assert summary == summarize(TITLE, BODY, style="key-points")
        assert len(server.requests) == 1
        assert elsewhere.requests == [] and elsewhere.other_paths == []  # redirects not followed
        [warning] = [r for r in caplog.records if r.name == LOGGER]
        assert "using extractive summaries" in warning.getMessage()


async def test_a_refused_connection_falls_back(caplog: pytest.LogCaptureFixture) -> None:
    async with LlmStandIn() as gone:
        base_url = gone.base_url
    llm = await backend_for(base_url)  # nothing listens there any more
    try:
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            summary = await llm.summary(TITLE, BODY)
    finally:
        await llm.close()
    assert summary.kind == "extractive"
    [warning] = [r for r in caplog.records if r.name == LOGGER]
    assert "could not reach the server" in warning.getMessage()


async def test_a_failing_server_is_logged_once_per_spell(
    server: LlmStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    llm = await backend_for(server.base_url)

    def logged() -> list[tuple[int, str]]:
        return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == LOGGER]

    try:
        with caplog.at_level(logging.INFO, logger=LOGGER):
            server.mode = "error"
            for _ in range(5):
                assert (await llm.summary(TITLE, BODY)).kind == "extractive"
            assert [level for level, _ in logged()] == [logging.WARNING]
            assert "HTTP 503" in logged()[0][1]

            server.mode = "ok"
            for _ in range(3):
                assert (await llm.summary(TITLE, BODY)).kind == "llm"
            assert [level for level, _ in logged()] == [logging.WARNING, logging.INFO]

            server.mode = "junk"  # a new spell is told again
            for _ in range(3):
                assert (await llm.summary(TITLE, BODY)).kind == "extractive"
            assert [level for level, _ in logged()] == [
                logging.WARNING,
                logging.INFO,
                logging.WARNING,
            ]
    finally:
        await llm.close()
    assert len(server.requests) == 11


async def test_the_llm_session_reaches_only_the_configured_server(server: LlmStandIn) -> None:
    async with LlmStandIn() as other:
        session = make_llm_session(summaries(server.base_url), "Paperboy-test")
        async with session:
            for url in (
                f"{other.base_url}/chat/completions",  # same host, another port
                f"http://localhost:{server.port}/v1/chat/completions",  # another host name
                "http://169.254.169.254/latest/meta-data/",
            ):
                with pytest.raises(DestinationRefused):
                    await session.post(url, json={})
            async with session.get(f"{server.base_url}/models") as response:
                assert response.status == 200  # the configured server itself is reachable
        assert other.requests == [] and other.other_paths == []


async def test_extractive_backend_opens_no_session() -> None:
    assert LlmBackend.open(SummariesConfig(), "Paperboy-test") is None


async def test_members_links_never_go_through_the_llm_session(
    server: LlmStandIn, storage: Storage, tmp_path: Path
) -> None:
    """The reader with a guarded fetcher and the LLM on loopback: an archived article is
    summarised by the LLM (the guard does not stand in its way), while a member's link to the
    LLM server's own address is refused as private and never fetched."""
    config = make_config(
        tmp_path,
        fetch={"allow_private_addresses": False},
        summaries={"backend": "openai", "openai_base_url": server.base_url},
    )
    llm = LlmBackend.open(config.summaries, "Paperboy-test")
    assert llm is not None
    feed = await storage.add_feed("https://news.paper.example/feed/", now=NOW)
    async with storage.poll_transaction(feed.id, now=NOW) as tx:
        article = NewArticle(
            canonical_url="https://news.paper.example/waiting-list",
            url="https://news.paper.example/waiting-list",
            title=TITLE,
            text=BODY,
            published=NOW,
        )
        [article_id] = await tx.upsert_articles([article])
        await tx.insert_entries([NewEntry("waiting-list", article_id, NOW)])
        await tx.finish_success(etag=None, last_modified=None, next_check_at=NOW)
    async with make_session(GUARDED, "t") as session:
        reader = ReaderService(
            storage, Fetcher(session, GUARDED), FakeClock(NOW), config.summaries, llm
        )
        try:
            answer = await reader.summary(WHOLE_ARCHIVE, f"archive:{article_id}")
            assert answer.kind == "llm"
            requests_before = len(server.requests)
            for url in (f"{server.base_url}/chat/completions", f"http://127.0.0.1:{server.port}/"):
                with pytest.raises(FetchError) as caught:
                    await reader.summary(WHOLE_ARCHIVE, url)
                assert caught.value.kind == "private-address"
        finally:
            await llm.close()
    assert server.other_paths == []
    assert len(server.requests) == requests_before


async def _summarize_command(
    source: Path, config: Config, capsys: pytest.CaptureFixture[str]
) -> dict[str, Any]:
    """Run `paperboy summarize SOURCE --json`; its one JSON line."""
    args = build_parser().parse_args(["summarize", str(source), "--json"])
    ctx = CommandContext(config)
    try:
        assert await args.handler(args, ctx) == 0
    finally:
        await ctx.aclose()
    found: dict[str, Any] = json.loads(capsys.readouterr().out)
    return found


@pytest.mark.parametrize(("mode", "kind"), [("ok", "llm"), ("error", "extractive")])
async def test_the_summarize_command_uses_the_backend_with_fallback(
    server: LlmStandIn,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    mode: str,
    kind: str,
) -> None:
    server.mode = mode
    source = tmp_path / "article.txt"
    source.write_text(f"{TITLE}\n{BODY}", encoding="utf-8")
    config = make_config(
        tmp_path,
        fetch={"allow_private_addresses": False},  # the LLM's own session is not the fetcher
        summaries={"backend": "openai", "openai_base_url": server.base_url},
    )
    out = await _summarize_command(source, config, capsys)
    assert out["kind"] == kind
    assert len(server.requests) == 1


async def test_the_summarize_command_prefers_a_genuine_standfirst_to_the_llm(
    server: LlmStandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    standfirst = "Campaigners blame right-to-buy sales as the borough's housing crisis deepens."
    paragraphs = "".join(f"<p>{line}</p>" for line in BODY.splitlines())
    source = tmp_path / "article.html"
    source.write_text(
        f'<html><head><title>{TITLE}</title><meta name="description" content="{standfirst}">'
        f"</head><body><article><h1>{TITLE}</h1>{paragraphs}</article></body></html>",
        encoding="utf-8",
    )
    config = make_config(
        tmp_path, summaries={"backend": "openai", "openai_base_url": server.base_url}
    )
    out = await _summarize_command(source, config, capsys)
    # As /summary does (the reader service): the publisher's words, and no LLM request.
    assert (out["kind"], out["summary"]) == ("publisher", [standfirst])
    assert server.requests == []


async def test_the_app_opens_the_backend_with_its_own_session_and_closes_it(
    server: LlmStandIn, tmp_path: Path
) -> None:
    config = make_config(
        tmp_path, summaries={"backend": "openai", "openai_base_url": server.base_url}
    )
    app = await open_app(config, clock=FakeClock(NOW))
    llm = app.llm
    try:
        assert llm is not None and app.reader.llm is llm
        assert llm.session is not app.http  # never the members' fetcher
    finally:
        await app.close()
    assert llm.session.closed

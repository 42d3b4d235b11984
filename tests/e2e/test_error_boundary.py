"""The one error boundary: expected errors answer with their sentence, bugs with an error id."""

from __future__ import annotations

import logging
import re

import pytest

from tests.e2e.conftest import Bench, message_text


async def test_an_unexpected_failure_gets_an_apology_with_an_error_id_and_a_logged_traceback(
    bench: Bench, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug in the search service")

    monkeypatch.setattr(bench.app.reader, "search", broken)
    with caplog.at_level(logging.ERROR):
        handle = await bench.command("search", {"query": "rent"}, user=bench.seed.member_id)
        reply = await handle.reply(10)
    text = message_text(reply)
    match = re.search(r"error id `([0-9a-f]{8})`", text)
    assert match, text
    assert "a bug in the search service" not in text  # internals are never shown to users
    assert reply.get("flags", 0) & 64
    logged = [r for r in caplog.records if match.group(1) in r.getMessage()]
    assert logged and logged[0].exc_info is not None


async def test_an_expected_error_is_answered_privately_with_its_sentence(bench: Bench) -> None:
    handle = await bench.command(
        "summary", {"article": "ftp://example.org/x"}, user=bench.seed.member_id
    )
    reply = await handle.reply(10)
    text = message_text(reply)
    assert "error id" not in text
    assert text.endswith(".")
    assert reply.get("flags", 0) & 64

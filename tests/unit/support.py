"""Tools shared by unit tests: loopback fetching, the CLI runner, parsed-feed checks and
sample article text. Import from here, never from another test module."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from aiohttp.abc import AbstractResolver, ResolveResult

from bot.config import FetchConfig
from bot.feeds import ParsedFeed
from tests.hardening.support import strings_of

FETCH_NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
"""The fetch tests' clock."""
LOCAL = FetchConfig(
    allow_private_addresses=True, total_timeout_seconds=5.0, connect_timeout_seconds=2.0
)


class LoopbackResolver(AbstractResolver):
    """Resolves every name to 127.0.0.1."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(
                hostname=host, host="127.0.0.1", port=port, family=socket.AF_INET, proto=0, flags=0
            )
        ]

    async def close(self) -> None:
        return None


def paperboy(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -m bot ARGS` in `cwd` without the caller's token or config path."""
    base = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "PAPERBOY_CONFIG")}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


# Controls other than newline, and the bidi overrides/isolates clean_text removes.
FORBIDDEN = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
MULTI_LINE_FIELDS = {"summary", "summary_html", "content_html", "description"}


def check_output(feed: ParsedFeed) -> None:
    """Assert the parser's promises for any feed: clean one-line text, aware dates, web links."""
    for field, text in strings_of(feed):
        text.encode("utf-8")  # no lone surrogates
        assert not FORBIDDEN.search(text), (field, text)
        if field not in MULTI_LINE_FIELDS:
            assert "\n" not in text, (field, text)
    for item in feed.items:
        for moment in (item.published, item.updated):
            assert moment is None or moment.utcoffset() is not None
        for link in (item.url, item.image_url):
            assert link is None or link.startswith(("http://", "https://"))


TITLE = "Council housing waiting list doubles"
# Sample prose is kept one sentence per line.
BODY = """The number of families waiting for a council home in the borough has doubled in five years, figures released on Tuesday show.
More than twelve thousand households are now on the list, up from six thousand in 2019.
Housing campaigners blamed the sale of council homes and the failure to build replacements.
The council said it had started work on four hundred new homes but admitted the list would keep growing.
Rents in the private sector rose by a fifth over the same period, pushing more families to apply.
Tenants' groups have called a public meeting at the town hall next Thursday to demand action.
A spokesperson for the tenants' union said temporary accommodation was now costing the council millions a year.
Some families have spent more than three years in a single room in a hostel, the union said.
The council leader promised a review of the allocation rules, which campaigners say punish people in work.
Opposition councillors said the review was a delay tactic and called for an emergency building programme.
Local MPs have written to the housing minister asking for extra funding for the borough.
The minister's office said it would respond in due course.
Campaigners said they would keep up the pressure until every family had a secure home.
"""  # noqa: E501

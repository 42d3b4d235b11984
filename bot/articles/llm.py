"""Optional summaries from any OpenAI-compatible server; the extractive summary is the fallback.

POST {base_url}/chat/completions with a prompt grounded in the extracted text (truncated), with
a timeout. Any failure returns the extractive summary: the LLM is never required.

The backend has its own HTTP session, separate from the guarded fetcher that members' links go
through: the operator chose this server (often on loopback, which the fetcher refuses), so this
session may reach it and nothing else. Members' URLs never go through it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from collections.abc import Mapping
from typing import Any

import aiohttp
from aiohttp.connector import Connection
from aiohttp.tracing import Trace
from yarl import URL

from bot.articles.summarize import Style, Summary, summarize
from bot.config import SummariesConfig
from bot.textutil import clean_text

log = logging.getLogger(__name__)

MAX_PROMPT_CHARS = 12_000
MAX_RESPONSE_BYTES = 1024 * 1024
"""An answer is a few sentences; a bigger body is a misbehaving server, not a summary."""
MAX_ANSWER_SENTENCES = 6
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s*")

_INSTRUCTIONS = {
    "brief": "Summarise the article below in at most three sentences (75 words).",
    "key-points": "List the article's three to five key points, one per line, each a sentence.",
}


def build_messages(title: str, text: str, style: Style) -> list[dict[str, str]]:
    """The chat messages: instructions that keep the model to the article, then the article."""
    system = (
        "You summarise news articles for a community chat. Use only facts stated in the "
        "article text you are given; do not add opinions, context or anything not in it. "
        "Write plain sentences without markdown. " + _INSTRUCTIONS[style]
    )
    article = f"Title: {title}\n\n{text[:MAX_PROMPT_CHARS]}"
    return [{"role": "system", "content": system}, {"role": "user", "content": article}]


def parse_answer(content: str) -> tuple[str, ...]:
    """Sentences or bullets from the model's answer, cleaned; empty if there is nothing usable."""
    lines = [_BULLET.sub("", line) for line in clean_text(content).split("\n")]
    lines = [clean_text(line, single_line=True) for line in lines]
    return tuple(line for line in lines if line)[:MAX_ANSWER_SENTENCES]


class DestinationRefused(aiohttp.ClientConnectionError):
    """The LLM session was asked to connect somewhere other than the configured server."""


class OriginOnlyConnector(aiohttp.TCPConnector):
    """A connector that dials only one origin (scheme, host, port): the configured LLM server.

    Loopback and private addresses are fine here, because the operator configured this one
    address; anything else (a redirect elsewhere, a bug passing a member's URL) is refused."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.origin = _origin(URL(base_url))

    async def connect(
        self,
        req: aiohttp.ClientRequest,
        traces: list[Trace],
        timeout: aiohttp.ClientTimeout,  # noqa: ASYNC109 (aiohttp's own signature)
    ) -> Connection:
        """Refuse every destination but the configured server, then connect as usual."""
        if _origin(req.url) != self.origin:
            raise DestinationRefused(f"the LLM session only reaches {self.origin[1]}")
        return await super().connect(req, traces, timeout)


def _origin(url: URL) -> tuple[str, str, int | None]:
    return (url.scheme.lower(), (url.host or "").lower(), url.port)


def make_llm_session(config: SummariesConfig, user_agent: str) -> aiohttp.ClientSession:
    """The LLM backend's own session, allowed to reach only `openai_base_url`; caller closes."""
    return aiohttp.ClientSession(
        connector=OriginOnlyConnector(config.openai_base_url, limit=4),
        timeout=aiohttp.ClientTimeout(total=config.timeout_seconds),
        headers={"User-Agent": user_agent},
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,  # a proxy from the environment would be another destination
    )


class LlmUnusable(Exception):
    """One failed LLM request; the message says why, for the log."""


class LlmBackend:
    """Summaries from the configured OpenAI-compatible server, falling back to the extractive
    summary on any failure. A failing server is logged once per spell of failures (when it
    starts failing, and when it answers again), not once per request."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        config: SummariesConfig,
        *,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self.session = session
        self.config = config
        self.environ = environ
        self.failing = False
        """True from a failure until the next good answer (so the spell is logged once)."""

    @classmethod
    def open(cls, config: SummariesConfig, user_agent: str) -> LlmBackend | None:
        """The backend with its own session when `backend = "openai"`, else None."""
        if config.backend != "openai":
            return None
        return cls(make_llm_session(config, user_agent), config)

    async def close(self) -> None:
        """Close the backend's session."""
        await self.session.close()

    async def summary(
        self, title: str, text: str, *, style: Style = "brief", standfirst: str = ""
    ) -> Summary:
        """A summary from the configured server, or the extractive one if anything goes wrong."""
        fallback = summarize(title, text, standfirst=standfirst, style=style)
        try:
            sentences = await self._ask(title, text, style)
        except LlmUnusable as error:
            if not self.failing:
                log.warning(
                    "LLM summaries fail (%s); using extractive summaries until it answers again",
                    error,
                )
            else:
                log.debug("LLM summary failed again (%s)", error)
            self.failing = True
            return fallback
        if self.failing:
            log.info("The LLM server answers again")
            self.failing = False
        return Summary(sentences, "llm", fallback.reading_minutes)

    async def _ask(self, title: str, text: str, style: Style) -> tuple[str, ...]:
        config = self.config
        url = config.openai_base_url.rstrip("/") + "/chat/completions"
        headers = {"Content-Type": "application/json"}
        api_key = self.environ.get(config.openai_api_key_env, "")
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        payload = {
            "model": config.openai_model,
            "messages": build_messages(title, text, style),
            "temperature": 0.2,
        }
        try:
            async with asyncio.timeout(config.timeout_seconds):
                async with self.session.post(
                    url, json=payload, headers=headers, allow_redirects=False
                ) as response:
                    if response.status != 200:
                        raise LlmUnusable(f"the server answered HTTP {response.status}")
                    body = await _read_capped(response)
            content = json.loads(body)["choices"][0]["message"]["content"]
            if not isinstance(content, str):
                raise TypeError("content is not text")
        except TimeoutError:
            raise LlmUnusable(f"no answer within {config.timeout_seconds:g}s") from None
        except (aiohttp.ClientError, OSError) as error:
            raise LlmUnusable(f"could not reach the server: {error}") from None
        except (ValueError, KeyError, IndexError, TypeError) as error:
            raise LlmUnusable(f"the answer is not a chat completion ({error!r})") from None
        sentences = parse_answer(content)
        if not sentences:
            raise LlmUnusable("the answer has no text")
        return sentences


async def _read_capped(response: aiohttp.ClientResponse) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise LlmUnusable(f"the answer is larger than {MAX_RESPONSE_BYTES:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)

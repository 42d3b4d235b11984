"""Optional summaries from any OpenAI-compatible server; the extractive summary is the fallback.

POST {base_url}/chat/completions with a prompt grounded in the extracted text (truncated), via
the injected aiohttp session and with a timeout. Any failure returns the extractive summary:
the LLM is never required.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Mapping

import aiohttp

from bot.articles.summarize import Style, Summary, summarize
from bot.config import SummariesConfig
from bot.textutil import clean_text

log = logging.getLogger(__name__)

MAX_PROMPT_CHARS = 12_000
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


async def llm_summary(
    session: aiohttp.ClientSession,
    config: SummariesConfig,
    title: str,
    text: str,
    *,
    style: Style = "brief",
    standfirst: str = "",
    environ: Mapping[str, str] = os.environ,
) -> Summary:
    """A summary from the configured server, or the extractive one if anything goes wrong."""
    fallback = summarize(title, text, standfirst=standfirst, style=style)
    if config.backend != "openai":
        return fallback
    url = config.openai_base_url.rstrip("/") + "/chat/completions"
    headers = {"Content-Type": "application/json"}
    api_key = environ.get(config.openai_api_key_env, "")
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    payload = {
        "model": config.openai_model,
        "messages": build_messages(title, text, style),
        "temperature": 0.2,
    }
    try:
        async with asyncio.timeout(config.timeout_seconds):
            async with session.post(url, json=payload, headers=headers) as response:
                if response.status != 200:
                    log.warning(
                        "LLM server answered HTTP %s; using the extractive summary", response.status
                    )
                    return fallback
                data = await response.json(content_type=None)
        content = data["choices"][0]["message"]["content"]
        if not isinstance(content, str):
            raise TypeError("content is not text")
    except TimeoutError:
        log.warning(
            "LLM server took longer than %ss; using the extractive summary", config.timeout_seconds
        )
        return fallback
    except (aiohttp.ClientError, ValueError, KeyError, IndexError, TypeError) as error:
        log.warning("LLM summary failed (%s); using the extractive summary", error)
        return fallback
    sentences = parse_answer(content)
    if not sentences:
        return fallback
    return Summary(sentences, "llm", fallback.reading_minutes)

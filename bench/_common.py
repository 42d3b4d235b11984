"""Shared helpers for the article benchmarks: the BBC corpus loader and a plain article insert."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.clock import to_iso
from bot.storage import Storage

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT / ".." / "shared"
BBC_DIR = SHARED / "corpus" / "bbc"


@dataclass(frozen=True)
class CorpusArticle:
    """One article of the BBC corpus, read in place (never copied into the project)."""

    category: str
    name: str
    title: str
    standfirst: str
    body: str


def bbc_available() -> bool:
    """True when the shared BBC corpus is present beside the repository."""
    return BBC_DIR.is_dir() and any(BBC_DIR.iterdir())


def load_bbc(limit_per_category: int | None = None) -> list[CorpusArticle]:
    """The BBC articles: line 1 title, blank line, standfirst paragraph, then the body."""
    articles = []
    for folder in sorted(p for p in BBC_DIR.iterdir() if p.is_dir()):
        files = sorted(folder.glob("*.txt"))
        if limit_per_category is not None:
            files = files[:limit_per_category]
        for path in files:
            raw = path.read_bytes().decode("utf-8", "replace")
            paragraphs = [p.strip() for p in re.split(r"\n\s*\n", raw.strip()) if p.strip()]
            if len(paragraphs) < 3:
                continue
            articles.append(
                CorpusArticle(
                    folder.name,
                    path.name,
                    paragraphs[0].strip(),
                    paragraphs[1],
                    "\n".join(paragraphs[2:]),
                )
            )
    return articles


async def insert_article(
    storage: Storage,
    url: str,
    title: str,
    text: str,
    *,
    published_iso: str | None = None,
    description: str = "",
) -> int:
    """Archive a plain article the way the pipeline would (a stand-in until its verb exists)."""
    from datetime import UTC, datetime

    async with storage.transaction() as conn:
        cursor = await conn.execute(
            "INSERT INTO articles (canonical_url, url, title, text, description, published_at, "
            "text_status, first_seen_at) VALUES (?, ?, ?, ?, ?, ?, 'done', ?) RETURNING id",
            (url, url, title, text, description, published_iso, to_iso(datetime.now(UTC))),
        )
        row = await cursor.fetchone()
        assert row is not None
        return int(row[0])


def chunked(items: list[str], size: int) -> Iterator[list[str]]:
    """Consecutive slices of `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def insert_articles_bulk(
    storage: Storage, rows: list[tuple[str, str, str]], *, published_iso: str | None = None
) -> list[int]:
    """Archive many (url, title, text) articles in one transaction; returns their ids in order."""
    from datetime import UTC, datetime

    ids = []
    stamp = to_iso(datetime.now(UTC))
    async with storage.transaction() as conn:
        for url, title, text in rows:
            cursor = await conn.execute(
                "INSERT INTO articles (canonical_url, url, title, text, published_at, "
                "text_status, first_seen_at) VALUES (?, ?, ?, ?, ?, 'done', ?) RETURNING id",
                (url, url, title, text, published_iso, stamp),
            )
            row = await cursor.fetchone()
            assert row is not None
            ids.append(int(row[0]))
    return ids


def print_report(rows: Iterable[Sequence[str]], result: Any, json_path: Path | None) -> None:
    """What every benchmark prints: its table rows, then every number as JSON (also to a file)."""
    for row in rows:
        print(" | ".join(row))
    text = json.dumps(result, indent=2)
    print(text)
    if json_path:
        json_path.write_text(text + "\n", encoding="utf-8")


def progress(total: int, desc: str, unit: str = "article") -> Any:
    """A progress bar on stderr for a long bench phase; silent when stderr is not a terminal
    (the test suite, CI, redirected runs), so reports stay clean."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=not sys.stderr.isatty())

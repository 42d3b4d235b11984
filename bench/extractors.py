"""Does readability-lxml earn its place beside trafilatura (and trafilatura's own fallbacks)?

    .venv/bin/pip install readability-lxml         # benchmark-only since it was measured out
    .venv/bin/python -m bench.extractors           # full: the news site + every BBC article
    .venv/bin/python -m bench.extractors --smoke   # seconds: 20 BBC articles per layout

Pages: the stand-in news site's 30 article pages (tests/bench/news_site_render.article_page,
with its menus, sidebar, cookie banner and inline newsletter box), the two golden article
pages, and every BBC article (read in place from ../shared/corpus/bbc, never copied) rendered
two ways: in the same news-site theme (`<p>` paragraphs) and as a bare page whose body is one
`<div>` of `<br>`-separated lines (no `<p>` at all, where extractors have least to go on).

For each page: does `bot.articles.extract`'s trafilatura step find text? If not, does the
readability fallback the bot used to have (kept below, as it was) find some (a rescue), and how
much of the true body does each one's text cover (recall of body words)? Plus the median time
of each.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lxml.html

from bench._common import BBC_DIR, bbc_available, load_bbc
from bot.articles.extract import _trafilatura_text
from tests.bench.news_site_articles import load_articles
from tests.bench.news_site_render import SiteInfo, SiteItem, article_page

GOLDEN = Path(__file__).resolve().parent.parent / "tests" / "unit" / "golden" / "articles"
SITE = SiteInfo(base_url="https://weekly.example.org")
WHEN = datetime(2026, 3, 4, 9, 30, tzinfo=UTC)
_WORD = re.compile(r"\w+")


def _readability_text(html: str) -> tuple[str, str]:
    """The bot's former fallback: readability-lxml's main block, as paragraphs."""
    from readability import Document

    try:
        document = Document(html)
        summary_html = document.summary(html_partial=True)
        title = document.short_title() or ""
    except Exception:  # readability raises bare Exceptions on hopeless pages
        return "", ""
    fragment = lxml.html.fromstring(summary_html)
    blocks = fragment.xpath("//p|//h2|//h3|//li|//blockquote")
    parts = [" ".join(block.text_content().split()) for block in blocks]
    if not parts:
        parts = [" ".join(fragment.text_content().split())]
    return "\n".join(part for part in parts if part), title


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def _recall(found: str, truth: str) -> float:
    wanted = _words(truth)
    return len(wanted & _words(found)) / len(wanted) if wanted else 1.0


def _item(
    post_id: int, title: str, standfirst: str | None, paragraphs: tuple[str, ...]
) -> SiteItem:
    return SiteItem(
        post_id=post_id, guid=f"{SITE.base_url}/?p={post_id}", title=title,
        slug=f"post-{post_id}", author="Staff", published=WHEN, modified=WHEN, topic="News",
        categories=("News",), standfirst=standfirst, image=None, paragraphs=paragraphs,
        captions=(),
    )  # fmt: skip


def _bare_page(title: str, paragraphs: tuple[str, ...]) -> str:
    lines = "<br><br>\n".join(html.escape(p) for p in paragraphs)
    return f"<html><head><title>{html.escape(title)}</title></head><body><div>{lines}</div></body></html>"  # noqa: E501


def pages(smoke: bool) -> Iterator[tuple[str, str, str]]:
    """(set name, page HTML, the body text it should yield)."""
    for number, article in enumerate(load_articles(), start=1):
        item = _item(number, article.title, article.standfirst, article.paragraphs)
        yield "news-site", article_page(SITE, item, []), article.text
    for path in sorted(GOLDEN.glob("*.html")):
        # The golden pages' bodies are checked by the unit tests; here only whether text is found.
        yield "golden", path.read_text(encoding="utf-8"), ""
    if not bbc_available():
        return
    for number, bbc in enumerate(load_bbc(20 // 5 if smoke else None), start=1000):
        paragraphs = tuple(p for p in bbc.body.split("\n") if p.strip())
        item = _item(number, bbc.title, bbc.standfirst, paragraphs)
        yield "bbc-theme", article_page(SITE, item, []), bbc.body
        yield "bbc-bare", _bare_page(bbc.title, paragraphs), bbc.body


def run(smoke: bool) -> dict[str, Any]:
    """Count pages, trafilatura misses, readability rescues, and body recall per set."""
    results: dict[str, dict[str, Any]] = {}
    for name, page, truth in pages(smoke):
        row = results.setdefault(
            name,
            {"pages": 0, "trafilatura_empty": 0, "readability_rescues": 0, "readability_empty": 0,
             "_t_recall": [], "_r_recall": [], "_t_ms": [], "_r_ms": []},
        )  # fmt: skip
        row["pages"] += 1
        started = time.perf_counter()
        text, _ = _trafilatura_text(page, f"{SITE.base_url}/x")
        row["_t_ms"].append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        fallback, _ = _readability_text(page)
        row["_r_ms"].append((time.perf_counter() - started) * 1000)
        if not fallback.strip():
            row["readability_empty"] += 1
        if not text.strip():
            row["trafilatura_empty"] += 1
            if fallback.strip():
                row["readability_rescues"] += 1
        if truth:
            row["_t_recall"].append(_recall(text, truth))
            row["_r_recall"].append(_recall(fallback, truth))
    for row in results.values():
        for key, label in (("_t_recall", "trafilatura"), ("_r_recall", "readability")):
            samples = row.pop(key)
            row[f"{label}_median_recall"] = (
                round(statistics.median(samples), 3) if samples else None
            )
            row[f"{label}_min_recall"] = round(min(samples), 3) if samples else None
        for key, label in (("_t_ms", "trafilatura"), ("_r_ms", "readability")):
            row[f"{label}_median_ms"] = round(statistics.median(row.pop(key)), 1)
    return {"bbc_dir": str(BBC_DIR), "smoke": smoke, "sets": results}


def main() -> None:
    """Run and print one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="20 BBC articles only")
    args = parser.parse_args()
    print(json.dumps(run(args.smoke), indent=2))


if __name__ == "__main__":
    main()

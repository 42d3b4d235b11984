"""Archive and commands: /summary, /related and /search latency and serving memory by archive size.

    .venv/bin/python -m bench.archive                 # 10,000 and 100,000 archived articles
    .venv/bin/python -m bench.archive --smoke         # 1,000 articles, a few queries

The archive is built with `bench.quality`'s synthetic generator (Zipf vocabulary, 300 topics,
about 230 words an article) through the real storage and term index. Queries then run in a
fresh process, so its peak RSS is what a bot serving that archive holds: a summary is the
command's cache-miss path (read the article, summarise it), related is `related_to_article`,
search is `Storage.search_articles` (FTS5) with two title words. Every read is made as a member
would make it, in one server's scope (`GuildScope`): the server follows a feed that showed every
article, so each match pays the scope test and passes it (`--whole-archive` skips the scope, to
compare).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._common import print_report
from bench.polling import peak_rss_mb

REPO_ROOT = Path(__file__).resolve().parents[1]


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000, 2),
    }


BENCH_GUILD = 1


async def follow_everything(db_path: Path) -> None:
    """A server subscribed to one feed that showed every archived article (members' scope)."""
    from datetime import UTC, datetime

    from bot.clock import to_iso
    from bot.models import NewSubscription
    from bot.storage import Storage

    storage = await Storage.open(db_path)
    try:
        now = datetime.now(UTC)
        feed = await storage.add_feed("https://synthetic.example/feed", now=now)
        await storage.add_subscription(NewSubscription(BENCH_GUILD, 10, feed.id, "embed"), now=now)
        async with storage.transaction() as conn:
            await conn.execute(
                "INSERT INTO feed_entries (feed_id, entry_key, article_id, first_seen_at) "
                "SELECT ?, 'e' || id, id, ? FROM articles",
                (feed.id, to_iso(now)),
            )
    finally:
        await storage.close()


async def serve(db_path: Path, queries: int, *, whole_archive: bool = False) -> dict[str, Any]:
    """Time the three commands' core on an existing archive; run in a fresh process."""
    from bench.quality import synthetic_articles
    from bot.articles.related import related_to_article
    from bot.articles.summarize import summarize
    from bot.models import WHOLE_ARCHIVE, ArchiveScope, GuildScope
    from bot.storage import Storage

    scope: ArchiveScope = WHOLE_ARCHIVE if whole_archive else GuildScope(BENCH_GUILD)
    storage = await Storage.open(db_path)
    rng = random.Random(5)
    try:
        total = int(await storage.scalar("SELECT max(id) FROM articles"))
        ids = [rng.randint(1, total) for _ in range(queries)]
        summary, related, search = [], [], []
        for article_id in ids:
            started = time.perf_counter()
            article = await storage.article_text(scope, article_id)
            assert article is not None
            summarize(article.title, article.text or "")
            summary.append(time.perf_counter() - started)
            started = time.perf_counter()
            await related_to_article(storage, scope, article_id, limit=5)
            related.append(time.perf_counter() - started)
        for title, _, _ in synthetic_articles(queries, seed=99):
            started = time.perf_counter()
            await storage.search_articles(scope, " ".join(title.split()[:2]), limit=10)
            search.append(time.perf_counter() - started)
        return {
            "articles": total,
            "queries": queries,
            "summary": _percentiles(summary),
            "related": _percentiles(related),
            "search": _percentiles(search),
            "serving_peak_rss_mb": peak_rss_mb(),
        }
    finally:
        await storage.close()


def _serve_in_process(db_path: Path, queries: int, whole_archive: bool) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.archive", "--serve", str(db_path)]
    command += ["--queries", str(queries)] + (["--whole-archive"] if whole_archive else [])
    done = subprocess.run(
        command,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.archive --serve failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


async def run(
    sizes: list[int], queries: int, repeats: int, *, whole_archive: bool = False
) -> list[dict[str, Any]]:
    """Build each archive once, then serve it `repeats` times; medians of the percentiles."""
    from bench.quality import build_synthetic

    results = []
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="paperboy-archive-") as folder:
            db_path = Path(folder) / "archive.db"
            built = await build_synthetic(db_path, size)
            await follow_everything(db_path)
            runs = [
                await asyncio.to_thread(_serve_in_process, db_path, queries, whole_archive)
                for _ in range(repeats)
            ]
        merged: dict[str, Any] = {"articles": size, "build_s": built["build_seconds"]}
        for command in ("summary", "related", "search"):
            merged[command] = {
                key: round(statistics.median(r[command][key] for r in runs), 2)
                for key in ("p50_ms", "p95_ms")
            }
        merged["serving_peak_rss_mb"] = max(r["serving_peak_rss_mb"] for r in runs)
        merged["repeats"] = repeats
        merged["scope"] = "whole archive" if whole_archive else "one server"
        results.append(merged)
    return results


def summary_rows(results: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    """(benchmark, metric, value, target) rows for the combined table."""
    rows = []
    for result in results:
        name = f"archive {result['articles']:,} articles"
        for command in ("summary", "related", "search"):
            values = result[command]
            rows.append(
                (
                    name,
                    f"{command} p50 / p95",
                    f"{values['p50_ms']} / {values['p95_ms']} ms",
                    "p95 <= 50 ms",
                )
            )
        rows.append((name, "serving peak RSS", f"{result['serving_peak_rss_mb']} MB", "<= 150 MB"))
    return rows


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="1,000 articles, few queries")
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--whole-archive", action="store_true", help="read unscoped (the operator's view)"
    )
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    args = parser.parse_args()
    if args.serve:
        found = serve(args.serve, args.queries, whole_archive=args.whole_archive)
        print(json.dumps(asyncio.run(found)))
        return
    sizes, queries, repeats = args.sizes, args.queries, args.repeats
    if args.smoke:
        sizes, queries, repeats = [1000], 20, 1
    results = asyncio.run(run(sizes, queries, repeats, whole_archive=args.whole_archive))
    print_report(summary_rows(results), results, args.json)


if __name__ == "__main__":
    main()

"""Quality and speed of summaries, related articles and search (run by hand).

    .venv/bin/python -m bench.quality            # full run: all BBC articles, 100,000 synthetic
    .venv/bin/python -m bench.quality --smoke    # seconds: 100 BBC articles, 1,000 synthetic

Reads the BBC corpus in place from the `shared` folder beside the repository (never copied).
Writes bench/results/quality.json and prints a table.

ROUGE here is our own small implementation (Lin 2004): lowercase word tokens (\\w+), no
stemming and no stopword removal; ROUGE-N F1 from clipped n-gram overlap, ROUGE-L F1 from the
longest common subsequence. Absolute values differ slightly from the Perl script's, but
comparisons between methods on the same corpus hold.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench._common import (
    BBC_DIR,
    REPO_ROOT,
    bbc_available,
    insert_articles_bulk,
    load_bbc,
    progress,
)
from bot.articles.related import related_to_article, related_to_text, terms_of
from bot.articles.sentences import split_sentences
from bot.articles.summarize import clean_body, summarize
from bot.models import WHOLE_ARCHIVE
from bot.storage import Storage

RESULTS = REPO_ROOT / "bench" / "results" / "quality.json"
_TOKEN = re.compile(r"\w+")


# ---------------------------------------------------------------- ROUGE
def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _f1(overlap: float, candidate: int, reference: int) -> float:
    if not overlap or not candidate or not reference:
        return 0.0
    precision, recall = overlap / candidate, overlap / reference
    return 2 * precision * recall / (precision + recall)


def rouge_n(candidate: str, reference: str, n: int) -> float:
    """ROUGE-N F1: clipped n-gram overlap."""

    def grams(words: list[str]) -> Counter[tuple[str, ...]]:
        return Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))

    c, r = grams(_tokens(candidate)), grams(_tokens(reference))
    return _f1(sum((c & r).values()), sum(c.values()), sum(r.values()))


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1: longest common subsequence of the token sequences."""
    a, b = _tokens(candidate), _tokens(reference)
    if not a or not b:
        return 0.0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return _f1(previous[-1], len(a), len(b))


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


# ---------------------------------------------------------------- summaries
def bench_summaries(articles: list[Any]) -> dict[str, Any]:
    """ROUGE of lead-1, brief and key-points (standfirst removed) against the standfirst."""
    scores: dict[str, list[tuple[float, float, float]]] = {
        "lead-1": [],
        "brief": [],
        "key-points": [],
    }
    for article in articles:
        reference = article.standfirst
        sentences = split_sentences(clean_body(article.body))
        if not sentences:
            continue
        candidates = {
            "lead-1": sentences[0],
            "brief": " ".join(summarize(article.title, article.body).sentences),
            "key-points": " ".join(
                summarize(article.title, article.body, style="key-points").sentences
            ),
        }
        for name, text in candidates.items():
            scores[name].append(
                (rouge_n(text, reference, 1), rouge_n(text, reference, 2), rouge_l(text, reference))
            )
    table: dict[str, Any] = {}
    for name, rows in scores.items():
        table[name] = {
            metric: round(100 * statistics.fmean(row[i] for row in rows), 1)
            for i, metric in enumerate(("rouge1", "rouge2", "rougeL"))
        }
    longest = max(len(s) for a in articles for s in split_sentences(clean_body(a.body)))
    table["longest_sentence_chars"] = longest
    return table


def bench_summary_speed(articles: list[Any], runs: int) -> dict[str, Any]:
    """p95 time to summarise a ~1,200-word article (BBC bodies joined to that length)."""
    rng = random.Random(7)
    texts = []
    for _ in range(runs):
        words: list[str] = []
        paragraphs = []
        while len(words) < 1200:
            body = rng.choice(articles).body
            paragraphs.append(body)
            words.extend(body.split())
        texts.append("\n".join(paragraphs))
    result = {}
    for style in ("brief", "key-points"):
        timings = []
        for text in texts:
            started = time.perf_counter()
            summarize("A title", text, style=style)
            timings.append(time.perf_counter() - started)
        result[f"{style}_p95_ms"] = _ms(_p95(timings))
    result["words"] = round(statistics.fmean(len(t.split()) for t in texts))
    return result


# ---------------------------------------------------------------- related on BBC
async def bench_related_bbc(articles: list[Any], db_path: Path) -> dict[str, Any]:
    """p@5 same-category over every article, through the real storage and engine."""
    storage = await Storage.open(db_path)
    try:
        started = time.perf_counter()
        rows = [
            (f"https://bbc.example/{a.category}/{a.name}", a.title, a.standfirst + "\n" + a.body)
            for a in articles
        ]
        ids = await insert_articles_bulk(storage, rows)
        batch = [
            (i, [(t.term, t.display, t.count) for t in terms_of(a.title, text)])
            for i, a, (_, _, text) in zip(ids, articles, rows, strict=True)
        ]
        await storage.save_terms_batch(batch)
        index_seconds = time.perf_counter() - started
        category = dict(zip(ids, (a.category for a in articles), strict=True))
        precisions, timings = [], []
        for article_id in ids:
            started = time.perf_counter()
            items = await related_to_article(storage, WHOLE_ARCHIVE, article_id, limit=5)
            timings.append(time.perf_counter() - started)
            precisions.append(sum(category[item.id] == category[article_id] for item in items) / 5)
        search_timings = []
        for article in articles[:200]:
            query = " ".join(article.title.split()[:3])
            started = time.perf_counter()
            await storage.search_articles(WHOLE_ARCHIVE, query, limit=10)
            search_timings.append(time.perf_counter() - started)
        return {
            "articles": len(ids),
            "p_at_5": round(statistics.fmean(precisions), 4),
            "related_p95_ms": _ms(_p95(timings)),
            "search_p95_ms": _ms(_p95(search_timings)),
            "index_seconds": round(index_seconds, 1),
        }
    finally:
        await storage.close()


# ---------------------------------------------------------------- synthetic archive
def _pseudo_words(rng: random.Random, count: int) -> list[str]:
    syllables = [
        "ka",
        "lo",
        "mi",
        "ren",
        "tu",
        "sa",
        "vor",
        "el",
        "dan",
        "pi",
        "qua",
        "zen",
        "bro",
        "fi",
        "gal",
        "hu",
        "jo",
        "ner",
        "ost",
        "ul",
        "wy",
        "xe",
        "cor",
        "tam",
    ]
    found: set[str] = set()
    while len(found) < count:
        found.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return sorted(found)


def synthetic_articles(count: int, seed: int = 11) -> list[tuple[str, str, int]]:
    """(title, text, topic) of `count` articles from a Zipf vocabulary with 300 topics."""
    rng = random.Random(seed)
    vocabulary = _pseudo_words(rng, 30_000)
    general, topical = vocabulary[:20_000], vocabulary[20_000:]
    topics = [rng.sample(topical, 60) for _ in range(300)]
    weights = [1 / (rank + 1) for rank in range(len(general))]
    cumulative = []
    total = 0.0
    for weight in weights:
        total += weight
        cumulative.append(total)
    out = []
    for _ in range(count):
        topic = rng.randrange(len(topics))
        words = rng.choices(general, cum_weights=cumulative, k=170)
        words += rng.choices(topics[topic], k=60)
        rng.shuffle(words)
        title = " ".join(rng.choices(topics[topic], k=4) + rng.choices(general[:500], k=3))
        sentences = [" ".join(words[i : i + 15]).capitalize() + "." for i in range(0, 230, 15)]
        out.append((title, " ".join(sentences), topic))
    return out


async def build_synthetic(db_path: Path, count: int) -> dict[str, Any]:
    """Archive and index `count` synthetic articles; returns timings."""
    storage = await Storage.open(db_path)
    started = time.perf_counter()
    try:
        articles = synthetic_articles(count)
        bar = progress(count, f"building a {count:,}-article archive")
        for start in range(0, count, 2000):
            chunk = articles[start : start + 2000]
            rows = [
                (f"https://synthetic.example/{start + i}", title, text)
                for i, (title, text, _) in enumerate(chunk)
            ]
            ids = await insert_articles_bulk(storage, rows)
            await storage.save_terms_batch(
                [
                    (i, [(t.term, t.display, t.count) for t in terms_of(title, text)])
                    for i, (title, text, _) in zip(ids, chunk, strict=True)
                ]
            )
            bar.update(len(chunk))
        bar.close()
        return {"articles": count, "build_seconds": round(time.perf_counter() - started, 1)}
    finally:
        await storage.close()


async def serve_queries(db_path: Path, queries: int) -> dict[str, Any]:
    """Related and search latency on an existing archive; run in a fresh process for RSS.

    Besides wall-clock time it reports the process CPU time of each related query (this
    thread plus aiosqlite's), which stays honest when other work shares the machine's cores.
    """
    storage = await Storage.open(db_path)
    rng = random.Random(3)
    try:
        total = int(await storage.scalar("SELECT max(id) FROM articles"))
        ids = [rng.randint(1, total) for _ in range(queries)]
        related, free_text, search = _Timings(), _Timings(), _Timings()
        for article_id in ids:
            with related.measure():
                await related_to_article(storage, WHOLE_ARCHIVE, article_id, limit=5)
        texts = synthetic_articles(queries, seed=99)
        for title, text, _ in texts:
            with free_text.measure():
                await related_to_text(storage, WHOLE_ARCHIVE, title, text, limit=5)
            with search.measure():
                await storage.search_articles(WHOLE_ARCHIVE, " ".join(title.split()[:2]), limit=10)
        return {
            "related_p95_ms": _ms(_p95(related.wall)),
            "related_cpu_p95_ms": _ms(_p95(related.cpu)),
            "related_free_text_p95_ms": _ms(_p95(free_text.wall)),
            "related_free_text_cpu_p95_ms": _ms(_p95(free_text.cpu)),
            "search_p95_ms": _ms(_p95(search.wall)),
            "serving_max_rss_mb": peak_rss_mb(),
        }
    finally:
        await storage.close()


def peak_rss_mb() -> float:
    """This process's own peak resident memory in MB.

    Linux's VmHWM belongs to the process image, so it starts afresh at exec. `ru_maxrss` does
    not: a child keeps its parent's high-water mark across fork and exec, which is how an
    earlier version of this benchmark reported the 330 MB of its parent (100,000 synthetic
    texts in memory) as the serving process's memory. ru_maxrss stays as the fallback elsewhere.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class _Timings:
    """Wall-clock and process-CPU seconds of repeated operations."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    @contextmanager
    def measure(self) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        yield
        self.wall.append(time.perf_counter() - wall)
        self.cpu.append(time.process_time() - cpu)


def _print_table(results: dict[str, Any]) -> None:
    print(f"{'section':<22} {'metric':<28} value")
    for section, values in results.items():
        if isinstance(values, dict):
            for key, value in values.items():
                if isinstance(value, dict):
                    value = ", ".join(f"{k} {v}" for k, v in value.items())
                print(f"{section:<22} {key:<28} {value}")
        else:
            print(f"{section:<22} {'':<28} {values}")


async def run(smoke: bool) -> dict[str, Any]:
    """Every benchmark; returns the results dictionary."""
    if not bbc_available():
        raise SystemExit(f"The BBC corpus is not at {BBC_DIR}; nothing to measure.")
    articles = load_bbc(limit_per_category=20 if smoke else None)
    synthetic_count = 1_000 if smoke else 100_000
    results: dict[str, Any] = {"mode": "smoke" if smoke else "full"}
    results["summary_rouge"] = bench_summaries(articles)
    results["summary_speed"] = bench_summary_speed(articles, 50 if smoke else 300)
    with tempfile.TemporaryDirectory() as folder:
        results["related_bbc"] = await bench_related_bbc(articles, Path(folder) / "bbc.db")
        synthetic_db = Path(folder) / "synthetic.db"
        results["synthetic_build"] = await build_synthetic(synthetic_db, synthetic_count)
        # A fresh process, so its RSS is what a bot serving this archive would hold.
        served = subprocess.run(  # noqa: ASYNC221  (nothing else runs meanwhile)
            [
                sys.executable,
                "-m",
                "bench.quality",
                "--serve",
                str(synthetic_db),
                "--queries",
                str(50 if smoke else 300),
            ],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=1800,
        )
        results["related_synthetic"] = json.loads(served.stdout)
    return results


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny, fast version")
    parser.add_argument("--serve", metavar="DB", help=argparse.SUPPRESS)
    parser.add_argument("--queries", type=int, default=300, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.serve:
        print(json.dumps(asyncio.run(serve_queries(Path(args.serve), args.queries))))
        return
    results = asyncio.run(run(args.smoke))
    _print_table(results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()

"""Parse cost: Paperboy's parser against an alternative, and whether the alternative survives.

    .venv/bin/python -m bench.parse_cost           # full
    .venv/bin/python -m bench.parse_cost --smoke   # seconds

Speed: per-feed time of `bot.feeds.parse_feed` (feedparser plus our normalisation), of bare
`feedparser.parse`, and of bare `fastfeedparser.parse` (if installed: it is a benchmark-only
package, `pip install fastfeedparser`), on the 40 KB farm feed and on the well-formed RSS/Atom
documents of feedparser's test corpus. Medians of repeated runs.

Fast path: per-feed CPU (process time, median of repeats) of `parse_feed` against
`bot.feeds.fast.parse_feed_fast_or_full` (the gated lxml path, feedparser behind it) on the farm
feed, and how many corpus documents the gate admits (each admitted one gives `parse_feed`'s
result exactly: tests/unit/test_feeds_fastpath.py).

Survival: every document of the corpus's `illformed/`, `encoding/` and `entities/` folders goes
through both parsers; a document counts against the alternative when feedparser finds entries
and the alternative raises, finds fewer, or gives a different first title (whitespace aside).
It is also judged behind a gate (`fast_path_allowed`: strict UTF-8, no other encoding declared,
well-formed XML per lxml), the way it could be adopted with feedparser as the fallback (for
documents the gate refuses and for any exception); only silent differences count there.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench._common import print_report
from bench.feedserver import render_feed

REPO_ROOT = Path(__file__).resolve().parents[1]
CORPUS = REPO_ROOT / ".." / "shared" / "corpus" / "feedparser"
HOSTILE_FOLDERS = ("illformed", "encoding", "entities")
_SPACE = re.compile(r"\s+")


def _median_cpu_ms(function: Callable[[bytes], Any], body: bytes, repeats: int) -> float:
    """Median CPU time of one call, in ms (process time: fair on a shared machine)."""
    timings = []
    for _ in range(repeats):
        started = time.process_time()
        function(body)
        timings.append(time.process_time() - started)
    return statistics.median(timings) * 1000


def fast_path(repeats: int) -> dict[str, Any]:
    """CPU per farm feed, full path against fast path, and what the gate admits."""
    from bot.feeds import parse_feed
    from bot.feeds.fast import parse_feed_fast_or_full, read_fast

    now = datetime.now(UTC)
    url = "http://site7.farm.test/feed/7.xml"
    headers = {"Content-Type": "application/rss+xml; charset=UTF-8"}
    farm = render_feed(7, 3, host="site7.farm.test", epoch=now)

    def full(body: bytes) -> Any:
        return parse_feed(body, url=url, now=now, headers=headers)

    def fast(body: bytes) -> Any:
        return parse_feed_fast_or_full(body, url=url, now=now, headers=headers)

    assert full(farm) == fast(farm), "the fast path must give the same feed"
    full_ms = _median_cpu_ms(full, farm, repeats)
    fast_ms = _median_cpu_ms(fast, farm, repeats)
    admitted: dict[str, str] = {}
    for folder in ("wellformed", *HOSTILE_FOLDERS):
        files = corpus_files((folder,))
        taken = sum(
            read_fast(path.read_bytes(), url="https://example.com/feed/") is not None
            for path in files
        )
        admitted[folder] = f"{taken} of {len(files)}"
    return {
        "farm_full_cpu_ms": round(full_ms, 3),
        "farm_fast_cpu_ms": round(fast_ms, 3),
        "speedup": round(full_ms / max(fast_ms, 1e-9), 1),
        "farm_admitted": read_fast(farm, url=url, headers=headers) is not None,
        "corpus_admitted": admitted,
    }


def _median_ms(function: Callable[[bytes], Any], body: bytes, repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        function(body)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def parsers() -> dict[str, Callable[[bytes], Any]]:
    """The parsers to compare, by name; fastfeedparser only when it is installed."""
    import feedparser

    from bot.feeds import parse_feed

    now = datetime.now(UTC)
    found: dict[str, Callable[[bytes], Any]] = {
        "paperboy parse_feed": lambda body: parse_feed(
            body, url="http://site.farm.test/feed/", now=now
        ),
        "feedparser.parse": feedparser.parse,
    }
    if importlib.util.find_spec("fastfeedparser"):
        import fastfeedparser

        found["fastfeedparser.parse"] = fastfeedparser.parse
    if importlib.util.find_spec("feedparser_rs"):
        import feedparser_rs

        found["feedparser_rs.parse"] = feedparser_rs.parse
    return found


def corpus_files(folders: tuple[str, ...], limit: int | None = None) -> list[Path]:
    """Corpus documents under the given folders (sorted; the first `limit` of each)."""
    files: list[Path] = []
    for folder in folders:
        found = sorted((CORPUS / folder).rglob("*.xml"))
        files += found[:limit] if limit is not None else found
    return files


def speed(repeats: int, corpus_limit: int | None) -> dict[str, Any]:
    """Median per-feed parse time of each parser, in ms."""
    farm = render_feed(7, 3, host="site7.farm.test", epoch=datetime.now(UTC))
    wellformed = [p.read_bytes() for p in corpus_files(("wellformed/rss",), corpus_limit)]
    wellformed += [p.read_bytes() for p in corpus_files(("wellformed/atom10",), corpus_limit)]
    result: dict[str, Any] = {"farm_feed_bytes": len(farm), "corpus_docs": len(wellformed)}
    result["utf8 + well-formed gate"] = {
        "farm_40kb_ms": round(_median_ms(fast_path_allowed, farm, repeats), 3),
        "corpus_median_ms": round(
            statistics.median(_median_ms(fast_path_allowed, b, 3) for b in wellformed), 3
        ),
    }
    for name, function in parsers().items():
        per_doc = []
        for body in wellformed:
            try:
                per_doc.append(_median_ms(function, body, 3))
            except Exception:  # a parser refusing a document is not a timing
                continue
        result[name] = {
            "farm_40kb_ms": round(_median_ms(function, farm, repeats), 3),
            "corpus_median_ms": round(statistics.median(per_doc), 3) if per_doc else None,
        }
    return result


_DECLARED = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([^"']+)["']""")


def fast_path_allowed(body: bytes) -> bool:
    """A gate for a fast parser: strict UTF-8, no other encoding declared, well-formed XML.

    Everything else (legacy encodings, lies about encodings, broken markup) would go to
    feedparser, whose recovery is what the corpus tests.
    """
    from lxml import etree

    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    declared = _DECLARED.match(body[:200])
    if declared and declared.group(1).lower().replace(b"_", b"-") not in (b"utf-8", b"utf8"):
        return False
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        etree.fromstring(body, parser)
    except etree.XMLSyntaxError:
        return False
    return True


def _titles(entries: Any) -> list[str]:
    return [_SPACE.sub(" ", str(entry.get("title", "") or "")).strip() for entry in entries]


def survival(corpus_limit: int | None) -> dict[str, Any]:
    """How the alternative fares on the hostile corpus, judged against feedparser."""
    import feedparser

    if not importlib.util.find_spec("fastfeedparser"):
        return {"skipped": "fastfeedparser is not installed"}
    import fastfeedparser

    files = corpus_files(HOSTILE_FOLDERS, corpus_limit)
    counts: dict[str, float] = {
        "documents": len(files),
        "with_entries": 0,
        "raised": 0,
        "fewer": 0,
        "title": 0,
    }
    counts |= {"gated_to_fast": 0, "gated_failed": 0}
    examples: list[str] = []
    for path in files:
        body = path.read_bytes()
        reference = feedparser.parse(body)
        if not reference.entries:
            continue
        counts["with_entries"] += 1
        gated = fast_path_allowed(body)
        counts["gated_to_fast"] += gated
        try:
            other = fastfeedparser.parse(body)
        except Exception as error:  # counting what it cannot take is the point
            counts["raised"] += 1  # behind the gate, an exception just means: use feedparser
            examples.append(f"{path.relative_to(CORPUS)}: {type(error).__name__}")
            continue
        if len(other.entries) < len(reference.entries):
            counts["fewer"] += 1
            counts["gated_failed"] += gated
            examples.append(f"{path.relative_to(CORPUS)}: fewer entries")
        elif _titles(other.entries)[:1] != _titles(reference.entries)[:1]:
            counts["title"] += 1
            counts["gated_failed"] += gated
            examples.append(f"{path.relative_to(CORPUS)}: different title")
    failed = counts["raised"] + counts["fewer"] + counts["title"]
    counts["failed"] = failed
    counts["failed_pct"] = round(100 * failed / max(1, counts["with_entries"]), 1)
    return {**counts, "examples": examples[:8]}


def run(smoke: bool) -> dict[str, Any]:
    """Speed and survival; the corpus is optional (skipped with a note when absent)."""
    if not CORPUS.is_dir():
        return {"skipped": f"feedparser corpus not found at {CORPUS.resolve()}"}
    limit = 5 if smoke else None
    return {
        "speed": speed(repeats=5 if smoke else 50, corpus_limit=limit),
        "fast_path": fast_path(repeats=5 if smoke else 100),
        "survival": survival(limit),
    }


def summary_rows(result: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(benchmark, metric, value, target) rows for the combined table."""
    if "skipped" in result:
        return [("parse cost", "skipped", result["skipped"], "")]
    rows = []
    for name, values in result["speed"].items():
        if isinstance(values, dict):
            rows.append(
                (
                    "parse cost",
                    f"{name} per feed (40 KB / corpus median)",
                    f"{values['farm_40kb_ms']} / {values['corpus_median_ms']} ms",
                    "",
                )
            )
    fast = result["fast_path"]
    rows.append(
        (
            "parse cost",
            "farm feed CPU: parse_feed / fast path (bot.feeds.fast)",
            f"{fast['farm_full_cpu_ms']} / {fast['farm_fast_cpu_ms']} ms ({fast['speedup']}x)",
            "",
        )
    )
    rows.append(
        (
            "parse cost",
            "fast-path gate admits (corpus)",
            ", ".join(f"{folder} {count}" for folder, count in fast["corpus_admitted"].items()),
            "",
        )
    )
    alive = result["survival"]
    if "skipped" in alive:
        rows.append(("parse cost", "fastfeedparser survival", alive["skipped"], ""))
    else:
        rows.append(
            (
                "parse cost",
                "fastfeedparser fails on hostile corpus",
                f"{alive['failed']} of {alive['with_entries']} ({alive['failed_pct']}%)",
                "0 to adopt",
            )
        )
        rows.append(
            (
                "parse cost",
                "... behind the UTF-8 + well-formed gate",
                f"{alive['gated_failed']} wrong of {alive['gated_to_fast']} let through",
                "0 to adopt",
            )
        )
    return rows


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a few documents, few repeats")
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    args = parser.parse_args()
    result = run(args.smoke)
    print_report(summary_rows(result), result, args.json)


if __name__ == "__main__":
    main()

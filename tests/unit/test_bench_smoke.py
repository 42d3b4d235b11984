"""The smoke mode of every benchmark, so `make bench` never rots.

These check that each benchmark runs and measures what it claims (counts, not speed: timing
assertions belong in the benchmarks themselves, not in the test suite).
"""

from __future__ import annotations

import pytest

from bench import archive, delivery, idle, latency, parse_cost, pg_cost, polling
from bench.__main__ import markdown_table, rows_of
from bench.feedserver import changed_in_cycle, version_at


def test_farm_changes_one_feed_in_ten_per_cycle() -> None:
    for cycle in (1, 2, 7):
        changed = [i for i in range(1000) if changed_in_cycle(i, cycle)]
        assert len(changed) == 100
    assert version_at(7, 0) == 0
    assert version_at(7, 20) == sum(changed_in_cycle(7, c) for c in range(1, 21)) == 2


def test_fastest_drain_is_the_slower_of_the_two_limits() -> None:
    limits = delivery.Limits(per_route=5, per_seconds=5.0, global_per_second=50)
    assert delivery.fastest_drain_seconds(20, 50, limits) == 19.0  # 1,000 at 50/s
    assert delivery.fastest_drain_seconds(20, 2, limits) == 15.0  # 4 windows of 5 per channel


async def test_polling_smoke_serves_ten_percent_new_and_the_rest_304() -> None:
    result = await polling.measure(60, cycles=1, naive_sample=10)
    paperboy = result["paperboy"]
    assert paperboy["seed"]["polled"] == 60
    assert paperboy["seed"]["errors"] == 0
    cycle = paperboy["cycles"][0]
    assert (cycle["polled"], cycle["errors"]) == (60, 0)
    assert (cycle["changed"], cycle["not_modified"]) == (6, 54)
    unchanged = paperboy["all_304_cycle"]
    assert (unchanged["polled"], unchanged["not_modified"], unchanged["errors"]) == (60, 60, 0)
    assert result["naive"]["errors"] == 0 and result["naive"]["extrapolated"]
    reader = result["reader"]
    if polling.reader_installed():  # a benchmark-only package (make bench-deps)
        assert (reader["seed"]["errors"], reader["errors"]) == (0, 0)
        assert reader["seed"]["entries"] == 60 * 20
        assert (reader["cycles"][0]["changed"], reader["cycles"][0]["not_modified"]) == (6, 54)
        assert reader["entries"] == 60 * 20 + 6
        assert set(result["vs_reader"]) >= {"seed_wall", "cycle_wall", "cycle_cpu"}
    else:
        assert "skipped" in reader and result["vs_reader"] is None
    assert markdown_table(rows_of("polling", [result])).count("\n") > 2


async def test_pool_overhead_smoke_runs_jobs_through_real_workers() -> None:
    result = await polling.pool_overhead(jobs=20)
    assert result["jobs"] == 20 and result["payload_bytes"] > 40_000
    assert result["bot_cpu_ms_per_job"] > 0 and result["wall_ms_per_job"] > 0


async def test_pg_cost_smoke_polls_the_same_farm_on_both_engines() -> None:
    result = await pg_cost.measure(40, cycles=1)
    if "skipped" in result:
        pytest.skip(result["skipped"])
    for engine in ("sqlite", "postgresql"):
        run = result[engine]
        assert (run["seed"]["polled"], run["seed"]["errors"]) == (40, 0), engine
        cycle = run["cycles"][0]
        assert (cycle["polled"], cycle["errors"], cycle["changed"]) == (40, 0, 4), engine
    assert result["wall_ratio"] > 0 and result["cpu_ratio"] > 0
    assert markdown_table(rows_of("pg_cost", [result])).count("\n") > 2


def test_parse_cost_smoke_compares_parsers() -> None:
    result = parse_cost.run(smoke=True)
    if "skipped" in result:
        pytest.skip(result["skipped"])
    speed = result["speed"]
    assert speed["paperboy parse_feed"]["farm_40kb_ms"] > 0
    assert speed["feedparser.parse"]["farm_40kb_ms"] > 0
    assert rows_of("parse_cost", result)


async def test_latency_smoke_times_every_article() -> None:
    result = await latency.measure(1, 2)
    assert result["articles"] == 2
    assert 0 < result["p50_s"] <= result["p99_s"] <= result["max_s"]


async def test_delivery_smoke_drains_everything_without_provoking_429s() -> None:
    limits = delivery.Limits(per_route=5, per_seconds=0.5, global_per_second=50)
    result = await delivery.measure(3, 6, limits, {"per_channel_interval_seconds": 0.1})
    assert result["announcements"] == result["messages"] == 18
    assert result["provoked_429"] == 0


async def test_archive_smoke_serves_from_a_fresh_process() -> None:
    [result] = await archive.run([300], queries=10, repeats=1)
    assert result["articles"] == 300
    for command in ("summary", "related", "search"):
        assert 0 < result[command]["p50_ms"] <= result[command]["p95_ms"]
    assert result["serving_peak_rss_mb"] > 0


async def test_idle_smoke_measures_a_real_bot_process() -> None:
    result = await idle.measure(10, 1, settle_limit=15)
    assert result["subscriptions"] == 50
    assert result["exit_code"] == 0
    assert result["tracebacks"] == 0
    assert result["idle_rss_mb"] > 0

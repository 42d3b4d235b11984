"""The cost of PostgreSQL: one polling cycle with one process on PostgreSQL against SQLite.

    .venv/bin/python -m bench.pg_cost --feeds 1000 10000     # full
    .venv/bin/python -m bench.pg_cost --smoke                # seconds

Same farm (`bench.feedserver`), same worker (`bench.polling`'s Paperboy side: seed, then cycles
with 10% of feeds changed), one process each: first on a SQLite file, then on a PostgreSQL 15
server started for the run on this machine (`tests/pgcluster.py`, durable settings: fsync on,
as SQLite's synchronous = FULL). CPU on PostgreSQL counts the server's processes too (the
postmaster and its backends), since the database's work is part of the cycle's cost; SQLite's is
in the worker's own threads. Target: PostgreSQL within 1.5x of SQLite's wall time and CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path
from typing import Any

from bench._common import print_report
from bench.feedserver import farm_process
from bench.polling import _worker
from tests.pgcluster import Cluster, server_binaries

TARGET = 1.5


def _postmaster_pid(cluster: Cluster) -> int:
    return int((cluster.folder / "data" / "postmaster.pid").read_text().split()[0])


async def measure(feeds: int, cycles: int) -> dict[str, Any]:
    """SQLite then PostgreSQL on one farm; each worker in its own process."""
    binaries = server_binaries()
    if binaries is None:
        return {"feeds": feeds, "skipped": "no PostgreSQL server binaries (make postgresql)"}
    cluster = Cluster(binaries, durable=True)
    try:
        await asyncio.to_thread(cluster.start)
        url = await cluster.new_database(migrated=False)
        async with farm_process(feeds) as port:
            common = ["--worker", "paperboy", "--feeds", str(feeds), "--port", str(port)]
            common += ["--cycles", str(cycles)]
            with tempfile.TemporaryDirectory(prefix="paperboy-bench-") as folder:
                sqlite = await asyncio.to_thread(_worker, [*common, "--folder", folder], 3600)
            with tempfile.TemporaryDirectory(prefix="paperboy-bench-") as folder:
                postgres = await asyncio.to_thread(
                    _worker,
                    [
                        *common,
                        *("--folder", folder, "--database-url", url),
                        *("--server-pid", str(_postmaster_pid(cluster))),
                    ],
                    3600,
                )
    finally:
        await asyncio.to_thread(cluster.stop)
    return {
        "feeds": feeds,
        "sqlite": sqlite,
        "postgresql": postgres,
        "wall_ratio": round(postgres["wall_s"] / max(sqlite["wall_s"], 1e-9), 2),
        "cpu_ratio": round(postgres["cpu_s"] / max(sqlite["cpu_s"], 1e-9), 2),
        "seed_wall_ratio": round(
            postgres["seed"]["wall_s"] / max(sqlite["seed"]["wall_s"], 1e-9), 2
        ),
    }


def summary_rows(results: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    """(benchmark, metric, value, target) rows for the combined table."""
    rows = []
    for result in results:
        name = f"PostgreSQL cost, polling {result['feeds']:,} feeds, 1 process"
        if "skipped" in result:
            rows.append((name, "skipped", result["skipped"], ""))
            continue
        lite, pg = result["sqlite"], result["postgresql"]
        rows += [
            (name, "cycle wall SQLite / PostgreSQL", f"{lite['wall_s']} / {pg['wall_s']} s", ""),
            (
                name,
                "cycle CPU SQLite / PostgreSQL (incl. server)",
                f"{lite['cpu_s']} / {pg['cpu_s']} s",
                "",
            ),
            (name, "PostgreSQL / SQLite, cycle wall", f"{result['wall_ratio']}x", f"<= {TARGET}x"),
            (name, "PostgreSQL / SQLite, cycle CPU", f"{result['cpu_ratio']}x", f"<= {TARGET}x"),
            (
                name,
                "seed cycle wall SQLite / PostgreSQL",
                f"{lite['seed']['wall_s']} / {pg['seed']['wall_s']} s",
                "",
            ),
            (name, "errors SQLite / PostgreSQL", f"{lite['errors']} / {pg['errors']}", "0"),
        ]
    return rows


def main() -> None:
    """Run the comparison and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="100 feeds, 1 cycle")
    parser.add_argument("--feeds", type=int, nargs="*", default=[1000, 10_000])
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    args = parser.parse_args()
    sizes, cycles = (args.feeds, args.cycles) if not args.smoke else ([100], 1)

    async def run() -> list[dict[str, Any]]:
        return [await measure(n, cycles) for n in sizes]

    results = asyncio.run(run())
    print_report(summary_rows(results), results, args.json)


if __name__ == "__main__":
    main()

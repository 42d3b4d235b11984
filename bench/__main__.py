"""Run every benchmark and print one table (`make bench`).

    .venv/bin/python -m bench                     # all eight, full size (about 15 minutes)
    .venv/bin/python -m bench --smoke             # all eight, tiny (about half a minute)
    .venv/bin/python -m bench --only polling idle # a selection

Each benchmark runs in its own process (`python -m bench.NAME --json FILE`), so one cannot
inflate another's memory. Results go to bench/results/latest.json and latest.md (the table,
with the machine it ran on), which BENCHMARKS.md quotes.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "bench" / "results"
BENCHMARKS = (
    "polling",
    "pg_cost",
    "parse_cost",
    "latency",
    "push_latency",
    "delivery",
    "archive",
    "idle",
)
Row = tuple[str, str, str, str]


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = "unknown"
    memory_gb = 0.0
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("MemTotal:"):
                memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gb": memory_gb,
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def run_one(name: str, smoke: bool, timeout: float) -> tuple[Any, float]:
    """Run `bench.NAME` in a fresh process; its JSON result and the seconds it took."""
    with tempfile.TemporaryDirectory(prefix="paperboy-bench-") as folder:
        output = Path(folder) / "result.json"
        command = [sys.executable, "-m", f"bench.{name}", "--json", str(output)]
        if smoke:
            command.append("--smoke")
        started = time.perf_counter()
        done = subprocess.run(
            command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout, check=False
        )
        elapsed = time.perf_counter() - started
        if done.returncode != 0 or not output.exists():
            raise RuntimeError(f"bench.{name} failed ({done.returncode}):\n{done.stderr[-4000:]}")
        return json.loads(output.read_text(encoding="utf-8")), elapsed


def rows_of(name: str, result: Any) -> list[Row]:
    """The table rows of one benchmark's result."""
    module = importlib.import_module(f"bench.{name}")
    rows: list[Row] = module.summary_rows(result)
    return rows


def markdown_table(rows: list[Row]) -> str:
    """The rows as a Markdown table."""
    lines = ["| benchmark | metric | value | target |", "|---|---|---|---|"]
    lines += [f"| {b} | {m} | {v} | {t} |" for b, m, v, t in rows]
    return "\n".join(lines)


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny versions, for the test suite")
    parser.add_argument("--only", nargs="*", choices=BENCHMARKS, default=list(BENCHMARKS))
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per benchmark")
    parser.add_argument("--output", type=Path, default=RESULTS, help="folder for latest.*")
    args = parser.parse_args()
    results: dict[str, Any] = {"machine": machine(), "mode": "smoke" if args.smoke else "full"}
    rows: list[Row] = []
    for name in args.only:
        print(f"running bench.{name} ...", file=sys.stderr, flush=True)
        result, elapsed = run_one(name, args.smoke, args.timeout)
        results[name] = result
        rows += rows_of(name, result)
        print(f"  done in {elapsed:.0f} s", file=sys.stderr, flush=True)
    table = markdown_table(rows)
    about = results["machine"]
    header = (
        f"Measured {time.strftime('%Y-%m-%d', time.gmtime())} ({results['mode']}) on "
        f"{about['cpus']} x {about['cpu_model']}, {about['memory_gb']} GB RAM, "
        f"Python {about['python']}, {about['system']}."
    )
    print(header)
    print(table)
    args.output.mkdir(parents=True, exist_ok=True)
    suffix = "-smoke" if args.smoke else ""
    (args.output / f"latest{suffix}.json").write_text(
        json.dumps(results, indent=2) + "\n", encoding="utf-8"
    )
    (args.output / f"latest{suffix}.md").write_text(header + "\n\n" + table + "\n", "utf-8")


if __name__ == "__main__":
    main()

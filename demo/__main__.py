"""`python -m demo [--port N] [--publish-every SECONDS] [--workdir DIR]` (what `make demo` runs)."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from demo.run import prepare_workdir, run_demo


def main() -> int:
    """Parse the options and run the demo until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__)
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT") or 0),
        help="port of the web page on 127.0.0.1 (default: $PORT, else a free one)",
    )
    parser.add_argument(
        "--publish-every",
        type=float,
        default=20.0,
        help="seconds between two new articles on the demo site (default: 20)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(".demo"),
        help="where the bot's config, database and logs go; emptied at start (default: .demo)",
    )
    args = parser.parse_args()
    if args.publish_every < 1:
        parser.error("--publish-every must be at least 1 second")
    workdir = args.workdir.resolve()
    prepare_workdir(workdir)
    return asyncio.run(run_demo(args.port, args.publish_every, workdir))


if __name__ == "__main__":
    raise SystemExit(main())

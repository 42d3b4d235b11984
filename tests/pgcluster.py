"""A throwaway PostgreSQL cluster for tests and benchmarks: `initdb` into a temporary folder,
`pg_ctl start` on a free loopback port, one database per test cloned from a migrated template,
and everything removed at the end.

The server binaries come from Debian's `postgresql` package (`make postgresql` installs it when
run as root). initdb refuses to run as root, so as root the cluster runs as the `postgres` system
user the package creates (through `runuser`); as anyone else it runs as that user.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

PG_ROOT = Path("/usr/lib/postgresql")


def server_binaries() -> Path | None:
    """The newest installed PostgreSQL's bin folder (PAPERBOY_PG_BIN overrides), or None."""
    override = os.environ.get("PAPERBOY_PG_BIN")
    candidates = [Path(override)] if override else []
    if PG_ROOT.is_dir():
        versions = [p for p in PG_ROOT.iterdir() if p.name.isdigit()]
        candidates += [p / "bin" for p in sorted(versions, key=lambda p: int(p.name), reverse=True)]
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Cluster:
    """One running PostgreSQL server with trust authentication on 127.0.0.1 only."""

    TEMPLATE = "paperboy_template"

    def __init__(self, binaries: Path, *, durable: bool = False) -> None:
        self.binaries = binaries
        self.durable = durable
        """False (tests): fsync off, nothing survives a machine crash, much faster. True
        (benchmarks): the defaults, as durable as SQLite's synchronous = FULL."""
        self.folder = Path(tempfile.mkdtemp(prefix="paperboy-pg-"))
        self.port = 0
        self._numbers = itertools.count(1)
        self._as_postgres = os.geteuid() == 0

    def _run(self, *command: str) -> None:
        argv = [str(self.binaries / command[0]), *command[1:]]
        if self._as_postgres:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}")

    def start(self) -> None:
        """initdb and start the server; raises with the server's own words if either fails."""
        if self._as_postgres:
            shutil.chown(self.folder, "postgres", "postgres")
        data = self.folder / "data"
        self._run(
            "initdb", "-D", str(data), "--auth=trust", "--username=paperboy",
            "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        self.port = _free_port()
        options = [
            f"-p {self.port}",
            "-c listen_addresses=127.0.0.1",
            f"-k {self.folder}",
            "-c max_connections=200",
        ]
        if not self.durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        self._run(
            "pg_ctl", "-D", str(data), "-l", str(self.folder / "server.log"), "-w",
            "-o", " ".join(options), "start",
        )  # fmt: skip

    def url(self, database: str = "postgres") -> str:
        """The URL of one database on this server."""
        return f"postgresql://paperboy@127.0.0.1:{self.port}/{database}"

    async def _admin(self, *statements: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.url())
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    def prepare_template(self) -> None:
        """A database migrated to the latest schema, which each test's database is cloned from."""

        async def migrate() -> None:
            from bot.storage import Storage

            await self._admin(f"CREATE DATABASE {self.TEMPLATE}")
            storage = await Storage.open(self.url(self.TEMPLATE))
            await storage.close()

        # In a thread of its own: the session fixture may be set up inside a test's event loop.
        with concurrent.futures.ThreadPoolExecutor(1) as thread:
            thread.submit(asyncio.run, migrate()).result()

    async def new_database(self, *, migrated: bool = True) -> str:
        """A fresh database (a copy of the migrated template, or empty); returns its URL."""
        name = f"test_{next(self._numbers)}"
        template = self.TEMPLATE if migrated else "template0"
        await self._admin(f"CREATE DATABASE {name} TEMPLATE {template}")
        return self.url(name)

    def stop(self) -> None:
        """Stop the server at once and remove its folder."""
        try:
            if self.port:
                self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

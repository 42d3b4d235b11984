"""Shared fixtures: a real database per test, on each engine, and a test configuration.

`storage` runs its test twice: on a SQLite file, and on a database of a throwaway PostgreSQL
cluster (`tests/pgcluster.py`, started once per session) when the server binaries are installed.
So does every end-to-end scenario that keeps the bot's state (`bench_engine`, `bench_database`).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.config import Config, from_mapping
from bot.storage import Storage
from tests.pgcluster import Cluster, server_binaries

pytest_plugins = ["tests.bench.conftest_standin"]

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"


def make_config(tmp_path: Path, **sections: dict[str, object]) -> Config:
    """A config for tests: a database in tmp_path, loopback fetching allowed, short intervals."""
    raw: dict[str, dict[str, object]] = {
        "database": {"path": str(tmp_path / "paperboy.db")},
        "fetch": {
            "allow_private_addresses": True,
            "connect_timeout_seconds": 2.0,
            "total_timeout_seconds": 5.0,
        },
        "feeds": {"min_interval_seconds": 1, "default_interval_seconds": 1},
        "bot": {"guild_ready_timeout_seconds": 0.05, "reidentify_delay_seconds": 0.0},
    }
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    return from_mapping(raw, source="(test)")


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """The test configuration."""
    return make_config(tmp_path)


ENGINES = ("sqlite", "postgresql")
PG_MISSING = (
    "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin): the PostgreSQL half of "
    "the suite is skipped; `make postgresql` as root installs them"
)


def pytest_report_header() -> str:
    """One line saying whether the PostgreSQL half of the suite runs."""
    binaries = server_binaries()
    if binaries is None:
        return PG_MISSING
    return (
        f"PostgreSQL: {binaries} (the storage tests and the end-to-end scenarios run on SQLite "
        "and on PostgreSQL)"
    )


ENGINE_VARIABLE = "PAPERBOY_TEST_ENGINE"
"""`PAPERBOY_TEST_ENGINE=postgresql pytest tests/e2e` runs the bench scenarios on PostgreSQL
only (`sqlite`: on SQLite only), for a quicker run of one half."""
E2E = Path(__file__).resolve().parent / "e2e"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every end-to-end scenario that keeps the bot's state (it asks for `bench_engine`) runs on
    SQLite and on PostgreSQL; elsewhere, scenarios marked `both_engines` do, the rest on SQLite.
    PAPERBOY_TEST_ENGINE picks one engine for all of them."""
    if "bench_engine" not in metafunc.fixturenames:
        return
    chosen = os.environ.get(ENGINE_VARIABLE, "")
    in_e2e = E2E in Path(str(metafunc.definition.path)).parents
    if chosen:
        engines = [chosen]
    elif in_e2e or metafunc.definition.get_closest_marker("both_engines"):
        engines = ["sqlite", "postgresql"]
    else:
        engines = ["sqlite"]
    only_sqlite = metafunc.definition.get_closest_marker("sqlite_only")
    if only_sqlite is None:
        metafunc.parametrize("bench_engine", engines)
        return
    # A scenario about SQLite itself: on PostgreSQL it is reported skipped, with its reason.
    reason = f"SQLite only: {only_sqlite.args[0]}"
    metafunc.parametrize(
        "bench_engine",
        [
            e if e == "sqlite" else pytest.param(e, marks=pytest.mark.skip(reason=reason))
            for e in engines
        ]
        if chosen
        else ["sqlite"],
    )


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """A PostgreSQL server for the session, with a migrated template database."""
    binaries = server_binaries()
    if binaries is None:
        if os.environ.get("PAPERBOY_REQUIRE_POSTGRESQL"):  # CI: never skip the half silently
            pytest.fail(PG_MISSING)
        pytest.skip(PG_MISSING)
    cluster = Cluster(binaries)
    try:
        cluster.start()
        cluster.prepare_template()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
async def bench_database(bench_engine: str, request: pytest.FixtureRequest) -> str:
    """Where a bench scenario's bot keeps its state, as `[database] url`: '' for the SQLite file
    its config names in tmp_path, or the URL of a fresh, migrated PostgreSQL database."""
    if bench_engine == "sqlite":
        return ""
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    return await cluster.new_database()


def storage_target(url: str, sqlite_file: Path) -> str:
    """What `Storage.open` takes for a bench database: the PostgreSQL URL, or the SQLite file."""
    return url or str(sqlite_file)


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """The storage engine under test."""
    return str(request.param)


@pytest.fixture
async def database_target(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Where the test's database is: a SQLite file in tmp_path, or a fresh PostgreSQL database."""
    if engine == "sqlite":
        return str(tmp_path / "test.db")
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    return await cluster.new_database()


@pytest.fixture
async def storage(database_target: str) -> AsyncIterator[Storage]:
    """A migrated database, on each engine."""
    db = await Storage.open(database_target)
    try:
        yield db
    finally:
        await db.close()

"""Shared fixtures: a real database per test, on each engine, and a test configuration.

`storage` runs its test twice: on a SQLite file, and on a database of a throwaway PostgreSQL
cluster (`tests/pgcluster.py`, started once per session) when the server binaries are installed.
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
    return f"PostgreSQL: {binaries} (the storage tests run on SQLite and on PostgreSQL)"


ENGINE_VARIABLE = "PAPERBOY_TEST_ENGINE"
"""`PAPERBOY_TEST_ENGINE=postgresql pytest tests/e2e tests/hardening` runs every bench scenario
on PostgreSQL."""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """The bot under test keeps its state on SQLite; scenarios marked `both_engines` run on
    PostgreSQL too, and PAPERBOY_TEST_ENGINE picks one engine for all of them."""
    if "bench_engine" not in metafunc.fixturenames:
        return
    chosen = os.environ.get(ENGINE_VARIABLE, "")
    if chosen:
        engines = [chosen]
    elif metafunc.definition.get_closest_marker("both_engines"):
        engines = ["sqlite", "postgresql"]
    else:
        engines = ["sqlite"]
    metafunc.parametrize("bench_engine", engines)


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

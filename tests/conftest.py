"""Shared fixtures: a real SQLite database per test and a test configuration."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Config, from_mapping
from bot.storage import Storage

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


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[Storage]:
    """A migrated database file in tmp_path."""
    db = await Storage.open(tmp_path / "test.db")
    try:
        yield db
    finally:
        await db.close()

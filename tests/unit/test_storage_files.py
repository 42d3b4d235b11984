"""The database file and its backups: owner-only permissions, and backups that are real copies
whatever characters their paths contain (`#` and `?` used to cut the file: URI short)."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import build_parser
from bot.cli._context import CommandContext
from bot.errors import StorageError
from bot.storage import Storage, backup_database, latest_version
from tests.conftest import make_config

AWKWARD_NAMES = ["weekly#1.db", "what?.db", "a?b#c%20d.db", "file:odd.db"]


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    """The common default umask, under which SQLite alone creates files readable by all."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def filled(path: Path) -> None:
    """A Paperboy database at `path` with one audit row, closed again."""
    storage = await Storage.open(path)
    try:
        async with storage.transaction() as conn:
            await conn.execute(
                "INSERT INTO audit_log (guild_id, action, created_at) VALUES (1, 'kept', 't')"
            )
    finally:
        await storage.close()


def audit_actions(path: Path) -> list[str]:
    conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=rw", uri=True)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == latest_version()
        return [row[0] for row in conn.execute("SELECT action FROM audit_log")]
    finally:
        conn.close()


async def test_the_database_and_its_wal_and_shm_files_are_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "paperboy.db"
    storage = await Storage.open(path)
    try:
        async with storage.transaction() as conn:
            await conn.execute(
                "INSERT INTO audit_log (guild_id, action, created_at) VALUES (1, 'x', 't')"
            )
        files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
        assert {p.name: mode_of(p) for p in files} == {p.name: 0o600 for p in files}
    finally:
        await storage.close()


@pytest.mark.parametrize("source_name", AWKWARD_NAMES)
@pytest.mark.parametrize("copy_name", AWKWARD_NAMES)
async def test_a_backup_is_a_real_owner_only_copy_whatever_the_paths_contain(
    tmp_path: Path, source_name: str, copy_name: str
) -> None:
    source = tmp_path / "live" / source_name
    source.parent.mkdir()
    await filled(source)
    copy = tmp_path / "backups" / copy_name
    copy.parent.mkdir()
    backup_database(source, copy)
    assert audit_actions(copy) == ["kept"]
    assert mode_of(copy) == 0o600
    # Nothing else was created: no stray empty database where the URI used to be cut. (Reading
    # the source in WAL mode may leave its own -wal and -shm, owner-only like it.)
    assert sorted(p.name for p in copy.parent.iterdir()) == [copy_name]
    beside_source = {p.name: mode_of(p) for p in source.parent.iterdir()}
    assert set(beside_source) <= {source_name, f"{source_name}-wal", f"{source_name}-shm"}
    assert set(beside_source.values()) == {0o600}


def test_a_backup_of_something_that_is_not_a_paperboy_database_is_refused(
    tmp_path: Path,
) -> None:
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()  # a valid SQLite file with nothing in it
    copy = tmp_path / "copy.db"
    with pytest.raises(StorageError, match="not a Paperboy database"):
        backup_database(empty, copy)
    assert not copy.exists()  # no empty copy left to be mistaken for a backup


def test_a_backup_into_a_missing_folder_is_refused_with_a_sentence(tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / "src.db").close()
    with pytest.raises(StorageError, match="does not exist"):
        backup_database(tmp_path / "src.db", tmp_path / "nowhere" / "copy.db")


async def test_db_backup_command_copies_to_a_path_with_hash_and_question_mark(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = make_config(tmp_path)
    await filled(Path(config.database.path))
    target = tmp_path / "paperboy-#2026?.db"
    args = build_parser().parse_args(["db", "backup", str(target)])
    ctx = CommandContext(config)
    try:
        assert await args.handler(args, ctx) == 0
    finally:
        await ctx.aclose()
    assert "Backed up" in capsys.readouterr().err
    assert audit_actions(target) == ["kept"]

"""The `paperboy` command line, run as a real subprocess."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot import __version__
from bot.storage import latest_version
from tests.unit.support import paperboy


def test_version_and_help(tmp_path: Path) -> None:
    version = paperboy("--version", cwd=tmp_path)
    assert version.returncode == 0
    assert version.stdout.strip() == f"paperboy {__version__}"
    helptext = paperboy("--help", cwd=tmp_path)
    assert helptext.returncode == 0
    for command in ("run", "db"):
        assert command in helptext.stdout


def test_no_command_prints_help_and_exits_2(tmp_path: Path) -> None:
    result = paperboy(cwd=tmp_path)
    assert result.returncode == 2
    assert "usage: paperboy" in result.stderr


def test_run_without_token_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = paperboy("run", cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "DISCORD_TOKEN" in lines[0]
    assert "Developer Portal" in lines[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "paperboy.db").exists()  # nothing opened before the check


def test_bad_config_exits_2_naming_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[feeds]\nmin_interval_seconds = 'soon'\n")
    result = paperboy("run", cwd=tmp_path, env={"DISCORD_TOKEN": "x" * 60})
    assert result.returncode == 2
    assert "config.toml: [feeds] min_interval_seconds: expected a whole number" in result.stderr
    assert "Traceback" not in result.stderr


def test_config_from_environment_variable(tmp_path: Path) -> None:
    (tmp_path / "elsewhere.toml").write_text("[nope]\n")
    result = paperboy("db", "migrate", cwd=tmp_path, env={"PAPERBOY_CONFIG": "elsewhere.toml"})
    assert result.returncode == 2
    assert "elsewhere.toml: unknown section [nope]" in result.stderr


def test_db_migrate_and_backup(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[database]\npath = "data/bot.db"\n')
    migrate = paperboy("db", "migrate", cwd=tmp_path)
    assert migrate.returncode == 0, migrate.stderr
    assert f"schema version {latest_version()}" in migrate.stdout
    backup = paperboy("db", "backup", "copy.db", cwd=tmp_path)
    assert backup.returncode == 0, backup.stderr
    conn = sqlite3.connect(tmp_path / "copy.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == latest_version()
    conn.close()
    again = paperboy("db", "backup", "copy.db", cwd=tmp_path)
    assert again.returncode == 1
    assert "already exists" in again.stderr
    info = paperboy("db", "info", cwd=tmp_path)
    assert info.returncode == 0
    assert "articles: 0" in info.stdout

"""The command line a person expects: global options before or after every command, examples
in every --help, and JSON logs (still redacted) for log collectors."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest

from bot.cli import EXAMPLES, _subcommands, build_parser, make_log_handler
from tests.unit.support import paperboy

# Positional arguments each command needs, so the parser accepts it.
ARGUMENTS: dict[str, list[str]] = {
    "run": [],
    "doctor": [],
    "db migrate": [],
    "db info": [],
    "db backup": ["copy.db"],
    "db copy": ["--to", "postgresql://x@y/z"],
    "feed check": ["https://example.org/"],
    "archive import": ["https://example.org/sitemap.xml"],
    "extract": ["page.html"],
    "summarize": ["page.html"],
    "related": ["some text"],
    "search": ["rent"],
    "worker": [],
}


def leaf_commands() -> list[str]:
    """Every runnable command path (those with a handler)."""
    return [
        path for path, sub in _subcommands(build_parser()) if sub.get_default("handler") is not None
    ]


def test_every_command_is_covered_here() -> None:
    assert sorted(leaf_commands()) == sorted(ARGUMENTS)


@pytest.mark.parametrize("command", sorted(ARGUMENTS))
def test_global_options_work_before_and_after_every_command(command: str) -> None:
    parser = build_parser()
    words = command.split() + ARGUMENTS[command]
    options = ["--config", "x.toml", "--log-level", "DEBUG", "--log-format", "json", "--quiet"]
    for argv in (options + words, words + options, words[:1] + options + words[1:]):
        args = parser.parse_args(argv)
        assert args.handler is not None, argv
        assert (args.config, args.log_level, args.log_format, args.quiet) == (
            "x.toml",
            "DEBUG",
            "json",
            True,
        ), argv
    plain = parser.parse_args(words)
    assert (plain.config, plain.log_level, plain.log_format, plain.quiet) == (
        None,
        None,
        None,
        False,
    )


def test_an_option_before_the_command_is_not_reset_by_the_command() -> None:
    args = build_parser().parse_args(["--config", "first.toml", "db", "info"])
    assert args.config == "first.toml"


@pytest.mark.parametrize("command", ["", *sorted(ARGUMENTS), "db", "feed", "archive"])
def test_every_help_shows_examples(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args([*command.split(), "--help"])
    assert stopped.value.code == 0
    out = capsys.readouterr().out
    assert "example" in out
    assert EXAMPLES[command].splitlines()[1].strip() in out  # the first example, unwrapped
    assert "--config" in out


def test_run_reads_the_config_given_after_the_command(tmp_path: Path) -> None:
    bad = tmp_path / "elsewhere.toml"
    bad.write_text("[feeds]\nmin_interval_seconds = 'soon'\n")
    for argv in (("run", "--config", str(bad)), ("--config", str(bad), "run")):
        result = paperboy(*argv, cwd=tmp_path, env={"DISCORD_TOKEN": "x" * 60})
        assert result.returncode == 2, argv
        assert "elsewhere.toml: [feeds] min_interval_seconds" in result.stderr


def test_feed_check_and_db_info_take_config_after_the_command(tmp_path: Path) -> None:
    config = tmp_path / "other.toml"
    config.write_text(f'[database]\npath = "{tmp_path / "chosen.db"}"\n')
    result = paperboy("db", "info", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "chosen.db" in result.stdout
    result = paperboy("feed", "check", "not a url", "--config", str(config), cwd=tmp_path)
    assert "unrecognized arguments" not in result.stderr
    assert result.returncode == 1


def test_json_logs_are_one_object_per_line_and_redacted() -> None:
    token = "MTA5ODc2NTQzMjEw.Gx1yZz.abcdefghijklmnopqrstuvwxyz0123456789"
    stream = io.StringIO()
    logger = logging.getLogger("tests.jsonlogs")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(make_log_handler(stream, [token], log_format="json"))
    try:
        logger.info("logging in with %s", token)
        try:
            raise RuntimeError(f"bad token {token}")
        except RuntimeError:
            logger.exception("login failed\nsecond line")
    finally:
        logger.handlers.clear()
        logger.propagate = True
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert set(first) == {"time", "level", "logger", "message", "exc"}
    assert first["message"] == "logging in with [redacted]"
    assert first["level"] == "INFO" and first["logger"] == "tests.jsonlogs"
    assert first["time"].endswith("Z") and first["exc"] is None
    assert second["message"] == "login failed\nsecond line"
    assert "RuntimeError: bad token [redacted]" in second["exc"]
    assert token not in stream.getvalue()


def test_run_logs_json_through_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[bot]\napi_base_url = "http://127.0.0.1:9/api"\n')
    result = paperboy("run", "--log-format", "json", cwd=tmp_path, env={"DISCORD_TOKEN": "y" * 60})
    lines = [line for line in result.stderr.splitlines() if line.startswith("{")]
    assert lines, result.stderr
    for line in lines:
        assert set(json.loads(line)) == {"time", "level", "logger", "message", "exc"}
    assert "y" * 60 not in result.stderr


def test_run_refuses_a_public_endpoint_before_logging_in(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[http]\nlisten = "0.0.0.0:8080"\n')
    result = paperboy("run", cwd=tmp_path, env={"DISCORD_TOKEN": "z" * 60})
    assert result.returncode == 2
    assert "not a loopback address" in result.stderr and "allow_public" in result.stderr
    assert not (tmp_path / "paperboy.db").exists()


def test_doctor_reports_a_missing_database_without_creating_it(tmp_path: Path) -> None:
    result = paperboy("doctor", "--json", cwd=tmp_path)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    checks = {p["check"]: p for p in report["problems"]}
    assert checks["database"]["detail"] == "does not exist yet"
    assert "DISCORD_TOKEN is not set" in checks["token"]["detail"]
    assert not (tmp_path / "paperboy.db").exists()

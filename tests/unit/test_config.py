"""Configuration loading: defaults, the example file, and errors that name file, key and want."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from bot import config as cfg
from bot.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_file_means_defaults() -> None:
    config = cfg.load(None)
    assert config.database.path == "paperboy.db"
    assert config.fetch.allow_private_addresses is False
    assert config.feeds.default_interval_seconds == 300
    assert config.feeds.min_interval_seconds == 60


def test_example_file_documents_every_key_with_its_default() -> None:
    example = REPO / "config.example.toml"
    raw = tomllib.loads(example.read_text(encoding="utf-8"))
    documented = {(section, key) for section, table in raw.items() for key in table}
    expected = {(section, key) for section, key, _, _ in cfg.describe_defaults()}
    assert documented == expected
    assert cfg.load(example) == cfg.Config()
    text = example.read_text(encoding="utf-8")
    for _, key, _, doc in cfg.describe_defaults():
        assert f"# {doc}\n{key} = " in text, f"{key} lacks its one-line comment"
    assert "token" not in {key for _, key in documented}


def test_values_are_read(tmp_path: Path) -> None:
    path = write(tmp_path, '[database]\npath = "x.db"\n[feeds]\nmin_interval_seconds = 5\n')
    config = cfg.load(path)
    assert config.database.path == "x.db"
    assert config.feeds.min_interval_seconds == 5
    assert config.source == str(path)


def test_integer_accepted_for_float(tmp_path: Path) -> None:
    config = cfg.load(write(tmp_path, "[fetch]\ntotal_timeout_seconds = 30\n"))
    assert config.fetch.total_timeout_seconds == 30.0


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("[database]\npth = 'x'\n", ["[database] pth", "unknown key", "path"]),
        ("[nope]\nx = 1\n", ["unknown section [nope]", "[database]"]),
        (
            "[feeds]\nmin_interval_seconds = 'often'\n",
            ["[feeds] min_interval_seconds", "whole number", "'often'"],
        ),
        ("[feeds]\nmin_interval_seconds = true\n", ["whole number", "True"]),
        ("[fetch]\nallow_private_addresses = 'yes'\n", ["true or false"]),
        ("[feeds]\nmin_interval_seconds = 0\n", ["from 1 to 86400", "got 0"]),
        ("[bot]\nlog_level = 'LOUD'\n", ["one of DEBUG, INFO, WARNING, ERROR"]),
        ("database = 3\n", ["[database] must be a table"]),
        ("[database\n", ["not valid TOML"]),
    ],
)
def test_errors_name_file_key_and_expectation(
    tmp_path: Path, text: str, fragments: list[str]
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        cfg.load(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    for fragment in fragments:
        assert fragment in message


def test_missing_named_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        cfg.load(tmp_path / "absent.toml")


def test_path_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert cfg.resolve_path(None, {}) is None
    (tmp_path / "config.toml").write_text("", encoding="utf-8")
    assert cfg.resolve_path(None, {}) == Path("config.toml")
    assert cfg.resolve_path(None, {"PAPERBOY_CONFIG": "env.toml"}) == Path("env.toml")
    assert cfg.resolve_path("cli.toml", {"PAPERBOY_CONFIG": "env.toml"}) == Path("cli.toml")


def test_user_agent_names_paperboy_and_contact() -> None:
    agent = cfg.Config().user_agent()
    assert agent.startswith("Paperboy/")
    assert cfg.Config().bot.contact_url in agent

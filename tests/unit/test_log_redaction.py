"""Log redaction: every configured secret (the Discord token, also when set with surrounding
whitespace, and the LLM API key) is replaced in messages, arguments and tracebacks."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.cli import REDACTED, configured_secrets, make_log_handler
from bot.config import Config
from tests.conftest import make_config

TOKEN = "MTA5ODc2NTQzMjEw.Gx1yZz.abcdefghijklmnopqrstuvwxyz0123456789"
LLM_KEY = "sk-live-0123456789abcdef"


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path, summaries={"openai_api_key_env": "LOCAL_LLM_KEY"})


Logged = Callable[[list[str]], tuple[logging.Logger, io.StringIO]]


@pytest.fixture
def logged() -> Iterator[Logged]:
    """Make a logger that writes through Paperboy's handler, redacting `secrets`, into a string."""
    logger = logging.getLogger("tests.redaction")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)

    def make(secrets: list[str]) -> tuple[logging.Logger, io.StringIO]:
        stream = io.StringIO()
        logger.addHandler(make_log_handler(stream, secrets))
        return logger, stream

    try:
        yield make
    finally:
        logger.handlers.clear()
        logger.propagate = True


def test_the_token_is_found_even_with_surrounding_whitespace(config: Config) -> None:
    environ = {"DISCORD_TOKEN": f"  {TOKEN}\n", "LOCAL_LLM_KEY": f" {LLM_KEY} "}
    assert configured_secrets(config, environ) == [TOKEN, LLM_KEY]


def test_short_or_missing_values_are_not_secrets(config: Config) -> None:
    assert configured_secrets(config, {"DISCORD_TOKEN": "  abc  "}) == []
    assert configured_secrets(config, {}) == []


def test_the_llm_key_is_the_variable_the_config_names(config: Config) -> None:
    environ = {"OPENAI_API_KEY": "sk-not-the-configured-one", "LOCAL_LLM_KEY": LLM_KEY}
    assert configured_secrets(config, environ) == [LLM_KEY]


def test_messages_and_arguments_are_redacted(logged: Logged, config: Config) -> None:
    environ = {"DISCORD_TOKEN": f" {TOKEN} ", "LOCAL_LLM_KEY": LLM_KEY}
    logger, stream = logged(configured_secrets(config, environ))
    logger.info("Logging in with %s", TOKEN)
    logger.warning(f"LLM request headers: {{'Authorization': 'Bearer {LLM_KEY}'}}")
    text = stream.getvalue()
    assert TOKEN not in text and LLM_KEY not in text
    assert text.count(REDACTED) == 2
    assert "Logging in with [redacted]" in text


def test_tracebacks_are_redacted(logged: Logged) -> None:
    logger, stream = logged([TOKEN, LLM_KEY])
    try:
        raise RuntimeError(f"login failed for token {TOKEN} (key {LLM_KEY})")
    except RuntimeError:
        logger.exception("Start-up failed")
    text = stream.getvalue()
    assert "Traceback (most recent call last)" in text and "RuntimeError" in text
    assert TOKEN not in text and LLM_KEY not in text
    assert f"login failed for token {REDACTED} (key {REDACTED})" in text


def test_stderr_logging_redacts_a_traceback_in_a_fresh_process(tmp_path: Path) -> None:
    """In a fresh process, as `main()` sets it up: the token set with whitespace around it and
    the LLM key named by the config file are redacted from a logged traceback on stderr."""
    (tmp_path / "config.toml").write_text(
        '[summaries]\nopenai_api_key_env = "LOCAL_LLM_KEY"\n', encoding="utf-8"
    )
    script = (
        "import logging, sys\n"
        "from bot import cli\n"
        "from bot.config import load, resolve_path\n"
        "import os\n"
        "config = load(resolve_path('config.toml'))\n"
        "cli.setup_logging('INFO', cli.configured_secrets(config, os.environ))\n"
        "try:\n"
        f"    raise ValueError('token ' + os.environ['DISCORD_TOKEN'].strip() + ' key {LLM_KEY}')\n"
        "except ValueError:\n"
        "    logging.getLogger('x').exception('failed')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={"DISCORD_TOKEN": f"\t{TOKEN} ", "LOCAL_LLM_KEY": LLM_KEY, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "ValueError: token [redacted] key [redacted]" in result.stderr
    assert TOKEN not in result.stderr and LLM_KEY not in result.stderr

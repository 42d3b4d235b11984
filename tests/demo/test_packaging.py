"""The packaging files: the systemd unit checked by systemd itself, the Dockerfile's promises.

Building the image takes minutes and podman, so it is not part of the tests: `make image` builds
it on a local Debian base (no registry) and `make image-check` runs it (deploy/image_check.py).
Here the Dockerfile is checked offline for what the README promises: the slim base by default,
non-root user, the database on the /data volume, a HEALTHCHECK on /healthz, and only files that
exist copied in.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import build_parser
from bot.config import load
from bot.shards import parse_shards
from tests.conftest import REPO_ROOT

UNIT = REPO_ROOT / "deploy" / "paperboy.service"
DOCKERFILE = REPO_ROOT / "Dockerfile"
CONTAINER_CONFIG = REPO_ROOT / "deploy" / "config.container.toml"

needs_systemd = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)


def offline_unit(tmp_path: Path) -> Path:
    """The unit with an ExecStart and EnvironmentFile that exist here, for offline checks."""
    text = UNIT.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^ExecStart=.*$", "ExecStart=/bin/true", text)
    text = re.sub(r"(?m)^EnvironmentFile=.*$", "", text)
    path = tmp_path / "paperboy.service"
    path.write_text(text, encoding="utf-8")
    return path


@needs_systemd
def test_systemd_accepts_every_line_of_the_unit(tmp_path: Path) -> None:
    result = subprocess.run(
        ["systemd-analyze", "verify", str(offline_unit(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr  # an unknown or misspelt key is only a warning


@needs_systemd
def test_the_unit_is_hardened(tmp_path: Path) -> None:
    # systemd's own exposure score, 0 (locked down) to 10; "OK" is up to 2.
    result = subprocess.run(
        [
            "systemd-analyze",
            "security",
            "--offline=yes",
            "--threshold=20",
            str(offline_unit(tmp_path)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    unit = UNIT.read_text(encoding="utf-8")
    for line in [
        "DynamicUser=yes",
        "StateDirectory=paperboy",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "KillSignal=SIGTERM",
    ]:
        assert f"\n{line}\n" in unit, line


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^\s*#.*\n", "", text).replace("\\\n", " ")
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in text.splitlines()
        if line.strip()
    ]


def test_the_image_is_slim_runs_unprivileged_and_keeps_the_database_on_a_volume() -> None:
    steps = dockerfile_instructions()
    # Every stage is built on the BASE_IMAGE argument, whose default is the official slim image
    # (`make image` passes a local Debian one).
    first_from = next(i for i, (op, _) in enumerate(steps) if op == "FROM")
    assert ("ARG", "BASE_IMAGE=python:3.11-slim") in steps[:first_from]
    bases = [args.split()[0] for op, args in steps if op == "FROM"]
    assert bases and all(b == "${BASE_IMAGE}" for b in bases), bases
    final = steps[max(i for i, (op, _) in enumerate(steps) if op == "FROM") :]
    users = [args for op, args in final if op == "USER"]
    assert users and users[-1] not in ("root", "0"), users
    assert ("VOLUME", '["/data"]') in final
    config = tomllib.loads(CONTAINER_CONFIG.read_text(encoding="utf-8"))
    assert config["database"]["path"].startswith("/data/")
    env = " ".join(a for op, a in final if op == "ENV")
    assert "PAPERBOY_CONFIG=/etc/paperboy/config.toml" in env
    # The entry point and the health check's `python` are the venv's, on either base.
    assert "PATH=/opt/paperboy/bin:$PATH" in env
    assert ("COPY", "--from=build /opt/paperboy /opt/paperboy") in final


def test_the_healthcheck_asks_healthz_on_the_configured_port() -> None:
    checks = [args for op, args in dockerfile_instructions() if op == "HEALTHCHECK"]
    assert len(checks) == 1
    assert "urllib.request.urlopen('http://127.0.0.1:8080/healthz'" in checks[0]
    listen = tomllib.loads(CONTAINER_CONFIG.read_text(encoding="utf-8"))["http"]["listen"]
    assert listen.endswith(":8080")


def test_everything_the_image_copies_exists_and_is_not_docker_ignored() -> None:
    ignored = (REPO_ROOT / ".dockerignore").read_text(encoding="utf-8")
    for op, args in dockerfile_instructions():
        if op != "COPY" or args.startswith("--from"):
            continue
        *sources, _target = args.split()
        for source in sources:
            assert (REPO_ROOT / source).exists(), source
            top = source.rstrip("/").split("/")[0]
            assert f"!{top}" in ignored, f"{top} is excluded by .dockerignore"


COMPOSE = REPO_ROOT / "compose.yaml"
COMPOSE_CONFIG = REPO_ROOT / "deploy" / "config.compose.toml"


def compose_services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = yaml.safe_load(COMPOSE.read_text("utf-8"))["services"]
    return services


def test_compose_runs_postgresql_two_shard_processes_and_two_workers() -> None:
    services = compose_services()
    assert services["postgres"]["image"].startswith("postgres:")
    assert "healthcheck" in services["postgres"]
    paperboy = {name: s for name, s in services.items() if name != "postgres"}
    roles = {name: s["command"][s["command"].index("json") + 1] for name, s in paperboy.items()}
    assert sorted(roles.values()) == ["run", "run", "worker", "worker"]
    for name, service in paperboy.items():
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy", name
        # Every command is one the real command line accepts.
        build_parser().parse_args(service["command"])


def test_compose_shards_cover_every_shard_once_and_split_the_budget() -> None:
    shard_services = [
        build_parser().parse_args(s["command"])
        for s in compose_services().values()
        if "--shards" in s.get("command", [])
    ]
    counts = {args.shard_count for args in shard_services}
    assert len(counts) == 1, "every shard process must be told the same --shard-count"
    (count,) = counts
    served = sorted(
        shard for args in shard_services for shard in parse_shards(args.shards, count).ids
    )
    assert served == list(range(count))
    assert all(args.no_poll for args in shard_services)
    config = load(COMPOSE_CONFIG)
    assert config.scale.bot_processes == len(shard_services)
    assert config.database.url.startswith("postgresql://")
    assert ":" not in config.database.url.split("//", 1)[1].split("@", 1)[0], "no password here"

"""`make image-check`: run the built container image as an operator would, against the project's
Discord stand-in, and check what the Dockerfile promises.

    python -m deploy.image_check [--image localhost/paperboy:latest]

Run it in a network namespace of its own (`make image-check` does: `unshare --net`, loopback
up), so the stand-in and the container's port 8080 sit on a loopback no other process shares:
the container runs with `--network=host`, which is that namespace, and reaches the stand-in on
127.0.0.1. (`--network ns:PATH` would do too, but podman then sets a sysctl runc refuses.)
Options podman needs on this machine come in $PODMAN (the command, e.g. `podman --runtime runc`)
and $PODMAN_RUN_OPTS (e.g. `--ulimit ...`), as the Makefile sets them.

Checks: the image's user, health check and size; `paperboy --version`; the running process's
uid (10001, not root); Paperboy connecting to the stand-in and syncing its commands;
`podman healthcheck run` (the image's HEALTHCHECK, GET /healthz); `paperboy doctor` inside the
container; the database on the /data volume; a clean stop on SIGTERM (exit status 0).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import sys
import tempfile
from pathlib import Path

from tests.bench.discord_standin import DiscordStandIn

CONTAINER_CONFIG = Path(__file__).resolve().parent / "config.container.toml"
EXPECTED_UID = "10001"
CONNECT_TIMEOUT_SECONDS = 90.0
HEALTHY_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 20
ARTICLE_TITLE = "Flood plan came too late, tenants say"
ARTICLE_PARAGRAPH = (
    "Council tenants in the valley say the flooding plan came too late for the homes on the "
    "river bank, and that the repairs promised last winter have still not begun. "
) * 6
ARTICLE = (
    f"<html><head><title>{ARTICLE_TITLE}</title></head><body><article><h1>{ARTICLE_TITLE}</h1>"
    f"<p>{ARTICLE_PARAGRAPH}</p><p>{ARTICLE_PARAGRAPH}</p></article></body></html>"
)


class Checks:
    """Counts and prints each check's outcome; the last line is 'N passed, N failed'."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def check(self, ok: bool, what: str, detail: str = "") -> bool:
        """Record one check; print it with its detail."""
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        print(f"{'ok    ' if ok else 'FAILED'} {what}" + (f": {detail}" if detail else ""))
        return ok


async def podman(*args: str, within: float = 120.0) -> tuple[int, str]:
    """Run podman with this machine's options; (exit status, stdout and stderr)."""
    command = shlex.split(os.environ.get("PODMAN", "podman")) + list(args)
    process = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), within)
    except TimeoutError:
        process.kill()
        await process.wait()
        return -1, f"timed out after {within} s: {shlex.join(command)}"
    # podman without systemd complains it cannot set up health-check timers; not our concern.
    lines = [
        line
        for line in output.decode(errors="replace").splitlines()
        if "systemd connection" not in line
    ]
    return process.returncode or 0, "\n".join(lines).strip()


def run_options() -> list[str]:
    """Options every `podman run` needs on this machine ($PODMAN_RUN_OPTS)."""
    return shlex.split(os.environ.get("PODMAN_RUN_OPTS", ""))


def write_config(workdir: Path, standin: DiscordStandIn) -> Path:
    """The image's own configuration, with Discord pointed at the stand-in."""
    path = workdir / "config.toml"
    path.write_text(
        "[bot]\n"
        f'api_base_url = "{standin.api_base_url}"\n'
        f'gateway_url = "{standin.gateway_url}"\n'
        "guild_ready_timeout_seconds = 0.05\n\n" + CONTAINER_CONFIG.read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    path.chmod(0o644)  # read by uid 10001 inside the container
    return path


async def wait_healthy(name: str) -> tuple[int, str]:
    """`podman healthcheck run` until it passes or the time is up (Paperboy starts /healthz
    while it connects)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + HEALTHY_TIMEOUT_SECONDS
    while True:
        status, output = await podman("healthcheck", "run", name, within=30)
        if status == 0 or loop.time() > deadline:
            return status, output
        await asyncio.sleep(1)  # polling an external process: no event to wait on


async def check_image(checks: Checks, image: str, workdir: Path) -> None:
    """What the image says about itself, and what it does without Discord."""
    status, output = await podman("image", "inspect", image)
    if not checks.check(status == 0, f"image {image} exists", "" if status == 0 else output):
        return
    config = json.loads(output)[0]
    user = config["Config"].get("User", "")
    checks.check(user not in ("", "root", "0"), "the image's USER is not root", user)
    # podman puts it at the top level, docker under Config.
    health = (config.get("Healthcheck") or config["Config"].get("Healthcheck") or {}).get(
        "Test", []
    )
    checks.check("/healthz" in " ".join(health), "the image has a HEALTHCHECK on /healthz")
    print(f"       image size: {config['Size'] / 1e6:.0f} MB")
    status, output = await podman("run", "--rm", *run_options(), image, "--version")
    checks.check(status == 0, "paperboy --version", output.splitlines()[-1] if output else "")
    status, output = await podman("run", "--rm", *run_options(), "--entrypoint", "id", image, "-u")
    checks.check(output == EXPECTED_UID, f"commands run as uid {EXPECTED_UID}", output)
    await check_extract(checks, image, workdir)
    await check_health_fails_when_silent(checks, image)


async def check_extract(checks: Checks, image: str, workdir: Path) -> None:
    """`paperboy extract` on a page, offline: every library extraction imports is installed (a
    pip that dropped an extra once left lxml_html_clean out, and extraction crashed)."""
    article = workdir / "article.html"
    article.write_text(ARTICLE, encoding="utf-8")
    article.chmod(0o644)
    status, output = await podman(
        "run",
        "--rm",
        *run_options(),
        "--network=none",
        "--volume",
        f"{article}:/srv/article.html:ro",
        image,
        "extract",
        "--json",
        "/srv/article.html",
    )
    try:
        title = json.loads(output.splitlines()[-1])["title"] if status == 0 else ""
    except (ValueError, IndexError, KeyError):
        title = ""
    checks.check(title == ARTICLE_TITLE, "paperboy extract (offline)", title or output[-300:])


async def check_health_fails_when_silent(checks: Checks, image: str) -> None:
    """The HEALTHCHECK reports unhealthy when nothing answers /healthz (a process that sleeps
    instead of Paperboy), so its pass below means something."""
    name = f"paperboy-image-check-silent-{os.getpid()}"
    status, output = await podman(
        "run",
        "--detach",
        "--name",
        name,
        *run_options(),
        "--network=none",
        "--health-interval=disable",
        "--entrypoint",
        "python",
        image,
        "-c",
        "import time; time.sleep(120)",
    )
    try:
        if status == 0:
            status, output = await podman("healthcheck", "run", name, within=30)
        checks.check(
            status not in (0, -1) and "unhealthy" in output,
            "podman healthcheck run fails when nothing answers /healthz",
            output.splitlines()[-1] if output else f"exit status {status}",
        )
    finally:
        await podman("rm", "--force", "--volumes", "--time", "0", name)


async def check_running(checks: Checks, image: str, workdir: Path) -> None:
    """Paperboy started as the image's default command, against the stand-in."""
    async with DiscordStandIn() as standin:
        guild = standin.add_guild("Image check")
        standin.add_channel(guild.id, "news")
        config = write_config(workdir, standin)
        name = f"paperboy-image-check-{os.getpid()}"
        status, output = await podman(
            "run",
            "--detach",
            "--name",
            name,
            *run_options(),
            # The "host" network is this process's own namespace (see the top of this file):
            # podman adds no namespace of its own, so the container inherits the one it runs in.
            "--network=host",
            "--health-interval=disable",  # no systemd timers here: checked by hand below
            "--env",
            f"DISCORD_TOKEN={standin.token}",
            "--volume",
            f"{config}:/etc/paperboy/config.toml:ro",
            image,
        )
        if not checks.check(status == 0, "the container starts (default command)", output[-300:]):
            return
        try:
            await check_container(checks, standin, name)
        finally:
            status, logs = await podman("logs", "--tail", "15", name)
            print(
                "       last log lines:\n" + "\n".join(f"         {x}" for x in logs.splitlines())
            )
            await podman("rm", "--force", "--volumes", name)


async def check_container(checks: Checks, standin: DiscordStandIn, name: str) -> None:
    """The running container: connected, healthy, unprivileged, its data on /data, stops clean."""
    try:
        await standin.wait_until(
            lambda: standin.gateway.connected and standin.synced_commands(),
            CONNECT_TIMEOUT_SECONDS,
            "Paperboy to connect and sync its commands",
        )
        connected = True
    except (TimeoutError, AssertionError):
        connected = False
    synced = len(standin.synced_commands())
    checks.check(connected, "Paperboy connects to the stand-in", f"{synced} commands synced")
    status, output = await wait_healthy(name)
    checks.check(status == 0, "podman healthcheck run (GET /healthz)", output or "healthy")
    status, output = await podman(
        "exec", name, "python", "-c", "print(open('/proc/1/status').read())"
    )
    uid_line = next((x for x in output.splitlines() if x.startswith("Uid:")), output)
    checks.check(
        uid_line.split()[1:2] == [EXPECTED_UID],
        f"the main process runs as uid {EXPECTED_UID}",
        " ".join(uid_line.split()),
    )
    status, output = await podman("exec", name, "paperboy", "doctor")
    print("       paperboy doctor:\n" + "\n".join(f"         {x}" for x in output.splitlines()))
    checks.check(status == 0, "paperboy doctor inside the container", f"exit status {status}")
    status, output = await podman("exec", name, "ls", "-ln", "/data")
    owned = [x for x in output.splitlines() if x.endswith("paperboy.db")]
    checks.check(
        bool(owned) and owned[0].split()[2] == EXPECTED_UID,
        "the database is on the /data volume, owned by the container's user",
        owned[0] if owned else output,
    )
    status, output = await podman(
        "stop", "--time", str(STOP_TIMEOUT_SECONDS), name, within=STOP_TIMEOUT_SECONDS + 30
    )
    status, code = await podman("inspect", name, "--format", "{{.State.ExitCode}}")
    checks.check(code == "0", "podman stop (SIGTERM): a clean stop", f"exit status {code}")


async def run_checks(image: str, workdir: Path) -> Checks:
    """Every check, in order; the running ones only if the image passed its own."""
    checks = Checks()
    await check_image(checks, image, workdir)
    if checks.failed == 0:
        await check_running(checks, image, workdir)
    return checks


def main() -> int:
    """Run every check; exit 1 if any failed."""
    parser = argparse.ArgumentParser(prog="python -m deploy.image_check", description=__doc__)
    parser.add_argument("--image", default="localhost/paperboy:latest")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="paperboy-image-check-") as workdir:
        Path(workdir).chmod(0o755)  # the container's user reads the config mounted from here
        checks = asyncio.run(run_checks(args.image, Path(workdir)))
    print(f"{checks.passed} passed, {checks.failed} failed")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())

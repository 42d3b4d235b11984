"""`make demo`: the Discord stand-in, the demo news site and the real bot, wired together.

The stand-ins and the web page live in this process; Paperboy runs as its own `paperboy run`
process (`python -m bot`), configured to talk to the stand-in instead of Discord, exactly as an
operator would run it. A script then acts as a moderator and a member, and the site publishes
a new article every few seconds so the page shows announcements arriving live.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from demo.view import DemoState, ScriptedCommand, make_app, render_view
from tests.bench.discord_standin import DiscordStandIn, InteractionHandle
from tests.bench.discord_standin.state import FORUM, NEWS, Perm
from tests.bench.news_site import NewsSite

log = logging.getLogger("demo")

INITIALLY_PUBLISHED = 10
"""Sample articles already on the site when the demo starts (the other 20 appear live)."""
FORUM_TAGS = ("Housing", "Trade Unions", "Climate", "Health", "Transport", "International")
READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0
SEARCH_QUERY = "rent"
BACKLOG = 3
"""The newest articles announced when a channel subscribes (`[announcements] backlog_count`)."""


class World:
    """Ids of the demo server: a community around the demo publication."""

    def __init__(self, standin: DiscordStandIn) -> None:
        guild = standin.add_guild("The Weekly Worker community")
        moderators = standin.add_role(guild.id, "Moderators", Perm.MANAGE_GUILD)
        self.guild_id = guild.id
        self.news_id = standin.add_channel(
            guild.id, "news", type=NEWS, topic="Every new article, announced by Paperboy"
        ).id
        self.forum_id = standin.add_channel(
            guild.id,
            "articles",
            type=FORUM,
            tags=FORUM_TAGS,
            topic="One post per article, to discuss it",
        ).id
        self.general_id = standin.add_channel(
            guild.id, "general", topic="Members ask Paperboy for summaries, related pieces, search"
        ).id
        self.moderators_id = standin.add_channel(
            guild.id, "moderators", topic="Where the moderators set Paperboy up"
        ).id
        self.moderator_id = standin.add_member(guild.id, "Mod Rosa", roles=[moderators.id]).user.id
        self.member_id = standin.add_member(guild.id, "Sam Reader").user.id


def write_config(workdir: Path, standin: DiscordStandIn) -> Path:
    """Paperboy's config for the demo: the stand-in as Discord, the local site allowed."""
    path = workdir / "config.toml"
    path.write_text(
        "# Written by the demo: Paperboy talks to the local Discord stand-in.\n"
        "[bot]\n"
        f'api_base_url = "{standin.api_base_url}"\n'
        f'gateway_url = "{standin.gateway_url}"\n'
        "guild_ready_timeout_seconds = 0.05\n"
        "reidentify_delay_seconds = 0\n"
        f"[database]\npath = {str(workdir / 'paperboy.db')!r}\n"
        "[fetch]\nallow_private_addresses = true  # the demo site is on 127.0.0.1\n"
        "[feeds]\nmin_interval_seconds = 1\ndefault_interval_seconds = 2\n"
        f"[announcements]\nbacklog_count = {BACKLOG}\nmax_age_days = 0\n"
        "per_channel_interval_seconds = 0\n",
        encoding="utf-8",
    )
    return path


async def start_bot(workdir: Path, config_path: Path, token: str) -> asyncio.subprocess.Process:
    """`python -m bot run` as a child in its own session: Ctrl-C reaches the demo, which stops
    the bot itself while the stand-in is still up, so the bot closes cleanly."""
    env = {k: v for k, v in os.environ.items() if k != "PAPERBOY_CONFIG"}
    env["DISCORD_TOKEN"] = token
    with (workdir / "paperboy.log").open("wb") as log_file:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "--config",
            str(config_path),
            "run",
            cwd=workdir,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            start_new_session=True,
        )


async def stop_bot(bot: asyncio.subprocess.Process) -> None:
    """SIGTERM (Paperboy's clean stop), then SIGKILL if it does not exit in time."""
    if bot.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            bot.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(bot.wait(), STOP_TIMEOUT_SECONDS)
        except TimeoutError:
            log.warning("Paperboy did not stop within %s s; killing it", STOP_TIMEOUT_SECONDS)
            with contextlib.suppress(ProcessLookupError):
                bot.kill()
            await bot.wait()


class Script:
    """What the people on the demo server do, and the site publishing new articles."""

    def __init__(
        self,
        standin: DiscordStandIn,
        site: NewsSite,
        world: World,
        state: DemoState,
        publish_every: float,
    ) -> None:
        self.standin = standin
        self.site = site
        self.world = world
        self.state = state
        self.publish_every = publish_every

    async def run(self) -> None:
        """Wait for the bot, run the scripted commands, then publish articles until stopped."""
        self.state.status = "Waiting for Paperboy to connect…"
        await self.standin.wait_until(
            lambda: self.standin.gateway.connected and self.standin.synced_commands(),
            READY_TIMEOUT_SECONDS,
            "Paperboy to connect and sync its commands",
        )
        self.state.status = "Paperboy is online. Mod Rosa is adding the site's feed…"
        home = self.site.home_url
        await self.command(
            "Mod Rosa",
            self.world.moderator_id,
            self.world.moderators_id,
            "feeds add",
            {"url": home, "channel": self.world.news_id},
        )
        await self.command(
            "Mod Rosa",
            self.world.moderator_id,
            self.world.moderators_id,
            "feeds add",
            {"url": home, "channel": self.world.forum_id, "format": "forum"},
        )
        self.state.status = "Paperboy is announcing the newest articles…"
        await self.wait_for_announcements()
        newest = self.site.items[0]  # newest first: the last one announced in #news
        article = self.site.article_url(newest)
        member, general = self.world.member_id, self.world.general_id
        await self.command("Sam Reader", member, general, "summary", {"article": article})
        await self.command("Sam Reader", member, general, "related", {"article": article})
        await self.command("Sam Reader", member, general, "search", {"query": SEARCH_QUERY})
        await self.publish_forever()

    async def command(
        self, user: str, user_id: int, channel_id: int, name: str, options: dict[str, Any]
    ) -> InteractionHandle:
        """A person runs a slash command; wait (bounded) for the bot's visible answer."""
        handle = await self.standin.invoke(
            self.world.guild_id, user_id, name, options, channel_id=channel_id
        )
        self.state.commands.append(ScriptedCommand(user, f"/{name}", handle))
        try:
            await handle.reply(timeout=30.0)
        except AssertionError as error:  # the page shows "thinking…"; the log says why
            log.warning("/%s got no answer: %s", name, error)
        return handle

    async def wait_for_announcements(self) -> None:
        """Until the first announcements are in #news (bounded); by then the feed's items are
        in the archive that /related and /search answer from."""
        try:
            await self.standin.wait_until(
                lambda: len(self.standin.messages_in(self.world.news_id)) >= BACKLOG,
                30.0,
                "the first announcements",
            )
        except AssertionError as error:
            log.warning("%s; carrying on", error)

    async def publish_forever(self) -> None:
        """The site publishes the next sample article every `publish_every` seconds."""
        while self.site.unpublished:
            for remaining in range(int(self.publish_every), 0, -1):
                self.state.status = (
                    f"Live: the demo site publishes its next article in {remaining} s "
                    f"({len(self.site.unpublished)} to come)."
                )
                await asyncio.sleep(min(1.0, self.publish_every))
            item = self.site.publish_next(at=datetime.now(UTC))
            log.info("Published %r", item.title)
        self.state.status = "The demo site has published all its articles. Ctrl-C to stop."
        await asyncio.Event().wait()  # the page stays up until the demo is stopped


def prepare_workdir(workdir: Path) -> None:
    """Empty the work directory (a fresh database each run) and log the demo's events there."""
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    logging.basicConfig(
        filename=workdir / "demo.log",
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


async def run_demo(port: int, publish_every: float, workdir: Path) -> int:
    """Run until SIGINT or SIGTERM; 0 after a clean stop, 1 if something failed, 2 if the port
    is taken.

    `workdir` must exist (see `prepare_workdir`)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    status = 0
    async with (
        DiscordStandIn(bot_name="Paperboy") as standin,
        NewsSite(initially_published=INITIALLY_PUBLISHED) as site,
    ):
        world = World(standin)
        state = DemoState(world.guild_id, world.news_id)
        runner = web.AppRunner(make_app(lambda: render_view(state, standin)), access_log=None)
        await runner.setup()
        web_site = web.TCPSite(runner, "127.0.0.1", port)
        try:
            await web_site.start()
        except OSError as error:
            await runner.cleanup()
            print(
                f"Cannot serve the page on 127.0.0.1:{port} ({error.strerror}); "
                "choose another PORT=, or leave it unset for a free one.",
                file=sys.stderr,
            )
            return 2
        bound = runner.addresses[0][1]
        bot = await start_bot(workdir, write_config(workdir, standin), standin.token)
        script = asyncio.create_task(
            Script(standin, site, world, state, publish_every).run(), name="demo-script"
        )
        try:
            print(f"Open http://127.0.0.1:{bound}/", flush=True)
            stopped = asyncio.create_task(stop.wait())
            exited = asyncio.create_task(bot.wait())
            await asyncio.wait({stopped, exited, script}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            exited.cancel()
            if not stop.is_set():
                status = 1
                if bot.returncode is not None:
                    print(
                        f"Paperboy stopped (exit status {bot.returncode}); "
                        f"see {workdir / 'paperboy.log'}",
                        file=sys.stderr,
                    )
                else:
                    print(f"The demo failed: {script.exception()}", file=sys.stderr)
        finally:
            script.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await script
            await stop_bot(bot)
            await runner.cleanup()
    log.info("Stopped")
    return status

"""The operator endpoint: /healthz, /metrics and a read-only status page, off by default;
with `[websub] public_url` set, also the WebSub callbacks under /websub/ that hubs call.

Started inside the bot process when `[http] listen` is set. Discord-free: whether the gateway is
connected is told to `Health` by the Discord layer (`cogs/client.py`) on ready and disconnect.
The status page shows no secrets: no token, no webhook URL or token, no configuration, and feed
addresses without their query string or user name (private feeds often carry a key there).
"""

from __future__ import annotations

import asyncio
import html
import ipaddress
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from aiohttp import web

from bot.clock import Clock
from bot.config import HttpConfig
from bot.errors import ConfigError
from bot.ingest.subscriber import WebSubSubscriber
from bot.metrics import CONTENT_TYPE, Metrics
from bot.storage import Storage

log = logging.getLogger(__name__)

PUBLIC_REFUSAL = (
    "[http] listen = {listen!r} is not a loopback address. The operator endpoint has no "
    "authentication: keep it on 127.0.0.1 and put a reverse proxy with authentication in front, "
    "or set [http] allow_public = true if a firewall already guards it."
)


def parse_listen(config: HttpConfig) -> tuple[str, int] | None:
    """(host, port) from `[http] listen`, None when off; refuses a public address unless allowed."""
    listen = config.listen.strip()
    if not listen:
        return None
    host, sep, port_text = listen.rpartition(":")
    if not sep or not port_text.isdigit() or not host or int(port_text) > 65535:
        raise ConfigError(
            f"[http] listen = {listen!r}: expected host:port, such as '127.0.0.1:8080'"
        )
    host = host.removeprefix("[").removesuffix("]")
    if not config.allow_public and not is_loopback(host):
        raise ConfigError(PUBLIC_REFUSAL.format(listen=listen))
    return host, int(port_text)


def is_loopback(host: str) -> bool:
    """Whether `host` is a loopback address (or the name localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # any other name may resolve anywhere


class Health:
    """What /healthz needs to know that the core cannot see: the Discord connection."""

    def __init__(self) -> None:
        self.gateway_connected = False
        self.gateway_changed_at: datetime | None = None
        self.expects_gateway = True
        """False in `paperboy worker`, which never connects to Discord."""
        self.polls: Callable[[], bool] = lambda: True
        """Whether this process should be polling now (False without the poll lease, or in a
        shard process started with --no-poll): only then is a stale polling round a problem."""

    def gateway_up(self, now: datetime) -> None:
        """The Discord layer is connected (ready or resumed)."""
        self.gateway_connected = True
        self.gateway_changed_at = now

    def gateway_down(self, now: datetime) -> None:
        """The Discord layer lost its gateway connection."""
        self.gateway_connected = False
        self.gateway_changed_at = now


def health_problems(
    *,
    now: datetime,
    gateway_connected: bool,
    last_poll_round: datetime | None,
    started_at: datetime,
    stale_after: timedelta,
    write_problem: str | None,
) -> list[str]:
    """Why the bot is unhealthy, in words; empty when healthy."""
    problems = []
    if not gateway_connected:
        problems.append("not connected to the Discord gateway")
    since = last_poll_round or started_at
    if now - since > stale_after:
        age = int((now - since).total_seconds())
        problems.append(f"no polling round finished for {age} s")
    if write_problem:
        problems.append(write_problem)
    return problems


_QUERY = re.compile(r"(https?://[^\s?#]+)[?#][^\s]*", re.IGNORECASE)


def public_url(url: str) -> str:
    """`url` without user name, password, query or fragment (private feeds keep keys there)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(unreadable address)"
    hidden = "?…" if parts.query else ""
    return f"{parts.scheme}://{host}{port}{parts.path}{hidden}"


def hide_queries(text: str) -> str:
    """Free text (an error message) with the query strings of any addresses in it hidden."""
    return _QUERY.sub(lambda m: m.group(1) + "?…", text)


@dataclass
class OpsServer:
    """The aiohttp application serving /healthz, /metrics and /."""

    storage: Storage
    metrics: Metrics
    health: Health
    clock: Clock
    last_poll_round: Callable[[], datetime | None]
    stale_after: timedelta
    started_at: datetime
    websub: WebSubSubscriber | None = None
    _runner: web.AppRunner | None = None
    port: int = 0

    def application(self) -> web.Application:
        """The routes: read-only GETs, plus the WebSub callbacks when push is on."""
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics_page)
        app.router.add_get("/", self.status_page)
        if self.websub is not None:
            app.router.add_get("/websub/{callback_id}", self.websub_verify)
            app.router.add_post("/websub/{callback_id}", self.websub_push)
        return app

    async def websub_verify(self, request: web.Request) -> web.Response:
        """A hub verifies our (un)subscription: echo its challenge, or 404."""
        assert self.websub is not None
        answer = await self.websub.verify(request.match_info["callback_id"], request.query)
        if answer.status != 200:
            return web.Response(status=answer.status, text="unknown subscription\n")
        return web.Response(text=answer.challenge or "ok")

    async def websub_push(self, request: web.Request) -> web.Response:
        """A hub pushes new content: at most the feed size cap, accepted only if signed."""
        assert self.websub is not None
        cap = self.websub.max_body_bytes
        declared = request.content_length
        if declared is not None and declared > cap:
            answer = self.websub.refuse_too_large()
            return web.Response(status=answer.status, text=answer.text + "\n")
        body = bytearray()
        try:
            # A sender trickling its body cannot hold a connection open for long.
            async with asyncio.timeout(self.websub.read_timeout_seconds):
                while chunk := await request.content.read(64 * 1024):
                    body += chunk
                    if len(body) > cap:
                        answer = self.websub.refuse_too_large()
                        return web.Response(status=answer.status, text=answer.text + "\n")
        except TimeoutError:
            return web.Response(status=408, text="too slow\n")
        headers = {name.lower(): value for name, value in request.headers.items()}
        answer = await self.websub.push(request.match_info["callback_id"], bytes(body), headers)
        return web.Response(status=answer.status, text=answer.text + "\n")

    async def start(self, host: str, port: int) -> None:
        """Listen on host:port (port 0 picks a free one, then `self.port` tells which)."""
        self._runner = web.AppRunner(self.application(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        try:
            await site.start()
        except OSError as error:
            await self._runner.cleanup()
            self._runner = None
            raise ConfigError(f"[http] listen: cannot listen on {host}:{port} ({error})") from None
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port
        log.info("Operator endpoint on http://%s:%d/ (/healthz, /metrics)", host, self.port)

    async def close(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def problems(self) -> list[str]:
        """The current health problems (empty: healthy)."""
        now = self.clock.now()
        return health_problems(
            now=now,
            gateway_connected=self.health.gateway_connected or not self.health.expects_gateway,
            last_poll_round=self.last_poll_round() if self.health.polls() else now,
            started_at=self.started_at,
            stale_after=self.stale_after,
            write_problem=await self.storage.write_problem(),
        )

    async def healthz(self, request: web.Request) -> web.Response:
        """200 "ok", or 503 with one reason per line."""
        problems = await self.problems()
        if problems:
            return web.Response(status=503, text="\n".join(problems) + "\n")
        return web.Response(text="ok\n")

    async def metrics_page(self, request: web.Request) -> web.Response:
        """Prometheus text format."""
        await self.metrics.refresh()
        return web.Response(body=self.metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    async def status_page(self, request: web.Request) -> web.Response:
        """Feeds with health and next check, open and failed posts, recent deliveries."""
        problems = await self.problems()
        feeds = await self.storage.feed_health()
        recent = await self.storage.recent_deliveries(20)
        e = html.escape
        rows = []
        for item in feeds:
            feed = item.feed
            if feed.consecutive_failures:
                state = f"failing ×{feed.consecutive_failures}: {feed.last_error_kind or '?'}"
                detail = hide_queries(feed.last_error_message or "")
            else:
                state, detail = "ok", ""
            rows.append(
                "<tr>"
                f"<td>{feed.id}</td><td>{e(feed.title or '')}<br><small>"
                f"{e(public_url(feed.url))}</small></td>"
                f"<td>{e(state)}<br><small>{e(detail)}</small></td>"
                f"<td>{e(_when(feed.last_success_at))}</td><td>{e(_when(feed.next_check_at))}</td>"
                f"<td>{item.subscriptions}</td><td>{item.pending}</td><td>{item.failed}</td>"
                "</tr>"
            )
        deliveries = [
            "<tr>"
            f"<td>{e(_when(d.when))}</td><td>{d.feed_id}</td><td>{d.channel_id}</td>"
            f"<td>{e(d.state)}</td><td>{e(d.title)}</td><td>{e(hide_queries(d.reason))}</td>"
            "</tr>"
            for d in recent
        ]
        health = "healthy" if not problems else "unhealthy: " + "; ".join(problems)
        body = _PAGE.format(
            health=e(health),
            now=e(_when(self.clock.now())),
            feeds="\n".join(rows) or '<tr><td colspan="8">no feeds</td></tr>',
            deliveries="\n".join(deliveries) or '<tr><td colspan="6">none yet</td></tr>',
            websub=await self._websub_section(),
        )
        return web.Response(
            text=body,
            content_type="text/html",
            headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"},
        )

    async def _websub_section(self) -> str:
        """WebSub push per feed: hub, state, lease end, pushes (no callback ids, no secrets)."""
        if self.websub is None:
            return ""
        e = html.escape
        rows = []
        for sub in await self.storage.websub_subscriptions():
            hub = public_url(sub.hub_url) if sub.hub_url else "none"
            state = sub.state + (f" ({sub.pending_mode} pending)" if sub.pending_mode else "")
            rows.append(
                "<tr>"
                f"<td>{sub.feed_id}</td><td>{e(hub)}</td>"
                f"<td>{e(state)}<br><small>{e(hide_queries(sub.last_error or ''))}</small></td>"
                f"<td>{e(_when(sub.lease_expires_at))}</td><td>{sub.pushes}</td>"
                f"<td>{e(_when(sub.last_push_at))}</td>"
                "</tr>"
            )
        table = "\n".join(rows) or '<tr><td colspan="6">no feed advertises a hub</td></tr>'
        return (
            "<h2>WebSub push</h2>\n<table><tr><th>feed</th><th>hub</th><th>state</th>"
            f"<th>lease ends</th><th>pushes</th><th>last push</th></tr>\n{table}\n</table>"
        )


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "never"


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Paperboy status</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}}</style>
</head><body>
<h1>Paperboy status</h1>
<p>{health} · {now}</p>
<p><small>Read-only. Feed addresses are shown without query strings or user names; no tokens,
webhooks or configuration are shown.</small></p>
<h2>Feeds</h2>
<table><tr><th>id</th><th>feed</th><th>health</th><th>last success</th><th>next check</th>
<th>subscriptions</th><th>pending posts</th><th>failed posts</th></tr>
{feeds}
</table>
<h2>Recent deliveries</h2>
<table><tr><th>when</th><th>feed</th><th>channel</th><th>state</th><th>article</th><th>reason</th></tr>
{deliveries}
</table>
{websub}
</body></html>
"""

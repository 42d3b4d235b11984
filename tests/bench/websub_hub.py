"""A local WebSub hub for tests and benchmarks (W3C WebSub, sections 5-7).

Usage::

    async with WebSubHub() as hub:
        site.hub_url = hub.url                       # the news site advertises it
        sub = await hub.wait_for_subscriber(site.feed_url)   # Paperboy subscribed, verified
        site.publish_next()
        await hub.publish(site.feed_url)             # fetch the topic, POST it signed to each

It accepts `hub.mode=subscribe|unsubscribe` requests (202), then verifies the callback with a
GET carrying `hub.challenge` and keeps the subscription only if the challenge comes back
exactly. Publishing fetches the topic and POSTs it to every subscriber with
`X-Hub-Signature-256: sha256=<hmac>`; `deliver()` sends any body with any headers (forgeries).
Controls: `fail_requests` (answer subscription requests with an error status), `grant_lease`
(the lease it states), `verify` off (accept and never verify), `verify_before_answer`, `deny()`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import secrets
from dataclasses import dataclass, field
from types import TracebackType

import aiohttp
from aiohttp import web


@dataclass
class HubSubscription:
    """A verified subscription: who to push a topic to, and the key to sign with."""

    topic: str
    callback: str
    secret: str
    lease_seconds: int


@dataclass
class HubRequest:
    """A subscription request as it arrived (form fields), and how verification went."""

    form: dict[str, str]
    verified: bool | None = None


@dataclass
class Delivery:
    """One push: to which callback, and the subscriber's HTTP status."""

    callback: str
    status: int


@dataclass
class WebSubHub:
    """The stand-in hub: an aiohttp server on 127.0.0.1 with an ephemeral port."""

    grant_lease: int | None = None
    """The lease stated in verifications; None grants what the subscriber asked for."""
    fail_requests: int | None = None
    """Answer subscription requests with this status (e.g. 500) instead of accepting them."""
    verify: bool = True
    """False: accept requests but never verify them (a hub that went quiet)."""
    verify_before_answer: bool = False
    """True: verify the callback before answering the request (as many hubs do), not after."""
    subscriptions: dict[tuple[str, str], HubSubscription] = field(default_factory=dict)
    requests: list[HubRequest] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _session: aiohttp.ClientSession | None = None
    _url: str = ""
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def __aenter__(self) -> WebSubHub:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Listen on 127.0.0.1 (ephemeral port)."""
        app = web.Application()
        app.router.add_post("/", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/"
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20))

    async def close(self) -> None:
        """Stop verifying and serving."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        """The hub's address, as publishers advertise it."""
        return self._url

    # -- what the subscriber sees ----------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        form = {key: str(value) for key, value in (await request.post()).items()}
        mode = form.get("hub.mode", "")
        if mode == "publish":  # the common publisher ping: hub.mode=publish&hub.url=<topic>
            self._spawn(self._publish_quietly(form.get("hub.url", "")))
            return web.Response(status=204)
        record = HubRequest(form)
        self.requests.append(record)
        await self._notify()
        if mode not in ("subscribe", "unsubscribe") or not form.get("hub.callback"):
            return web.Response(status=400, text="hub.mode and hub.callback are required")
        if not form.get("hub.topic"):
            return web.Response(status=400, text="hub.topic is required")
        if self.fail_requests is not None:
            return web.Response(status=self.fail_requests, text="the hub is having a bad day")
        if self.verify and self.verify_before_answer:
            await self._verify(record)
        elif self.verify:
            self._spawn(self._verify(record))
        return web.Response(status=202)

    async def _verify(self, record: HubRequest) -> None:
        """Verification of intent: GET the callback with a challenge; keep it if echoed."""
        assert self._session is not None
        form = record.form
        mode, topic, callback = form["hub.mode"], form["hub.topic"], form["hub.callback"]
        challenge = secrets.token_urlsafe(16)
        lease = self.grant_lease or int(form.get("hub.lease_seconds") or 864000)
        params = {"hub.mode": mode, "hub.topic": topic, "hub.challenge": challenge}
        if mode == "subscribe":
            params["hub.lease_seconds"] = str(lease)
        async with self._session.get(callback, params=params) as response:
            answer = await response.text()
            verified = response.status == 200 and answer == challenge
        if verified:
            if mode == "subscribe":
                self.subscriptions[(topic, callback)] = HubSubscription(
                    topic, callback, form.get("hub.secret", ""), lease
                )
            else:
                self.subscriptions.pop((topic, callback), None)
        record.verified = verified  # last, so a waiter sees the subscriptions already updated
        await self._notify()

    async def deny(self, topic: str, callback: str, reason: str = "not allowed") -> int:
        """Tell a subscriber its subscription was refused (`hub.mode=denied`)."""
        assert self._session is not None
        self.subscriptions.pop((topic, callback), None)
        params = {"hub.mode": "denied", "hub.topic": topic, "hub.reason": reason}
        async with self._session.get(callback, params=params) as response:
            return response.status

    # -- publishing ------------------------------------------------------------------------

    async def publish(self, topic: str) -> list[Delivery]:
        """Fetch the topic and push it, signed, to every subscriber of it."""
        assert self._session is not None
        async with self._session.get(topic) as response:
            body = await response.read()
            content_type = response.headers.get("Content-Type", "application/rss+xml")
        sent = []
        for sub in [s for s in self.subscriptions.values() if s.topic == topic]:
            signature = hmac.new(sub.secret.encode(), body, hashlib.sha256).hexdigest()
            headers = {
                "Content-Type": content_type,
                "X-Hub-Signature-256": f"sha256={signature}",
                "Link": f'<{self._url}>; rel="hub", <{topic}>; rel="self"',
            }
            sent.append(await self.deliver(sub.callback, body, headers))
        return sent

    async def deliver(self, callback: str, body: bytes, headers: dict[str, str]) -> Delivery:
        """POST any body with any headers to a callback (forged and unsigned pushes too)."""
        assert self._session is not None
        # A large body goes as a stream (aiohttp warns about big raw bytes), so without a length.
        data: bytes | io.BytesIO = io.BytesIO(body) if len(body) > 1024 * 1024 else body
        async with self._session.post(callback, data=data, headers=headers) as response:
            await response.read()
            delivery = Delivery(callback, response.status)
        self.deliveries.append(delivery)
        return delivery

    async def _publish_quietly(self, topic: str) -> None:
        if topic:
            await self.publish(topic)

    # -- waiting ---------------------------------------------------------------------------

    async def wait_for_subscriber(self, topic: str, timeout: float = 20.0) -> HubSubscription:
        """The verified subscription to `topic` (waits until there is one)."""

        def found() -> HubSubscription | None:
            return next((s for s in self.subscriptions.values() if s.topic == topic), None)

        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: found() is not None)
        result = found()
        assert result is not None
        return result

    async def wait_for_requests(self, count: int, timeout: float = 20.0) -> list[HubRequest]:
        """Wait until `count` subscription requests arrived and were settled (verified or not)."""

        def settled() -> bool:
            quiet = not self.verify or self.fail_requests is not None  # nothing to settle
            done = [r for r in self.requests if r.verified is not None or quiet]
            return len(done) >= count

        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(settled)
        return list(self.requests)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _spawn(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def sign(secret: str, body: bytes, algorithm: str = "sha256") -> str:
    """`<algorithm>=<hex hmac>` of `body`, as a hub signs a push."""
    return f"{algorithm}={hmac.new(secret.encode(), body, algorithm).hexdigest()}"

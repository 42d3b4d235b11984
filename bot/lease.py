"""Leases: only one process at a time does a piece of work (archiving and WebSub renewals).

Polling itself is shared by per-feed claims (`Storage.claim_due_feeds`), in the name of the
process's holder name (`make_holder`).

The holder renews its lease well before it expires; a process that finds the lease held waits and
tries again, and takes it once it has expired: a killed holder's work resumes elsewhere within the
expiry. On one machine a holder that is known dead (its process id is gone) is taken over at once,
so a restart after a crash does not wait the expiry out. A holder that could not renew in time
(a stalled machine) stops its work before anyone else may start it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any

from bot.clock import Clock
from bot.storage import Lease, Storage

log = logging.getLogger(__name__)

POLL_LEASE = "poller"
"""The lease a process holds while it archives pages and renews WebSub subscriptions (its name
predates per-feed claims, when the holder also was the one process that polled)."""
LEASED_WORK = {POLL_LEASE: "archiving pages and renewing WebSub subscriptions"}
"""What each lease's holder does, for the logs: the name alone misleads since polling is shared."""
RENEWALS_PER_EXPIRY = 3
"""The holder renews three times per expiry, so a slow renewal still lands before it runs out."""


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


def make_holder(host: str | None = None, pid: int | None = None) -> str:
    """A holder name unique to this process and start: `host/pid/nonce`."""
    host = host if host is not None else socket.gethostname()
    pid = pid if pid is not None else os.getpid()
    return f"{host}/{pid}/{secrets.token_hex(4)}"


def may_take(
    current: Lease,
    me: str,
    now: datetime,
    *,
    alive: Callable[[int], bool] = process_alive,
) -> bool:
    """Whether `me` may take `current`: it is ours, it expired, or its holder is a process on
    this machine that no longer runs (or an earlier life of our own process id)."""
    if current.holder == me or current.expires_at <= now:
        return True
    return holder_gone(current.holder, me, alive=alive)


def holder_gone(holder: str, me: str, *, alive: Callable[[int], bool] = process_alive) -> bool:
    """Whether `holder` is a process on this machine that no longer runs, or an earlier life of
    our own process id (its leases and claims can be taken at once, without their expiry)."""
    host, _, rest = holder.partition("/")
    my_host, _, my_rest = me.partition("/")
    pid_text = rest.partition("/")[0]
    if host != my_host or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    return pid == int(my_rest.partition("/")[0]) or not alive(pid)


class LeaseKeeper:
    """Takes and keeps one lease, running `work` only while it is held."""

    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        *,
        name: str = POLL_LEASE,
        seconds: float,
        holder: str | None = None,
        alive: Callable[[int], bool] = process_alive,
    ) -> None:
        if seconds <= 0:
            raise ValueError("a lease needs a positive expiry")
        self.storage = storage
        self.clock = clock
        self.name = name
        self._work = LEASED_WORK.get(name, f"{name} work")
        self.seconds = seconds
        self.holder = holder or make_holder()
        self._alive = alive
        self.held = asyncio.Event()
        """Set while this process holds the lease (tests and logs wait on it)."""

    async def try_take(self) -> bool:
        """Take or renew the lease now; True if held until `now + seconds`."""
        now = self.clock.now()
        taken = await self.storage.take_lease(
            self.name,
            self.holder,
            expires_at=now + timedelta(seconds=self.seconds),
            may_take=lambda current: may_take(current, self.holder, now, alive=self._alive),
        )
        if taken:
            self.held.set()
        else:
            self.held.clear()
        return taken

    async def release(self) -> None:
        """Give the lease up so another process takes it at once."""
        self.held.clear()
        await self.storage.release_lease(self.name, self.holder, now=self.clock.now())

    async def run(self, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Wait for the lease, run `work` while it is held, renew it; if it is lost, stop the work
        and wait again. Releases the lease when cancelled; runs until cancelled."""
        pause = self.seconds / RENEWALS_PER_EXPIRY
        waiting_logged = False
        try:
            while True:
                if not await self._take_logged():
                    if not waiting_logged:
                        current = await self.storage.lease(self.name)
                        log.info(
                            "Another process holds the %s lease (%s), so it does the %s; this "
                            "one takes over if that process stops",
                            self.name,
                            current.holder if current else "?",
                            self._work,
                        )
                        waiting_logged = True
                    await asyncio.sleep(pause)
                    continue
                waiting_logged = False
                log.info("Holding the %s lease as %s: %s", self.name, self.holder, self._work)
                task = asyncio.create_task(work(), name=f"{self.name} (leased)")
                try:
                    await self._keep(task, pause)
                finally:
                    if not task.done():
                        task.cancel()
                    await asyncio.wait({task})
                if not task.cancelled():
                    await asyncio.sleep(pause)  # the work ended by itself: not in a tight loop
        finally:
            if self.held.is_set():
                await asyncio.shield(self.release())

    async def _keep(self, task: asyncio.Task[None], pause: float) -> None:
        """Renew while `task` runs; return when the lease is lost (or the work ended)."""
        while not task.done():
            await asyncio.wait({task}, timeout=pause)
            if task.done():
                break
            if not await self._take_logged():
                log.warning("Lost the %s lease; stopping that work", self.name)
                return
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("The %s work ended with an error", self.name, exc_info=error)

    async def _take_logged(self) -> bool:
        try:
            return await self.try_take()
        except Exception:
            # A locked or busy database: treat as not held, so the work stops rather than run
            # beside another holder; the next attempt comes after a pause.
            log.exception("Could not take or renew the %s lease", self.name)
            self.held.clear()
            return False

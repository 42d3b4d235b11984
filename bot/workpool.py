"""A bounded pool of worker processes for untrusted CPU work (parsing, extraction, summaries).

A thread cannot be stopped, so each job runs in a worker process, killed (SIGKILL) and replaced
past its deadline, under an address-space limit (RLIMIT_AS); its two priorities and bounded
member queue are the README's (Architecture, Security guarantees). Jobs are picklable
zero-argument callables, usually `functools.partial` of a module-level function. Workers come
from a ``forkserver`` (never ``fork``: this process has threads) that preloads the parsers.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import multiprocessing
import os
import resource
import signal
import threading
import traceback
import typing
from collections import deque
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Literal, TypeVar

from bot.config import WorkersConfig
from bot.errors import PaperboyError, TryLater

log = logging.getLogger(__name__)

T = TypeVar("T")
Priority = Literal["system", "member"]

PRELOAD_MODULES = (
    "bot.articles.extract",
    "bot.articles.summarize",
    "bot.feeds.parse",
    "bot.feeds.fast",
    "bot.feeds.discover",
    "bot.ingest.archiver",
    "trafilatura",
)
"""Imported once by the fork server, so each worker starts with them loaded."""

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(list(PRELOAD_MODULES))


class JobTimedOut(PaperboyError):
    """A job ran past its deadline; its worker was killed."""


class JobOutOfMemory(PaperboyError):
    """A job needed more memory than a worker may use (or its worker died); it was stopped."""


class PoolClosed(PaperboyError):
    """The pool was closed (Paperboy is stopping) before or while the job ran."""

    def __init__(self) -> None:
        super().__init__("Paperboy is shutting down, so it stopped reading this.")


class RemoteJobError(RuntimeError):
    """A job failed with an unexpected exception (a bug); the message holds its traceback."""


# -- inside a worker ------------------------------------------------------------------------------


def _worker_main(conn: Connection, alive: Connection, memory_limit_bytes: int) -> None:
    """A worker's whole life: run jobs from `conn` until it closes, or `alive` does."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    threading.Thread(target=_exit_when_parent_goes, args=(alive,), daemon=True).start()
    if memory_limit_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit_bytes, memory_limit_bytes))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        except MemoryError:
            conn.send(("memory", None))
            continue
        reply = _outcome(job)
        del job
        try:
            conn.send(reply)
        except MemoryError:
            conn.send(("memory", None))
        except Exception as error:  # an unpicklable result is a bug in the job
            conn.send(("crash", f"{type(error).__name__} sending the result: {error}"))


def _exit_when_parent_goes(alive: Connection) -> None:
    """Exit as soon as Paperboy's end of `alive` closes: it ended, even by SIGKILL, or retired us.

    Nothing is ever sent on `alive`; its end of file is the signal. The fork server cannot do
    this for us: it lives as long as any of its children does.
    """
    with contextlib.suppress(EOFError, OSError):
        alive.recv()
    os._exit(0)


def _outcome(job: Callable[[], object]) -> tuple[str, object]:
    try:
        return ("ok", job())
    except MemoryError:
        return ("memory", None)
    except PaperboyError as error:
        # Rebuilt by hand: subclasses with their own __init__ (FeedError) do not unpickle.
        return ("expected", (type(error), str(error), dict(vars(error))))
    except Exception as error:
        return ("crash", "".join(traceback.format_exception(error)))


def _rebuild(cls: type[PaperboyError], message: str, state: dict[str, Any]) -> PaperboyError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


# -- the parent's side -----------------------------------------------------------------------------


class _NotDelivered(Exception):
    """The worker was gone before the job reached it; the job may be given to another."""


class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, process: BaseProcess, conn: Connection, alive: Connection) -> None:
        self.process = process
        self.conn = conn
        self.alive = alive  # never written; when it closes (even by our death) the worker exits

    def close_pipes(self) -> None:
        """Release our ends of the pipes (only once the worker is gone)."""
        self.conn.close()
        self.alive.close()

    @property
    def pid(self) -> int:
        """The worker's process id."""
        assert self.process.pid is not None
        return self.process.pid

    def call(self, job: Callable[[], object]) -> tuple[str, object]:
        """Send a job and wait for its reply (in an I/O thread, never on the event loop)."""
        try:
            self.conn.send(job)
        except (BrokenPipeError, ConnectionResetError):
            raise _NotDelivered from None
        reply: tuple[str, object] = self.conn.recv()
        return reply


class WorkPool:
    """Worker processes for untrusted CPU work, with deadlines, a memory cap and priorities."""

    def __init__(self, settings: WorkersConfig | None = None) -> None:
        settings = settings or WorkersConfig()
        self.processes = max(1, settings.processes)
        self.job_timeout = settings.job_timeout_seconds
        self.memory_limit_mb = settings.memory_limit_mb
        self.queue_size = max(0, settings.queue_size)
        # Members never take the last worker, so a system job always finds one soon.
        self.member_slots = max(1, self.processes - 1)
        self.killed = 0  # workers killed at a deadline, or lost to the memory cap
        self._idle: list[_Worker] = []
        self._live: set[_Worker] = set()
        self._busy = 0
        self._busy_members = 0
        self._waiting: dict[Priority, deque[asyncio.Future[None]]] = {
            "system": deque(),
            "member": deque(),
        }
        self._cleanups: set[asyncio.Task[None]] = set()
        # Threads that block on the workers' pipes: send, receive, start, join. Not asyncio's
        # default executor, which DNS lookups use.
        self._io = ThreadPoolExecutor(
            max_workers=2 * self.processes + 2, thread_name_prefix="workpool-io"
        )
        self._closed = False

    @property
    def pids(self) -> list[int]:
        """Process ids of the live workers (for tests and diagnostics)."""
        return [worker.pid for worker in self._live]

    def busy_message(self) -> TryLater:
        """The refusal a member gets when the queue is full."""
        seconds = max(1, math.ceil(self.job_timeout))
        return TryLater(
            f"Paperboy is busy reading other pages; try again in {seconds} seconds.",
            retry_after=float(seconds),
        )

    async def run(self, job: Callable[[], T], *, priority: Priority, what: str = "this page") -> T:
        """Run `job` in a worker and return its result.

        Raises TryLater when a member job finds the queue full, JobTimedOut past the deadline,
        JobOutOfMemory past the memory cap; a PaperboyError from the job comes back as itself,
        any other exception as RemoteJobError.
        """
        if self._closed:
            raise PoolClosed()
        await self._acquire(priority)
        try:
            try:
                return await self._run_in_worker(job, what)  # type: ignore[return-value]
            except _NotDelivered:
                # The worker had died while idle (the OOM killer, an operator): a fresh one.
                return await self._run_in_worker(job, what)  # type: ignore[return-value]
        finally:
            self._release(priority)

    async def _run_in_worker(self, job: Callable[[], object], what: str) -> object:
        loop = asyncio.get_running_loop()
        if self._idle:
            worker = self._idle.pop()
        else:
            worker = await self._start_worker()
            if worker not in self._live:  # started just as the pool closed
                raise PoolClosed()
        pending = loop.run_in_executor(self._io, worker.call, job)
        try:
            async with asyncio.timeout(self.job_timeout):
                status, payload = await asyncio.shield(pending)
        except _NotDelivered:
            self._retire(worker, pending)
            raise
        except TimeoutError:
            self._retire(worker, pending)
            log.warning(
                "A job on %s passed its %g s deadline; worker killed", what, self.job_timeout
            )
            raise JobTimedOut(
                f"Reading {what} took too long (over {self.job_timeout:g} s), so Paperboy stopped."
            ) from None
        except (EOFError, OSError):
            self._retire(worker, pending)
            if self._closed:
                raise PoolClosed() from None
            log.warning("A worker died while reading %s", what)
            raise JobOutOfMemory(
                f"The worker reading {what} stopped unexpectedly, most likely over the "
                f"{self.memory_limit_mb} MB memory limit, so Paperboy gave up on it."
            ) from None
        except BaseException:  # cancelled: the job's result is no longer wanted
            self._retire(worker, pending)
            raise
        if status == "memory":
            self._retire(worker, pending)  # a fragmented heap is not worth keeping
            raise self._out_of_memory(what)
        self._keep(worker)
        if status == "ok":
            return payload
        if status == "expected":
            raise _rebuild(*typing.cast(tuple[type[PaperboyError], str, dict[str, Any]], payload))
        raise RemoteJobError(f"A job on {what} failed in a worker:\n{payload}")

    def _out_of_memory(self, what: str) -> JobOutOfMemory:
        return JobOutOfMemory(
            f"Reading {what} needed more than the {self.memory_limit_mb} MB of memory "
            "Paperboy allows, so Paperboy stopped."
        )

    # -- slots and priorities -------------------------------------------------------------------

    def _may_start(self, priority: Priority) -> bool:
        if self._busy >= self.processes:
            return False
        return priority == "system" or self._busy_members < self.member_slots

    def _take(self, priority: Priority) -> None:
        self._busy += 1
        if priority == "member":
            self._busy_members += 1

    async def _acquire(self, priority: Priority) -> None:
        ahead = self._waiting["system"] or (priority == "member" and self._waiting["member"])
        if not ahead and self._may_start(priority):
            self._take(priority)
            return
        if priority == "member" and len(self._waiting["member"]) >= self.queue_size:
            raise self.busy_message()
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[priority].append(granted)
        try:
            await granted
        except BaseException:
            if granted.done() and not granted.cancelled() and granted.exception() is None:
                self._release(priority)  # granted just as we were cancelled: pass it on
            elif granted in self._waiting[priority]:
                self._waiting[priority].remove(granted)
            raise

    def _release(self, priority: Priority) -> None:
        self._busy -= 1
        if priority == "member":
            self._busy_members -= 1
        self._dispatch()

    def _dispatch(self) -> None:
        priorities: tuple[Priority, ...] = ("system", "member")
        for priority in priorities:
            queue = self._waiting[priority]
            while queue and self._may_start(priority):
                granted = queue.popleft()
                if granted.done():
                    continue
                self._take(priority)
                granted.set_result(None)

    # -- worker processes -----------------------------------------------------------------------

    async def _start_worker(self) -> _Worker:
        spawning = asyncio.get_running_loop().run_in_executor(self._io, self._spawn)
        spawning.add_done_callback(self._adopt)  # even if the caller is cancelled meanwhile
        return await asyncio.shield(spawning)

    def _adopt(self, spawning: asyncio.Future[_Worker]) -> None:
        if spawning.cancelled() or spawning.exception() is not None:
            return
        worker = spawning.result()
        self._live.add(worker)
        if self._closed:
            self._live.discard(worker)
            with contextlib.suppress(ProcessLookupError, ValueError):
                worker.process.kill()
            self._track(self._reap(worker, None, replace=False))

    def _spawn(self) -> _Worker:
        ours, theirs = _CONTEXT.Pipe(duplex=True)
        alive_theirs, alive_ours = _CONTEXT.Pipe(duplex=False)
        limit = self.memory_limit_mb * 1024 * 1024
        process = _CONTEXT.Process(
            target=_worker_main,
            args=(theirs, alive_theirs, limit),
            name="paperboy-worker",
            daemon=True,
        )
        process.start()
        theirs.close()
        alive_theirs.close()
        return _Worker(process, ours, alive_ours)

    def _keep(self, worker: _Worker) -> None:
        """Back to the idle list, unless a replacement raced it past the pool's size."""
        if len(self._live) <= self.processes:
            self._idle.append(worker)
            return
        self._live.discard(worker)
        with contextlib.suppress(ProcessLookupError, ValueError):
            worker.process.kill()
        self._track(self._reap(worker, None, replace=False))

    def _track(self, cleanup: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(cleanup)
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)

    def _retire(self, worker: _Worker, pending: asyncio.Future[Any] | None) -> None:
        """Kill a worker now; reap it and start its replacement in the background."""
        self.killed += 1
        self._live.discard(worker)
        with contextlib.suppress(ProcessLookupError, ValueError):
            worker.process.kill()
        if not self._closed:  # else close() reaps it
            self._track(self._reap(worker, pending, replace=True))

    async def _reap(
        self, worker: _Worker, pending: asyncio.Future[Any] | None, *, replace: bool
    ) -> None:
        if pending is not None:
            # The I/O thread sees the pipe close; only then is it safe to close our end.
            await asyncio.gather(pending, return_exceptions=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._io, functools.partial(worker.process.join, 5.0))
        worker.close_pipes()
        if replace and not self._closed and len(self._live) < self.processes:
            try:
                self._idle.append(await self._start_worker())
            except Exception:
                log.exception("Could not start a replacement worker; the next job will try again")

    async def settled(self) -> None:
        """Wait until killed workers are reaped and their replacements started."""
        while self._cleanups:
            await asyncio.gather(*self._cleanups, return_exceptions=True)

    async def close(self) -> None:
        """Kill every worker and wait until each is reaped; jobs still waiting fail."""
        if self._closed:
            return
        self._closed = True
        for queue in self._waiting.values():
            while queue:
                granted = queue.popleft()
                if not granted.done():
                    granted.set_exception(PoolClosed())
        workers = list(self._live)
        self._live.clear()
        self._idle.clear()
        for worker in workers:
            with contextlib.suppress(ProcessLookupError, ValueError):
                worker.process.kill()
        await self.settled()
        await asyncio.gather(
            *(self._reap(worker, None, replace=False) for worker in workers),
            return_exceptions=True,
        )
        self._io.shutdown(wait=False)


__all__ = [
    "PRELOAD_MODULES",
    "JobOutOfMemory",
    "JobTimedOut",
    "PoolClosed",
    "Priority",
    "RemoteJobError",
    "WorkPool",
]

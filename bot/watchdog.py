"""A watchdog that notices when the event loop is blocked, and says where.

A callback on the loop stamps the time every few tens of milliseconds; a separate thread checks
the stamp. When it is older than the threshold, the loop is stuck in some code that does not
yield (a slow parser, a blocking call): the thread logs a warning with the loop thread's current
stack, taken from `sys._current_frames()`, and counts the stall once.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
import traceback

log = logging.getLogger(__name__)


class LoopWatchdog:
    """Counts and logs event-loop stalls longer than `threshold_seconds`."""

    def __init__(self, threshold_seconds: float = 0.25) -> None:
        self.threshold = threshold_seconds
        self.stalls = 0  # stalls seen since start
        self.last_stack = ""  # the loop's stack at the last stall
        self._beat_every = threshold_seconds / 5
        self._last_beat = time.monotonic()
        self._reported_beat = 0.0
        self._loop_thread_id: int | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start watching the running loop (call from inside it)."""
        if self._thread is not None:
            return
        loop = asyncio.get_running_loop()
        self._loop_thread_id = threading.get_ident()
        self._beat(loop)
        self._thread = threading.Thread(target=self._watch, name="loop-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching; the thread ends at once."""
        self._stop.set()
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _beat(self, loop: asyncio.AbstractEventLoop) -> None:
        self._last_beat = time.monotonic()
        if not self._stop.is_set():
            self._handle = loop.call_later(self._beat_every, self._beat, loop)

    def _watch(self) -> None:
        while not self._stop.wait(self._beat_every):
            beat = self._last_beat
            late = time.monotonic() - beat - self._beat_every
            if late > self.threshold and beat != self._reported_beat:
                self._reported_beat = beat  # one stall, counted once however long it lasts
                self._report(late)

    def _report(self, late: float) -> None:
        frame = sys._current_frames().get(self._loop_thread_id or 0)
        stack = "".join(traceback.format_stack(frame)) if frame is not None else "(unknown)\n"
        self.stalls += 1
        self.last_stack = stack
        log.warning(
            "The event loop has been blocked for over %.0f ms; it is running:\n%s",
            late * 1000,
            stack.rstrip(),
        )

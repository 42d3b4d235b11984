"""The loop watchdog counts a blocked event loop and logs where it was blocked."""

from __future__ import annotations

import logging
import time

import pytest

from bot.watchdog import LoopWatchdog


def hog_the_loop(watchdog: LoopWatchdog, limit_seconds: float = 10.0) -> None:
    """Busy CPU on the loop's thread until the watchdog has seen it (or the limit passes)."""
    give_up = time.monotonic() + limit_seconds
    while watchdog.stalls == 0 and time.monotonic() < give_up:
        sum(range(1000))


async def test_a_blocked_loop_is_counted_once_with_its_stack_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    watchdog = LoopWatchdog(threshold_seconds=0.1)
    watchdog.start()
    try:
        with caplog.at_level(logging.WARNING, logger="bot.watchdog"):
            hog_the_loop(watchdog)
            assert watchdog.stalls == 1
            keep_going = time.monotonic() + 0.4  # the same stall, still going on
            while time.monotonic() < keep_going:
                sum(range(1000))
        assert watchdog.stalls == 1
        assert "hog_the_loop" in watchdog.last_stack
        assert any(
            "event loop has been blocked" in record.getMessage()
            and "hog_the_loop" in record.getMessage()
            for record in caplog.records
        )
    finally:
        watchdog.stop()


async def test_stop_ends_the_watch() -> None:
    watchdog = LoopWatchdog(threshold_seconds=0.1)
    watchdog.start()
    watchdog.stop()
    assert watchdog._thread is None
    hog_the_loop(watchdog, limit_seconds=0.5)
    assert watchdog.stalls == 0

"""One delivery pass, waited for: what tests use instead of the worker's endless `run()`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.delivery.worker import DeliveryWorker, Outcome


@dataclass
class DrainReport:
    """What one pass did."""

    sent: int = 0
    retried: int = 0
    refused: int = 0
    next_due: datetime | None = None


async def drain_once(worker: DeliveryWorker) -> DrainReport:
    """Send every delivery due now (pacing and budget permitting) and wait for those sends;
    never waits for pacing. Raises what a send raised (e.g. a locked database)."""
    started, next_due = await worker._start_due()
    report = DrainReport(next_due=next_due)
    if started:
        outcomes = await asyncio.gather(*started)
        report.sent = outcomes.count(Outcome.SENT)
        report.retried = outcomes.count(Outcome.RETRY)
        report.refused = outcomes.count(Outcome.REFUSED)
        # The next row of a queue just served becomes due once its channel may post again.
        interval = worker.settings.per_channel_interval_seconds
        again = worker.clock.now() + timedelta(seconds=interval)
        report.next_due = again if next_due is None else min(next_due, again)
    return report

"""Announcements, part 2: delivering outbox rows to Discord exactly once, in order.

`worker.DeliveryWorker` claims, sends and settles rows through a `Sender` (`cogs/outlets.py`);
`pacing` holds the pure decisions; `service.DeliveryService` seeds a new subscription's backlog.
"""

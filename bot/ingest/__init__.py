"""Ingestion: polling feeds on a schedule, deduplicating items, archiving articles' full text.

`schedule` is pure; `discovery`, `poller`, `archiver` and `importer` use the injected fetcher and
storage. Nothing here imports discord.
"""

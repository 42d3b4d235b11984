"""Paperboy core: config, storage, feeds, articles and services. Knows nothing of Discord."""

__version__ = "0.1.0"

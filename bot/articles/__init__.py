"""Offline article understanding: extraction, sentence splitting, summaries and related pieces.

Nothing here imports discord; the only network use is the optional LLM backend (`llm.py`),
which goes through an injected aiohttp session.
"""

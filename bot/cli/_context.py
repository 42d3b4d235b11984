"""Resources a CLI command may need, opened on first use and closed when it ends."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.config import Config

if TYPE_CHECKING:
    import aiohttp

    from bot.articles.llm import LlmBackend
    from bot.storage import Storage
    from bot.workpool import WorkPool


class CommandContext:
    """Lazily opens the database and the HTTP session for a CLI command."""

    def __init__(self, config: Config, *, quiet: bool = False) -> None:
        self.config = config
        self.quiet = quiet
        """--quiet: no progress bars."""
        self._storage: Storage | None = None
        self._http: aiohttp.ClientSession | None = None
        self._llm: LlmBackend | None = None
        self._llm_opened = False
        self._pool: WorkPool | None = None

    def show_progress(self) -> bool:
        """Whether long jobs draw a progress bar: standard error is a terminal, no --quiet."""
        import sys

        return not self.quiet and sys.stderr.isatty()

    async def storage(self) -> Storage:
        """The migrated database named by `[database] url`, else `[database] path`."""
        if self._storage is None:
            from bot.storage import Storage

            self._storage = await Storage.open(
                self.config.database.target(),
                busy_timeout_ms=self.config.database.busy_timeout_ms,
            )
        return self._storage

    async def http(self) -> aiohttp.ClientSession:
        """The one HTTP session, guarded as configured."""
        if self._http is None:
            from bot.fetch import make_session

            self._http = make_session(self.config.fetch, self.config.user_agent())
        return self._http

    async def llm(self) -> LlmBackend | None:
        """The LLM backend with its own session (only to `openai_base_url`), if configured."""
        if not self._llm_opened:
            from bot.articles.llm import LlmBackend

            self._llm = LlmBackend.open(self.config.summaries, self.config.user_agent())
            self._llm_opened = True
        return self._llm

    def pool(self) -> WorkPool:
        """Worker processes for reading many untrusted feeds and pages (`archive import`)."""
        if self._pool is None:
            from bot.workpool import WorkPool

            self._pool = WorkPool(self.config.workers)
        return self._pool

    async def aclose(self) -> None:
        """Close whatever was opened."""
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        if self._llm is not None:
            await self._llm.close()
            self._llm = None
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self._storage is not None:
            await self._storage.close()
            self._storage = None

"""A small OpenAI-compatible server on 127.0.0.1 for tests of the optional LLM backend.

```python
async with LlmStandIn() as llm:  # POST {llm.base_url}/chat/completions
    llm.mode = "ok"  # "ok", "error" (HTTP 503), "junk" (not JSON), "empty" (no text),
    # "hang" (until `llm.release` is set), "redirect" (302 to `llm.redirect_to`)
    llm.requests, llm.authorizations  # what it was sent
```
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any

from aiohttp import web

ANSWER = "Waiting list for council homes has doubled.\nCampaigners call a meeting."


class LlmStandIn:
    """An OpenAI-compatible chat-completions endpoint whose behaviour a test chooses."""

    def __init__(self, mode: str = "ok", answer: str = ANSWER) -> None:
        self.mode = mode
        self.answer = answer
        self.redirect_to = ""
        self.requests: list[dict[str, Any]] = []
        self.authorizations: list[str] = []
        self.other_paths: list[str] = []
        """Requests to anything but /v1/chat/completions (a member's URL must never get here)."""
        self.release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        """What goes in `[summaries] openai_base_url`."""
        return f"http://127.0.0.1:{self.port}/v1"

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(await request.json())
        self.authorizations.append(request.headers.get("Authorization", ""))
        if self.mode == "error":
            return web.json_response({"error": "overloaded"}, status=503)
        if self.mode == "junk":
            return web.Response(text="<html>not json at all")
        if self.mode == "redirect":
            raise web.HTTPFound(self.redirect_to)
        if self.mode == "hang":
            await self.release.wait()
        content = "" if self.mode == "empty" else self.answer
        return web.json_response(
            {
                "id": "chatcmpl-standin",
                "object": "chat.completion",
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": content}},
                ],
            }
        )

    async def _other(self, request: web.Request) -> web.Response:
        self.other_paths.append(request.path)
        return web.Response(text="<html><title>not for members</title></html>")

    async def __aenter__(self) -> LlmStandIn:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._completions)
        app.router.add_route("*", "/{tail:.*}", self._other)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release.set()
        if self._runner is not None:
            await self._runner.cleanup()

"""TLS failures against a local HTTPS server with a self-signed certificate."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web

from bot.config import FetchConfig
from bot.errors import FetchError
from bot.fetch import Fetcher, make_session

NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
LOCAL = FetchConfig(allow_private_addresses=True, total_timeout_seconds=5.0)


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1, made with the openssl CLI."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a self-signed certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=30,
    )  # fmt: skip
    return cert, key


@pytest.fixture
async def https_url(self_signed: tuple[Path, Path]) -> AsyncIterator[str]:
    cert, key = self_signed
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def feed(request: web.Request) -> web.Response:
        return web.Response(text="<rss/>")

    app = web.Application()
    app.router.add_get("/feed", feed)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    try:
        yield f"https://127.0.0.1:{runner.addresses[0][1]}/feed"
    finally:
        await runner.cleanup()


async def test_a_self_signed_certificate_is_a_tls_error(https_url: str) -> None:
    async with make_session(LOCAL, "test") as session:
        with pytest.raises(FetchError) as caught:
            await Fetcher(session, LOCAL).fetch(https_url, kind="feed", now=NOW)
    assert caught.value.kind == "tls"
    assert "127.0.0.1" in str(caught.value) and "certificate" in str(caught.value)


async def test_speaking_http_to_a_tls_port_is_not_a_crash(https_url: str) -> None:
    plain = https_url.replace("https://", "http://")
    async with make_session(LOCAL, "test") as session:
        with pytest.raises(FetchError) as caught:
            await Fetcher(session, LOCAL).fetch(plain, kind="feed", now=NOW)
    assert caught.value.kind in {"network", "refused"}


async def test_speaking_tls_to_a_plain_http_port_is_a_tls_error() -> None:
    async def feed(request: web.Request) -> web.Response:
        return web.Response(text="<rss/>")

    app = web.Application()
    app.router.add_get("/feed", feed)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        url = f"https://127.0.0.1:{runner.addresses[0][1]}/feed"
        async with make_session(LOCAL, "test") as session:
            with pytest.raises(FetchError) as caught:
                await Fetcher(session, LOCAL).fetch(url, kind="feed", now=NOW)
    finally:
        await runner.cleanup()
    assert caught.value.kind == "tls"

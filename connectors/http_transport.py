"""The API clients' connections: httpx's requests and responses carried over aiohttp's connection pool.

A pool worker polling 1,000 tenants sends some 500 requests a second, and httpx's own transport (httpcore, h11 and
anyio, in Python) spent about 0.6 ms of CPU on each; aiohttp's (its HTTP parser in C, asyncio's streams) about
0.35 ms. The clients keep speaking httpx (requests, responses, the errors they map, the tests' mock transports):
only the connections below are aiohttp's (already installed with faust, pinned in constraints.txt).

What httpx's transport did, this one does too: its connection limits (100, idle ones closed after 5 s), the
request's timeouts (connect, pool, read), the body streamed (a download stops at its limit), content encodings
decoded by httpx, no redirects followed and no cookies kept below httpx, and every failure as the httpx error the
clients tell apart (a connection that never opened: `ConnectError`/`ConnectTimeout`, safe to repeat; one lost
after the request went: `ReadError`, `RemoteProtocolError`, `ReadTimeout`).
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
from yarl import URL

MAX_CONNECTIONS = 100  # httpx's default
KEEPALIVE_S = 5.0  # httpx's default keep-alive expiry
# aiohttp adds these when the request has none; httpx has set them already, or left them out on purpose.
NOT_ADDED = frozenset({"Accept", "Accept-Encoding", "User-Agent", "Content-Type"})


def _error(exc: BaseException, request: httpx.Request) -> httpx.TransportError:
    """The httpx error for what aiohttp raised: the clients repeat only what surely never reached the server."""
    message = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(message, request=request)
    if isinstance(exc, aiohttp.ClientConnectorError):  # refused, unreachable, DNS, TLS handshake
        return httpx.ConnectError(message, request=request)
    if isinstance(exc, TimeoutError):  # aiohttp's read timeout, or asyncio's
        return httpx.ReadTimeout(message, request=request)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError | aiohttp.ClientResponseError):
        return httpx.RemoteProtocolError(message, request=request)
    return httpx.ReadError(message, request=request)


class _Body(httpx.AsyncByteStream):
    """The answer's body as aiohttp receives it (undecoded: httpx decodes the content encoding)."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _error(exc, self._request) from exc

    async def aclose(self) -> None:
        self._response.release()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An httpx transport over one aiohttp session, opened at the first request (inside the running loop)."""

    def __init__(self, verify: ssl.SSLContext) -> None:
        self._tls = verify
        self._session: aiohttp.ClientSession | None = None

    def _opened(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=self._tls, limit=MAX_CONNECTIONS, keepalive_timeout=KEEPALIVE_S)
            session = aiohttp.ClientSession(connector=connector, auto_decompress=False,
                                            cookie_jar=aiohttp.DummyCookieJar(), skip_auto_headers=NOT_ADDED)
            # aiohttp sends an idempotent request (GET, PUT, DELETE) again, once, when a reused connection drops;
            # the clients decide what is repeated (Procountor's invoice actions are PUTs, and count every try).
            # No public switch (aiohttp 3.14, pinned; tests/unit/connectors/test_http_transport.py would notice).
            session._retry_connection = False
            self._session = session
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts: dict[str, Any] = request.extensions.get("timeout") or {}
        timeout = aiohttp.ClientTimeout(total=None, connect=timeouts.get("pool"), sock_connect=timeouts.get("connect"),
                                        sock_read=timeouts.get("read"))
        body = await request.aread() or None
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in request.headers.raw]
        try:
            # encoded=True: the URL goes as httpx wrote it (yarl would write some characters of a query again).
            response = await self._opened().request(
                request.method, URL(str(request.url), encoded=True), headers=headers, data=body,
                allow_redirects=False, timeout=timeout)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _error(exc, request) from exc
        reason = (response.reason or "").encode()
        return httpx.Response(response.status, headers=list(response.raw_headers), stream=_Body(response, request),
                              extensions={"http_version": b"HTTP/1.1", "reason_phrase": reason})

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

"""The API clients' connections (connectors/http_transport.py: httpx over aiohttp) against a real socket server
that misbehaves as servers do: what reached the server and what did not must stay told apart (a create that may
have been applied is never sent twice), the query goes out as written, downloads stop at their limit, and
encoded answers are decoded."""

from __future__ import annotations

import asyncio
import gzip
import json
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from connectors.errors import ContentTooLarge
from connectors.http_transport import AiohttpTransport
from connectors.severa.client import SeveraClient
from connectors.severa.errors import SeveraTransientError
from connectors.tls import shared_tls_context

TOKEN = json.dumps({"access_token": "t", "access_token_type": "Bearer", "access_token_expires_in": 3600,
                    "refresh_token": "r"}).encode()

Handler = Callable[[str, asyncio.StreamWriter], Awaitable[None]]


def answer(body: bytes, *, headers: dict[str, str] | None = None, status: str = "200 OK") -> bytes:
    head = {"Content-Type": "application/json", "Content-Length": str(len(body)), **(headers or {})}
    return (f"HTTP/1.1 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in head.items()) + "\r\n").encode() + body


@asynccontextmanager
async def server(handle: Handler) -> AsyncIterator[tuple[str, list[str]]]:
    """A loopback HTTP/1.1 server: the token request is answered, every other request line is recorded and handed
    to `handle` (which answers, or not)."""
    lines: list[str] = []

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            with suppress(asyncio.IncompleteReadError, ConnectionError):  # the client hung up
                while True:
                    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                    length = next((int(line.split(":", 1)[1]) for line in head.split("\r\n")
                                   if line.lower().startswith("content-length:")), 0)
                    await reader.readexactly(length)
                    line = head.split("\r\n", 1)[0]
                    if " /rest-api/v1/token " in line:
                        writer.write(answer(TOKEN))
                        await writer.drain()
                        continue
                    lines.append(line)
                    await handle(line, writer)
                    if writer.is_closing():
                        return
        finally:
            writer.close()

    listening = await asyncio.start_server(connection, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/rest-api", lines
    finally:
        listening.close()


def severa(base: str, **options: object) -> SeveraClient:
    options.setdefault("backoff_initial", 0.01)
    options.setdefault("backoff_max", 0.02)
    return SeveraClient(base, "client", "secret", requests_per_second=1000.0, **options)  # type: ignore[arg-type]


async def test_a_create_whose_connection_drops_after_sending_is_not_sent_again_but_a_read_is() -> None:
    async def drop(line: str, writer: asyncio.StreamWriter) -> None:
        writer.close()  # the request arrived; no answer

    async with server(drop) as (base, lines), severa(base, max_retries=2) as client:
        with pytest.raises(SeveraTransientError) as create:
            await client.create_customer({"name": "Oy Asiakas Ab"})
        assert create.value.maybe_applied
        assert [line.split()[0] for line in lines] == ["POST"]
        lines.clear()
        with pytest.raises(SeveraTransientError) as read:
            await client.get_customer("c1")
        assert not read.value.maybe_applied
        assert len(lines) == 3  # the first try and two repeats


async def test_a_server_that_is_not_there_is_a_connection_failure_repeated_also_for_a_create() -> None:
    async with server(lambda line, writer: asyncio.sleep(0)) as (base, _):
        pass  # closed: nothing listens on the port now
    async with severa(base, max_retries=1) as client:
        with pytest.raises(SeveraTransientError) as refused:
            await client.create_customer({"name": "Oy Asiakas Ab"})
    assert not refused.value.maybe_applied
    assert "connection failed: ConnectError" in str(refused.value)


async def test_an_answer_that_does_not_come_is_a_read_timeout() -> None:
    async def hang(line: str, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    async with server(hang) as (base, lines), severa(base, max_retries=0, timeout=0.3) as client:
        with pytest.raises(SeveraTransientError, match="ReadTimeout"):
            await client.get_customer("c1")
    assert len(lines) == 1


async def test_the_query_goes_out_as_httpx_writes_it() -> None:
    async def empty(line: str, writer: asyncio.StreamWriter) -> None:
        writer.write(answer(b"[]"))
        await writer.drain()

    since = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    async with server(empty) as (base, lines), severa(base) as client:
        await client.list_customers(changed_since=since, numbers=[1, 2])
    expected = httpx.URL(f"{base}/v1/customers", params={"changedSince": since.isoformat(), "numbers": ["1", "2"],
                                                          "rowCount": 100})
    assert lines == [f"GET {expected.raw_path.decode()} HTTP/1.1"]
    assert "changedSince=2026-11-30T08%3A00%3A00%2B00%3A00" in lines[0]


async def test_a_download_over_its_limit_stops_and_an_encoded_answer_is_decoded() -> None:
    async def answers(line: str, writer: asyncio.StreamWriter) -> None:
        if "/filedata" in line:  # a big file, sent without a length: the limit is found while receiving
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/pdf\r\nTransfer-Encoding: chunked\r\n\r\n")
            for _ in range(64):
                writer.write(b"4000\r\n" + b"x" * 0x4000 + b"\r\n")
                await writer.drain()
            writer.write(b"0\r\n\r\n")
        else:
            writer.write(answer(gzip.compress(b'{"guid": "c1", "name": "\xc3\x84ij\xc3\xa4 Oy"}'),
                                headers={"Content-Encoding": "gzip"}))
        await writer.drain()

    async with server(answers) as (base, _), severa(base) as client:
        with pytest.raises(ContentTooLarge):
            await client.get_file_data("f1", max_bytes=100_000)
        assert await client.get_customer("c1") == {"guid": "c1", "name": "Äijä Oy"}


async def test_the_transport_closes_its_connections() -> None:
    async def empty(line: str, writer: asyncio.StreamWriter) -> None:
        writer.write(answer(b"[]"))
        await writer.drain()

    async with server(empty) as (base, _):
        transport = AiohttpTransport(shared_tls_context())
        async with httpx.AsyncClient(transport=transport) as http:
            assert (await http.get(f"{base}/v1/customers")).json() == []
        assert transport._session is None


def self_signed(directory: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("no openssl command to make a test certificate")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


async def test_a_server_certificate_is_verified(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)

    async def hello(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            with suppress(asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):  # the client hung up
                await reader.readuntil(b"\r\n\r\n")
                writer.write(answer(b'{"hello": "tls"}'))
                await writer.drain()
        finally:
            writer.close()

    listening = await asyncio.start_server(hello, "127.0.0.1", 0, ssl=served)
    url = f"https://127.0.0.1:{listening.sockets[0].getsockname()[1]}/"
    try:
        async with httpx.AsyncClient(transport=AiohttpTransport(shared_tls_context())) as untrusting:
            with pytest.raises(httpx.ConnectError, match="(?i)certificate"):
                await untrusting.get(url)
        trusting = ssl.create_default_context(cafile=str(cert))
        async with httpx.AsyncClient(transport=AiohttpTransport(trusting)) as http:
            assert (await http.get(url)).json() == {"hello": "tls"}
    finally:
        listening.close()

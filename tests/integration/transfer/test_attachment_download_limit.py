"""A PDF over Procountor's 10 MB limit is a data error naming the file and its size, found without reading it
whole (a 1 GB PDF read whole put the tenant's workers into a crash loop)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from connectors.severa.client import SeveraClient
from sandbox.severa.demo import DEMO_CLIENT_ID as S_ID
from sandbox.severa.demo import DEMO_CLIENT_SECRET as S_SECRET
from streams.mapping.attachments import MAX_ATTACHMENT_BYTES
from streams.sales_invoice import SalesInvoiceTransfer

pytestmark = pytest.mark.integration
GIGABYTE = 1 << 30
CHUNK = 1 << 16


class HugePdf(httpx.AsyncBaseTransport):
    """The real Severa sandbox over a socket, except that the invoice PDF is 1 GB, produced as it is read
    (counted in `sent`): a client that reads it whole pulls all of it."""

    def __init__(self, *, declare_length: bool) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.declare_length = declare_length
        self.sent = 0

    async def _body(self) -> AsyncIterator[bytes]:
        chunk = b"%PDF" + b"0" * (CHUNK - 4)
        while self.sent < GIGABYTE:
            self.sent += CHUNK
            yield chunk

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith("/pdf"):
            return await self.inner.handle_async_request(request)
        headers = {"content-type": "application/pdf"}
        if self.declare_length:
            headers["content-length"] = str(GIGABYTE)
        return httpx.Response(200, headers=headers, stream=_Stream(self._body()))

    async def aclose(self) -> None:
        await self.inner.aclose()


class _Stream(httpx.AsyncByteStream):
    def __init__(self, body: AsyncIterator[bytes]) -> None:
        self.body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.body:
            yield chunk


@pytest.mark.parametrize("declare_length", [True, False], ids=["with-content-length", "chunked"])
async def test_a_1_gb_invoice_pdf_is_a_data_error_naming_the_file_and_its_size(stack, declare_length) -> None:
    request = stack.request(10002)
    events: list[tuple[str, dict[str, Any]]] = []

    async def emit(name: str, record: dict[str, Any]) -> None:
        events.append((name, record))

    huge = HugePdf(declare_length=declare_length)
    async with SeveraClient(f"{stack.severa_server.url}/rest-api", S_ID, S_SECRET, requests_per_second=500.0,
                            transport=huge) as severa:
        transfer = SalesInvoiceTransfer(severa, stack.procountor, stack.companies, emit, directory=stack.directory)
        result = await transfer.handle(request)

    assert result.state == "failed_data"
    final = [r for name, r in events if name == "TransferOutcome"][-1]
    error = final["error"]
    assert (error["code"], error["field"], error["value"]) == ("BAD_ATTACHMENT", "file", "invoice-10002.pdf")
    told = f"{GIGABYTE} bytes" if declare_length else f"more than {MAX_ATTACHMENT_BYTES} bytes"
    assert f"'invoice-10002.pdf' is {told}" in error["message"], json.dumps(error)
    assert huge.sent <= MAX_ATTACHMENT_BYTES + CHUNK  # stopped at the limit, not read whole

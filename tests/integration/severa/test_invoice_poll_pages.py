"""The invoice poll's page size (issue 16, sixth part).

Under a backlog every read of the invoice poller rereads the 30 s overlap's changes, the drain's own status
PATCHes among them (about 110 at 3.7 a second): two pages of 100 a read, every 2 s. For `GET /v1/invoices` the
spec states no maximum for `rowCount` ("Number of rows to fetch"), a client (S3) asks up to 1000 and Severa's
support (S7) says 1000 is the maximum, where the spec says "maximum 100" for most other lists
(severa-api.md §3.2, §5.1). So the poll asks for 1000 rows: one call where Severa gives them, the same pages as
before where it gives 100 (token paging goes on while `NextPageToken` is there), and, should Severa refuse the
count, pages of 100 from then on.
"""

from __future__ import annotations

import copy
from typing import Any

from connectors.severa.poller import severa_poller
from sandbox.runner import SandboxServer
from sandbox.severa.app import create_app
from tests.integration.severa.conftest import RunningSeveraSandbox

AUDIT_FIELDS = ("guid", "createdDateTime", "createdBy", "lastUpdatedDateTime", "lastUpdatedBy")
ADDED = 150  # with the demo's 36: 186 invoices, two pages of 100


def _add_invoices(store: Any, count: int) -> None:
    template = store.find("invoices")[0]
    for _ in range(count):
        body = {k: copy.deepcopy(v) for k, v in template.items() if k not in AUDIT_FIELDS}
        store.insert("invoices", body | {"number": store.next_number("invoice")})


async def _read_all(client: Any) -> list[Any]:
    [source] = severa_poller("unused:9092", "t", client, entities=["invoice"]).sources
    return [invoice async for invoice in source.fetch(None)]


async def test_the_poll_reads_186_invoices_in_one_call_where_severa_gives_1000_rows(severa_sandbox_factory) -> None:
    with severa_sandbox_factory(max_row_count=1000) as sb:
        _add_invoices(sb.store, ADDED)
        async with sb.client() as client:
            invoices = await _read_all(client)
            assert len({invoice["guid"] for invoice in invoices}) == 36 + ADDED
            assert client.calls["GET /v1/invoices"] == 1


async def test_the_poll_still_reads_every_page_where_severa_gives_100_rows(severa_sandbox_factory) -> None:
    with severa_sandbox_factory(max_row_count=100) as sb:
        _add_invoices(sb.store, ADDED)
        async with sb.client() as client:
            invoices = await _read_all(client)
            assert len({invoice["guid"] for invoice in invoices}) == 36 + ADDED
            assert client.calls["GET /v1/invoices"] == 2


class _RefusingLargePages:
    """Severa as it might be: `rowCount` above 100 refused with a 400 naming the parameter."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.refused = 0
        self.state = app.state

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        query = scope.get("query_string", b"").decode() if scope["type"] == "http" else ""
        counts = [int(part.split("=", 1)[1]) for part in query.split("&") if part.startswith("rowCount=")]
        if scope["type"] == "http" and scope["path"].endswith("/v1/invoices") and counts and counts[0] > 100:
            self.refused += 1
            body = (b'{"error": {"httpStatusCode": 400, "type": "InvalidParameter", "details": [{"message": '
                    b'"rowCount must be between 1 and 100.", "location": {"type": "UriParameter", "name": '
                    b'"rowCount"}}], "stack": null}}')  # ExceptionModel, severa-api.md
            await send({"type": "http.response.start", "status": 400,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


async def test_the_poll_reads_pages_of_100_from_then_on_where_severa_refuses_1000() -> None:
    refusing = _RefusingLargePages(create_app(seed="demo", rate_limit_per_second=None, max_row_count=1000))
    with SandboxServer(refusing) as server:
        sb = RunningSeveraSandbox(server)
        _add_invoices(sb.store, ADDED)
        async with sb.client() as client:
            [source] = severa_poller("unused:9092", "t", client, entities=["invoice"]).sources
            for _ in range(2):
                invoices = [invoice async for invoice in source.fetch(None)]
                assert len({invoice["guid"] for invoice in invoices}) == 36 + ADDED
            assert refusing.refused == 1  # asked once, then pages of 100
            assert client.calls["GET /v1/invoices"] == 1 + 2 + 2

"""One error root per kind of failure for both APIs: the clients translate at their edge, callers catch one class.

The transport errors are raised by an in-process httpx transport (a unit-level edge case: a real socket cannot be
made to fail with each of httpx's transport errors on demand).
"""

from __future__ import annotations

import ast
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.errors import ApiAuthError, ApiDataError, ApiError, TransientApiError
from connectors.procountor.client import ProcountorClient
from connectors.procountor.errors import error_from_response as procountor_error
from connectors.severa.client import SeveraClient
from connectors.severa.errors import error_from_response as severa_error

ROOT = Path(__file__).resolve().parents[3]


def _subclasses(cls: type[Exception]) -> list[type[Exception]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


#: httpx's own transport errors, each concrete one (ConnectError, ReadTimeout, RemoteProtocolError, ...).
TRANSPORT_ERRORS = sorted({c for c in _subclasses(httpx.TransportError) if c.__module__.startswith("httpx")},
                          key=lambda c: c.__name__)


def test_streams_do_not_import_httpx() -> None:
    """Every HTTP failure reaches streams/ as one of our errors, so nothing there needs httpx."""
    offenders = []
    for path in sorted((ROOT / "streams").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.relative_to(ROOT)}:{node.lineno}" for n in names if n.split(".")[0] == "httpx"]
    assert offenders == []


SEVERA_TOKEN = {"access_token": "t", "access_token_type": "Bearer", "access_token_expires_in": 3600}
PROCOUNTOR_TOKEN = {"access_token": "t", "expires_in": 3600}


def _failing(exc_type: type[Exception]) -> httpx.MockTransport:
    """Both token endpoints answer; every other request fails with `exc_type`."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/v1/token"):
            return httpx.Response(200, json=SEVERA_TOKEN)
        if request.url.path.endswith("/oauth/token"):
            return httpx.Response(200, json=PROCOUNTOR_TOKEN)
        raise exc_type("injected", request=request)

    return httpx.MockTransport(handler)


def _severa(transport: httpx.MockTransport) -> SeveraClient:
    return SeveraClient("http://severa.test/rest-api", "id", "secret", requests_per_second=1000, max_retries=0,
                        transport=transport)


def _procountor(transport: httpx.MockTransport) -> ProcountorClient:
    return ProcountorClient("http://procountor.test/api", "id", "secret", "key", requests_per_second=1000,
                            max_retries=0, transport=transport)


Call = Callable[[Any], Awaitable[Any]]
CALLS: list[tuple[str, Callable[[httpx.MockTransport], Any], Call, bool]] = [
    ("severa read", _severa, lambda c: c.list_invoices(), False),
    ("severa create", _severa, lambda c: c.create_customer({"name": "A"}), True),
    ("procountor read", _procountor, lambda c: c.get_invoice(1), False),
    ("procountor create", _procountor, lambda c: c.create_invoice({"type": "SALES_INVOICE"}), True),
]
NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@pytest.mark.parametrize("exc_type", TRANSPORT_ERRORS, ids=lambda c: c.__name__)
@pytest.mark.parametrize(("name", "make", "call", "create"), CALLS, ids=[c[0] for c in CALLS])
async def test_every_transport_error_leaves_the_client_as_a_transient_api_error(
    exc_type: type[Exception], name: str, make: Callable[[httpx.MockTransport], Any], call: Call, create: bool
) -> None:
    async with make(_failing(exc_type)) as client:
        with pytest.raises(ApiError) as caught:
            await call(client)
    assert isinstance(caught.value, TransientApiError), f"{exc_type.__name__} left as {type(caught.value)}"
    # A read never changes anything; a create may have reached the API unless the connection never opened.
    assert caught.value.maybe_applied is (create and not issubclass(exc_type, NEVER_SENT))


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 429, 500, 503])
def test_each_status_has_one_root_for_both_apis(status: int) -> None:
    severa = severa_error(status, b"", method="GET", path="/v1/x")
    procountor = procountor_error(status, None, "GET", "/x")
    expected_severa = {401: ApiAuthError, 403: ApiAuthError, 429: TransientApiError}.get(
        status, TransientApiError if status >= 500 else ApiDataError)
    # Procountor answers 403 for an action not allowed in the invoice's status or a closed fiscal year: data.
    expected_procountor = ApiAuthError if status == 401 else expected_severa if status != 403 else ApiDataError
    assert isinstance(severa, expected_severa) and isinstance(procountor, expected_procountor)
    roots = (TransientApiError, ApiDataError, ApiAuthError)
    assert sum(isinstance(severa, r) for r in roots) == 1 and sum(isinstance(procountor, r) for r in roots) == 1

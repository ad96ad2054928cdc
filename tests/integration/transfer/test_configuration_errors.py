"""Severa 401/403 and Procountor 401 are configuration errors (`failed_config`), not data errors: nothing is
written, the user is told which setting to fix, and the request is retried on the next cycle (issue 10)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from connectors.procountor.client import ProcountorClient
from connectors.severa.client import DEFAULT_SCOPES, SeveraClient
from sandbox.procountor.demo import DEMO_CLIENT_ID as P_ID
from sandbox.procountor.demo import DEMO_CLIENT_SECRET as P_SECRET
from sandbox.severa.demo import DEMO_CLIENT_ID as S_ID
from sandbox.severa.demo import DEMO_CLIENT_SECRET as S_SECRET
from streams.mapping.errors import SOLUTIONS
from streams.sales_invoice import SalesInvoiceTransfer

pytestmark = pytest.mark.integration

WAITING = "Waiting for transfer to Procountor"
FAST = {"requests_per_second": 500.0, "backoff_initial": 0.01, "backoff_max": 0.05, "max_retries": 1}


@asynccontextmanager
async def _severa(stack, secret: str = S_SECRET, scopes: tuple[str, ...] = DEFAULT_SCOPES
                  ) -> AsyncIterator[SeveraClient]:
    async with SeveraClient(f"{stack.severa_server.url}/rest-api", S_ID, secret, scopes=scopes, **FAST) as client:
        yield client


def _transfer(stack, severa: SeveraClient, procountor: dict[str, ProcountorClient]) -> SalesInvoiceTransfer:
    async def emit(name: str, record: dict) -> None:
        stack.events.append((name, record))

    return SalesInvoiceTransfer(severa, procountor, stack.companies, emit, directory=stack.directory)


async def _assert_config_failure(stack, transfer: SalesInvoiceTransfer, code: str, words: str) -> None:
    request = stack.request(10002)
    writes_before = stack.writes()
    result = await transfer.handle(request)
    assert result.state == "failed_config"
    final = [r for n, r in stack.events if n == "TransferOutcome" and r["request_id"] == request["event_id"]][-1]
    assert final["state"] == "failed_config"
    error = final["error"]
    assert (error["kind"], error["code"], error["record"]) == ("config", code, "sales invoice 10002")
    assert words in error["message"]
    assert error["solution"] == SOLUTIONS[code]
    assert stack.writes() == writes_before, "nothing is written when an API refuses the configuration"
    assert stack.procountor_invoices("FI", 10002) == []
    assert stack.severa_store.get("invoices", request["source_id"])["status"]["name"] == WAITING


async def test_procountor_refusing_the_api_key_is_a_configuration_error(stack) -> None:
    async with ProcountorClient(f"{stack.procountor_server.url}/api", P_ID, P_SECRET, "not-the-api-key",
                                **FAST) as refused:
        transfer = _transfer(stack, stack.severa, {**stack.procountor, "FI": refused})
        await _assert_config_failure(stack, transfer, "UNAUTHORIZED", "API key")


async def test_severa_refusing_the_client_secret_is_a_configuration_error(stack) -> None:
    async with _severa(stack, secret="wrong-secret") as refused:
        await _assert_config_failure(stack, _transfer(stack, refused, stack.procountor), "SEVERA_UNAUTHORIZED",
                                     "Invalid client credentials")


async def test_a_missing_severa_scope_is_a_configuration_error(stack) -> None:
    scopes = tuple(s for s in DEFAULT_SCOPES if s != "customers:read")
    async with _severa(stack, scopes=scopes) as narrow:
        await _assert_config_failure(stack, _transfer(stack, narrow, stack.procountor), "SEVERA_FORBIDDEN",
                                     "InsufficientApiScope")


async def test_once_the_configuration_is_fixed_the_retry_transfers(stack) -> None:
    async with _severa(stack, secret="wrong-secret") as refused:
        assert (await _transfer(stack, refused, stack.procountor).handle(stack.request(10002))).state == \
            "failed_config"
    # The retry on the next cycle, with the corrected secret: the same request goes through.
    result = await stack.transfer().handle(stack.request(10002))
    assert result.state == "succeeded", result.error
    assert len(stack.procountor_invoices("FI", 10002)) == 1

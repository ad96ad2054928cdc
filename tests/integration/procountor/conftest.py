"""Fixtures: a Procountor sandbox over a real socket and clients bound to its demo companies."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from connectors.procountor.client import ProcountorClient
from sandbox.procountor.app import create_app
from sandbox.procountor.demo import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_FI_API_KEY, example_sales_invoice
from sandbox.runner import SandboxServer


@pytest.fixture
def procountor_app() -> Any:
    return create_app(seed="demo", rate_limit_per_second=None)


@pytest.fixture
def procountor_server(procountor_app: Any) -> Iterator[SandboxServer]:
    with SandboxServer(procountor_app) as server:
        yield server


@pytest.fixture
def make_client(procountor_server: SandboxServer) -> Iterator[Callable[..., ProcountorClient]]:
    made: list[ProcountorClient] = []

    def make(api_key: str = DEMO_FI_API_KEY, **kwargs: Any) -> ProcountorClient:
        kwargs.setdefault("requests_per_second", 200.0)
        kwargs.setdefault("backoff_initial", 0.02)
        kwargs.setdefault("backoff_max", 0.2)
        client = ProcountorClient(f"{procountor_server.url}/api", DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, api_key, **kwargs)
        made.append(client)
        return client

    yield make


@pytest.fixture
async def fi_client(make_client: Callable[..., ProcountorClient]) -> AsyncIterator[ProcountorClient]:
    async with make_client() as client:
        yield client


@pytest.fixture
def invoice_body() -> Callable[..., dict[str, Any]]:
    return example_sales_invoice

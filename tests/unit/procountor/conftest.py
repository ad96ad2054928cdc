"""In-process fixtures for the sandbox rule tests: httpx over ASGI, already logged in to FI."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from sandbox.procountor.app import create_app
from sandbox.procountor.demo import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_FI_API_KEY, example_sales_invoice


@pytest.fixture
def app() -> Any:
    return create_app(seed="demo", rate_limit_per_second=None)


async def login(http: httpx.AsyncClient, api_key: str = DEMO_FI_API_KEY) -> None:
    token = await http.post(
        "/api/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
            "api_key": api_key,
        },
    )
    assert token.status_code == 200
    http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"


@pytest.fixture
async def api(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox") as http:
        await login(http)
        yield http


@pytest.fixture
def invoice_body() -> Callable[..., dict[str, Any]]:
    return example_sales_invoice

"""Fixtures for the Severa sandbox and client tests: sandboxes served by uvicorn on a real loopback socket."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import httpx
import pytest

from connectors.severa.client import SeveraClient
from sandbox.runner import SandboxServer
from sandbox.severa.app import create_app
from sandbox.severa.demo import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from sandbox.severa.store import ALL_SCOPES


class RunningSeveraSandbox:
    """A started sandbox: its URL, the API base URL, the store and the knobs/stats object."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.url = server.url
        self.base_url = f"{server.url}/rest-api"
        self.app = server.app
        self.store = server.app.state.store
        self.sandbox = server.app.state.sandbox

    def client(self, **kwargs: Any) -> SeveraClient:
        """A SeveraClient for the demo credentials; fast pacing and backoff unless overridden."""
        # All scopes by default, so tests can also put data in (the integration's own default is narrower).
        options: dict[str, Any] = {
            "requests_per_second": 200.0,
            "backoff_initial": 0.02,
            "backoff_max": 0.5,
            "scopes": list(ALL_SCOPES),
        }
        options.update(kwargs)
        client_id = options.pop("client_id", DEMO_CLIENT_ID)
        client_secret = options.pop("client_secret", DEMO_CLIENT_SECRET)
        return SeveraClient(self.base_url, client_id, client_secret, **options)

    def raw(self) -> httpx.Client:
        """A plain httpx client on the API base URL (for checking the sandbox itself)."""
        return httpx.Client(base_url=self.base_url, timeout=10)

    def token(self, scope: str | None = None) -> str:
        body: dict[str, Any] = {"client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET}
        if scope is not None:
            body["scope"] = scope
        response = httpx.post(f"{self.base_url}/v1/token", json=body, timeout=10)
        response.raise_for_status()
        return str(response.json()["access_token"])

    def stats(self) -> dict[str, Any]:
        return httpx.get(f"{self.url}/_sandbox/stats", timeout=10).json()


@contextmanager
def _serve(**knobs: Any) -> Iterator[RunningSeveraSandbox]:
    knobs.setdefault("seed", "demo")
    knobs.setdefault("rate_limit_per_second", None)
    with SandboxServer(create_app(**knobs)) as server:
        yield RunningSeveraSandbox(server)


@pytest.fixture
def severa_sandbox_factory() -> Callable[..., AbstractContextManager[RunningSeveraSandbox]]:
    """Start a sandbox with custom knobs: ``with severa_sandbox_factory(error_rate=1.0) as sb: ...``."""
    return _serve


@pytest.fixture
def severa() -> Iterator[RunningSeveraSandbox]:
    """A fresh demo-seeded sandbox (no quota, no faults) per test: tests may write to it."""
    with _serve() as running:
        yield running


@pytest.fixture(scope="module")
def severa_readonly() -> Iterator[RunningSeveraSandbox]:
    """One demo-seeded sandbox shared by a module's read-only tests."""
    with _serve() as running:
        yield running

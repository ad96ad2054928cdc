"""Both demo sandboxes over real sockets and the clients the registry comparison and the checks read with."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from connectors.procountor.client import ProcountorClient
from connectors.severa.client import SeveraClient
from foundation.company import CompanySettings, demo_companies_path, load_companies
from registry.compare import SeveraRegistries
from sandbox.procountor.app import create_app as procountor_app
from sandbox.procountor.demo import DEMO_CLIENT_ID as P_ID
from sandbox.procountor.demo import DEMO_CLIENT_SECRET as P_SECRET
from sandbox.procountor.demo import DEMO_FI_API_KEY, DEMO_SE_API_KEY
from sandbox.runner import SandboxServer
from sandbox.severa.app import create_app as severa_app
from sandbox.severa.demo import DEMO_CLIENT_ID as S_ID
from sandbox.severa.demo import DEMO_CLIENT_SECRET as S_SECRET

API_KEYS = {"FI": DEMO_FI_API_KEY, "SE": DEMO_SE_API_KEY}
FAST = {"requests_per_second": 500.0, "backoff_initial": 0.01, "backoff_max": 0.05, "max_retries": 1}


@dataclass
class Sandboxes:
    severa_server: SandboxServer
    procountor_server: SandboxServer

    @property
    def severa_url(self) -> str:
        return f"{self.severa_server.url}/rest-api"

    @property
    def procountor_url(self) -> str:
        return f"{self.procountor_server.url}/api"

    @property
    def severa_store(self) -> Any:
        return self.severa_server.app.state.store

    @property
    def procountor_store(self) -> Any:
        return self.procountor_server.app.state.store

    def severa(self, secret: str = S_SECRET) -> SeveraClient:
        return SeveraClient(self.severa_url, S_ID, secret, **FAST)

    def procountor(self, company: str, api_key: str | None = None) -> ProcountorClient:
        return ProcountorClient(self.procountor_url, P_ID, P_SECRET, api_key or API_KEYS[company],
                                **FAST)

    def env(self) -> dict[str, str]:
        """What `sevpro compare` / `sevpro check` read, pointing at these sandboxes."""
        return {
            "SEVPRO_SEVERA_URL": self.severa_url,
            "SEVPRO_PROCOUNTOR_URL": self.procountor_url,
            "SEVPRO_SEVERA_CLIENT_ID": S_ID,
            "SEVPRO_SEVERA_CLIENT_SECRET": S_SECRET,
            "SEVPRO_PROCOUNTOR_CLIENT_ID": P_ID,
            "SEVPRO_PROCOUNTOR_CLIENT_SECRET": P_SECRET,
            "SEVPRO_PROCOUNTOR_API_KEY_FI": DEMO_FI_API_KEY,
            "SEVPRO_PROCOUNTOR_API_KEY_SE": DEMO_SE_API_KEY,
            "SEVPRO_SEVERA_REQUESTS_PER_SECOND": "500",
            "SEVPRO_PROCOUNTOR_REQUESTS_PER_SECOND": "500",
            "SEVPRO_COMPANIES_FILE": str(demo_companies_path()),
            "COLUMNS": "200",
        }


def _demo() -> Iterator[Sandboxes]:
    with SandboxServer(severa_app(seed="demo", rate_limit_per_second=None)) as s_server, \
            SandboxServer(procountor_app(seed="demo", rate_limit_per_second=None)) as p_server:
        yield Sandboxes(s_server, p_server)


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    """Fresh demo sandboxes for a test that changes the demo data."""
    yield from _demo()


@pytest.fixture(scope="module")
def demo() -> Iterator[Sandboxes]:
    """Demo sandboxes shared by a module's tests that only read."""
    yield from _demo()


@pytest.fixture(scope="module")
async def demo_severa_data(demo: Sandboxes) -> SeveraRegistries:
    """One read of the Severa demo's registries, shared by the tests that only read."""
    async with demo.severa() as client:
        return await SeveraRegistries.fetch(client)


@pytest.fixture
def companies() -> dict[str, CompanySettings]:
    return load_companies(demo_companies_path())


@pytest.fixture
async def severa(sandboxes: Sandboxes) -> AsyncIterator[SeveraClient]:
    async with sandboxes.severa() as client:
        yield client


@pytest.fixture
async def demo_client(demo: Sandboxes) -> AsyncIterator[SeveraClient]:
    async with demo.severa() as client:
        yield client

"""schemathesis against both sandboxes over real sockets: whatever a client sends to the operations their
OpenAPI files describe (sandbox/*/openapi.yaml), typed or not, valid or not, each answers as its real API does:
2xx, or a refusal in the API's own error model; never 5xx and never a dropped connection."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from sandbox.procountor.app import create_app as procountor_app
from sandbox.procountor.demo import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_FI_API_KEY
from sandbox.runner import SandboxServer
from sandbox.severa.app import create_app as severa_app
from sandbox.severa.store import ALL_SCOPES

pytestmark = [
    pytest.mark.integration,
    pytest.mark.contract_exempt("schemathesis sends, and the sandboxes then echo, what no client sends, on purpose"),
]
SANDBOX = Path(__file__).resolve().parents[3] / "sandbox"
severa_schema = schemathesis.openapi.from_path(SANDBOX / "severa" / "openapi.yaml")
procountor_schema = schemathesis.openapi.from_path(SANDBOX / "procountor" / "openapi.yaml")
fuzz = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))


@dataclass
class Target:
    base_url: str
    headers: dict[str, str]
    error_model: Callable[[Any, Any, Any], None]

    def call(self, case: Any) -> None:
        case.call_and_validate(base_url=self.base_url, headers=self.headers,
                               checks=[not_a_server_error, self.error_model])


def severa_exception_model(ctx: Any, response: Any, case: Any) -> None:
    """404 has an empty body; any other refusal an ExceptionModel with its status and type."""
    if response.status_code == 404:
        assert response.content == b"", response.text[:200]
    elif 400 <= response.status_code < 500 and response.status_code != 405:  # 405: routing, not the API
        error = response.json()["error"]
        assert error["httpStatusCode"] == response.status_code and error["type"], error


def procountor_errors(ctx: Any, response: Any, case: Any) -> None:
    """A refusal carries `errors`, each with its status and message (and the field, where there is one)."""
    if 400 <= response.status_code < 500 and response.status_code not in (404, 405):
        errors = response.json().get("errors")
        assert isinstance(errors, list) and errors and all("message" in e and "status" in e for e in errors), errors


@pytest.fixture(scope="module")
def severa() -> Iterator[Target]:
    with SandboxServer(severa_app(seed="demo", rate_limit_per_second=None)) as server:
        token = httpx.post(f"{server.url}/rest-api/v1/token", json={
            "client_id": "sevpro-demo-client", "client_secret": "sevpro-demo-secret",
            "scope": ",".join(ALL_SCOPES)}).json()["access_token"]
        yield Target(f"{server.url}/rest-api", {"Authorization": f"Bearer {token}"}, severa_exception_model)


@pytest.fixture(scope="module")
def procountor() -> Iterator[Target]:
    with SandboxServer(procountor_app(seed="demo", rate_limit_per_second=None)) as server:
        token = httpx.post(f"{server.url}/api/oauth/token", data={
            "grant_type": "client_credentials", "client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET,
            "api_key": DEMO_FI_API_KEY}).json()["access_token"]
        yield Target(f"{server.url}/api", {"Authorization": f"Bearer {token}"}, procountor_errors)


@severa_schema.parametrize()
@fuzz
def test_no_request_makes_the_severa_sandbox_fail(case: Any, severa: Target) -> None:
    severa.call(case)


@procountor_schema.parametrize()
@fuzz
def test_no_request_makes_the_procountor_sandbox_fail(case: Any, procountor: Target) -> None:
    procountor.call(case)

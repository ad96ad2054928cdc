"""The middleware in front of a sandbox checks real exchanges over sockets and leaves them unchanged."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from contract.watch import ContractWatch, Recorder
from sandbox.runner import SandboxServer


async def _persons(request: Request) -> JSONResponse:
    # A person search that answers a field the public PersonBasicInfo lacks.
    return JSONResponse({"results": [{"id": 1, "lastName": "Virta", "employeeNumber": "E-1"}], "meta": {}})


def test_exchanges_through_the_watch_are_checked_and_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SandboxServer, "app_wrappers", [])  # only this test's own watch and record
    app = Starlette(routes=[Route("/api/persons", _persons), Route("/_sandbox/stats", _persons)])
    app.state.marker = "bare app"
    recorder = Recorder()
    with SandboxServer(ContractWatch(app, recorder)) as server:
        assert server.app.state.marker == "bare app"
        answer = httpx.get(f"{server.url}/api/persons", params={"personNumber": "E-1", "previousId": 3})
        assert answer.json()["results"][0]["employeeNumber"] == "E-1"  # passed through as the app answered
        httpx.get(f"{server.url}/_sandbox/stats")  # not an API path: not checked
    assert recorder.requests == {"procountor GET /persons": 1}
    assert sorted(str(v) for v in recorder.violations) == [
        "procountor GET /persons answer: results[].employeeNumber: PersonBasicInfo has no field 'employeeNumber'",
        "procountor GET /persons request: query previousId: not a parameter of GET /persons",
    ]
    assert recorder.unexpected_since(0) == list(recorder.violations)


def test_the_tests_wrap_every_sandbox_they_start() -> None:
    assert ContractWatch.around_sandbox in SandboxServer.app_wrappers
    sandbox_app = Starlette()
    sandbox_app.state.sandbox = object()
    assert isinstance(SandboxServer(sandbox_app)._server.config.app, ContractWatch)
    other = Starlette()  # e.g. the console, also served by SandboxServer in its tests
    assert SandboxServer(other)._server.config.app is other

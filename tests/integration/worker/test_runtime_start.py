"""The worker's runtime starts whatever the APIs answer at first: Severa refuses the worker's credentials until an
administrator enables them there again, and the worker then goes on without a restart; it never crashes."""

from __future__ import annotations

import asyncio

import pytest

from foundation.company import load_companies
from foundation.settings import Settings
from sandbox.procountor.app import create_app as procountor_app
from sandbox.runner import SandboxServer
from sandbox.severa.app import create_app as severa_app
from sevpro.demo import worker_environment
from streams.runtime import RuntimeStarter

pytestmark = pytest.mark.integration


async def test_refused_credentials_are_waited_out_not_a_crash(kafka, unique, monkeypatch) -> None:
    with SandboxServer(severa_app(seed="demo")) as severa, SandboxServer(procountor_app(seed="demo")) as procountor:
        env = worker_environment(kafka.bootstrap, severa.url, procountor.url, f"start-{unique}")
        env["SEVPRO_SEVERA_CLIENT_SECRET"] = "revoked-secret"
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings = Settings()
        starter = RuntimeStarter(settings, load_companies(env["SEVPRO_COMPANIES_FILE"]), kafka.bootstrap)
        start = asyncio.create_task(starter.get())
        await asyncio.sleep(3.0)
        assert not start.done(), "the runtime must keep waiting, not fail: " + repr(start.exception()
                                                                                     if start.done() else None)
        # The administrator enables the API client in Severa again: the runtime starts.
        severa.app.state.store.add_api_client(env["SEVPRO_SEVERA_CLIENT_ID"], "revoked-secret")
        try:
            runtime = await asyncio.wait_for(start, timeout=90)
            assert runtime.directory is not None
        finally:
            await starter.close()

"""Helpers for the console tests: they sign in as a user would, through the login form (console.testing.login)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from console import testing as sample_log
from sandbox.runner import SandboxServer


@contextmanager
def signed_in(app: Any) -> Iterator[httpx.Client]:
    """Serve `app` on a loopback port and yield a client signed in as the sample user."""
    with SandboxServer(app) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        assert sample_log.login(http).status_code == 303
        yield http

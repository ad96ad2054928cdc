"""Fixtures of the notification tests: an SMTP sink on loopback and the demo companies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from smtp_sink import SmtpSink

from foundation.company import CompanySettings, demo_companies_path, load_companies


@pytest.fixture
async def smtp_sink() -> AsyncIterator[SmtpSink]:
    sink = SmtpSink()
    server = await asyncio.start_server(sink.handle, "127.0.0.1", 0)
    sink.port = server.sockets[0].getsockname()[1]
    async with server:
        yield sink
        server.close()


@pytest.fixture
def companies() -> dict[str, CompanySettings]:
    """The demo organisation, FI sending error emails (in English, its `language` setting), SE not."""
    demo = load_companies(demo_companies_path())
    return {
        "FI": demo["FI"].model_copy(update={"send_error_email": True, "error_email": "billing@kumpula.example",
                                            "language": "en"}),
        "SE": demo["SE"],
    }

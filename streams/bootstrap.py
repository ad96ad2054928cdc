"""The worker's composition root: the one place where settings become a wired faust app.

`sevpro worker` checks the settings, finds the broker, and calls `bootstrap`; nothing else builds the app, the
runtime or the agents (cosmicpython's bootstrap.py is the model).
"""

from __future__ import annotations

from foundation.company import CompanySettings
from foundation.settings import Settings
from streams.agents import register
from streams.app import SevproApp, create_app
from streams.runtime import RuntimeStarter


def bootstrap(settings: Settings, companies: dict[str, CompanySettings], broker: str) -> SevproApp:
    """A faust app with every agent, timer and task of the worker; the runtime (API clients, transfers, pollers)
    is built whole inside the worker's event loop on first use."""
    app = create_app(settings, broker)
    register(app, RuntimeStarter(settings, companies, broker))
    return app

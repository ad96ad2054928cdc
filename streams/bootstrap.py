"""The worker's composition root: the one place where settings become a wired faust app.

`sevpro worker` checks the settings, finds the broker, and calls `bootstrap` (one tenant) or `bootstrap_pool`
(every tenant of the deployment); nothing else builds the app, the runtimes or the agents (cosmicpython's
bootstrap.py is the model).
"""

from __future__ import annotations

from foundation.company import CompanySettings
from foundation.settings import Settings
from streams.agents import register
from streams.app import SevproApp, create_app
from streams.live_settings import LiveSettings
from streams.pool import SingleTenant, TenantPool
from streams.runtime import RuntimeStarter


def bootstrap(settings: Settings, companies: dict[str, CompanySettings], broker: str, *,
              live_settings: bool = False) -> SevproApp:
    """A faust app with every agent, timer and task of the worker; the runtime (API clients, transfers, pollers)
    is built whole inside the worker's event loop on first use. With `live_settings` (SEVPRO_COMPANY_SETTINGS=
    topic) the worker follows the company settings topic and applies each change of its tenant at once."""
    app = create_app(settings, broker)
    starter = RuntimeStarter(settings, companies, broker)
    register(app, SingleTenant(starter))
    if live_settings:
        follower = LiveSettings(broker, settings.tenant, starter)

        @app.task
        async def follow_company_settings() -> None:
            """Apply `sevpro settings set|import` and `sevpro tenants disable` without a restart."""
            await follower.run()
    return app


def bootstrap_pool(settings: Settings, broker: str) -> SevproApp:
    """A pool worker (SEVPRO_POOL): the same agents, serving every enabled tenant of config.tenants with a runtime
    per tenant built on demand, and polling the tenants of the config.tenants partitions the group gives it."""
    app = create_app(settings, broker)
    register(app, TenantPool(settings, broker))
    return app

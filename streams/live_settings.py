"""Company settings applied live: the worker follows the compacted settings topic and applies each change of its
tenant at once, so that `sevpro settings set` takes effect on the next request, without a restart.

Only for a worker started with SEVPRO_COMPANY_SETTINGS=topic; the single-tenant way (SEVPRO_COMPANIES_FILE,
read at start) has no settings events and is left as it is. A disabled tenant (`sevpro tenants disable`) has
every company turned off: nothing more is transferred for it, and its settings stay as they were.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from foundation.company import CompanySettings
from foundation.logs import get_logger
from foundation.settings_directory import SettingsDirectory
from foundation.settings_events import SettingsRefused
from streams.runtime import RuntimeStarter

log = get_logger(__name__)
RETRY_MAX_SECONDS = 30.0
T = TypeVar("T")


async def retried_for_ever(step: Callable[[], Awaitable[T]], what: str, **context: Any) -> T:
    """`step()` until it returns: a worker's own task never gives up (a broker or an API that is down comes
    back). Each failure is logged as `what` with the wait, 2, 4 ... 30 s."""
    failures = 0
    while True:
        try:
            return await step()
        except Exception as error:  # noqa: BLE001 - never end the worker's task: say why and try again
            failures += 1
            delay = min(RETRY_MAX_SECONDS, 2.0 ** failures)
            log.error(what, **context, retry_in_s=delay, error=f"{type(error).__name__}: {error}"[:300])
            await asyncio.sleep(delay)


def effective_companies(directory: SettingsDirectory, tenant: str) -> dict[str, CompanySettings]:
    """The tenant's companies as the worker must run them: as set, or all turned off when the tenant is disabled.
    SettingsRefused when a company's settings no longer validate (the worker then keeps what it runs with)."""
    companies = directory.company_settings(tenant)
    config = directory.tenant(tenant)
    if config is not None and not config.enabled:
        return {name: company.model_copy(update={"enabled": False}) for name, company in companies.items()}
    return companies


class LiveSettings:
    """Follows the configuration topics for one tenant and applies its changes to the worker's runtime."""

    def __init__(self, bootstrap: str, tenant: str, starter: RuntimeStarter) -> None:
        self.bootstrap, self.tenant, self.starter = bootstrap, tenant, starter

    async def run(self) -> None:
        """Until cancelled (the worker stops): follow the topic; a broker that fails it is tried again, with the
        worker running on the settings it has meanwhile."""
        while True:
            await retried_for_ever(self._follow, "company settings topic cannot be followed, retrying",
                                   tenant=self.tenant)

    async def _follow(self) -> None:
        """Read to the end, apply, then apply each change as it comes."""
        directory = SettingsDirectory(self.bootstrap)
        await directory.start()
        try:
            await directory.catch_up()
            await self._apply(directory, [])  # a change made between the worker's start and now
            while True:
                changed = [r for r in await directory.poll(wait_seconds=1.0) if r["tenant"] == self.tenant]
                if changed:
                    await self._apply(directory, changed)
        finally:
            with contextlib.suppress(Exception):
                await directory.stop()

    async def _apply(self, directory: SettingsDirectory, records: list[dict]) -> None:
        try:
            companies = effective_companies(directory, self.tenant)
        except SettingsRefused as refused:  # written by an older model: keep running what runs, say why
            log.error("company settings on the topic no longer validate; the worker keeps the settings it runs with",
                      tenant=self.tenant, problems=refused.problems)
            return
        applied = await retried_for_ever(lambda: self.starter.apply(companies),
                                         "company settings not applied yet, retrying", tenant=self.tenant)
        for record in records:
            log.info("company settings applied", tenant=self.tenant, company=record.get("company", "(tenant)"),
                     revision=record["revision"], changed_by=record["changed_by"],
                     fields=[change["field"] for change in record["changes"]])
        if applied and not records:
            log.info("company settings applied", tenant=self.tenant, companies=applied)

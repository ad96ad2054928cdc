"""`sevpro compare` and `sevpro check` for a list of companies, as the JSON documents both the command line
(`--json`, and its tables) and the console's pages show: one function each, so they cannot disagree.

URLs and credentials come from the worker's settings (SEVPRO_SEVERA_*, SEVPRO_PROCOUNTOR_*, each company's API key
variable). Both only read.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, TypeVar

from connectors.procountor.client import ProcountorClient
from connectors.severa.client import SeveraClient
from connectors.severa.errors import SeveraError
from foundation.company import CompanySettings, CompanySettingsError
from foundation.kafka import KafkaSettingsError, KafkaUnreachable, finite_retention, reach, retention_fix
from foundation.settings import Settings
from registry.checks import Check, run_checks
from registry.compare import Report, SeveraRegistries, compare_registries

# An interactive command should answer within seconds when a system is down, not after the worker's backoff.
_MAX_RETRIES, _BACKOFF_INITIAL, _BACKOFF_MAX = 2, 0.2, 1.0

T = TypeVar("T")


def _severa(settings: Settings) -> SeveraClient:
    return SeveraClient(settings.severa_url, settings.severa_client_id,
                        settings.severa_client_secret.get_secret_value(),
                        requests_per_second=settings.severa_requests_per_second, max_retries=_MAX_RETRIES,
                        backoff_initial=_BACKOFF_INITIAL, backoff_max=_BACKOFF_MAX,
                        timeout=settings.http_timeout_seconds)


def _procountor(settings: Settings, company: CompanySettings) -> ProcountorClient:
    """Raises CompanySettingsError (naming the variable, not the key) when the API key is not set."""
    return ProcountorClient(settings.procountor_url, settings.procountor_client_id,
                            settings.procountor_client_secret.get_secret_value(),
                            company.procountor_api_key(os.environ),
                            requests_per_second=settings.procountor_requests_per_second, max_retries=_MAX_RETRIES,
                            backoff_initial=_BACKOFF_INITIAL, backoff_max=_BACKOFF_MAX,
                            timeout=settings.http_timeout_seconds)


async def _per_company(
    settings: Settings, companies: list[CompanySettings],
    work: Callable[[SeveraClient, ProcountorClient | None, CompanySettings, SeveraRegistries | None, str | None],
                   Awaitable[T]],
) -> list[T]:
    results = []
    async with _severa(settings) as severa:
        try:
            shared: SeveraRegistries | None = await SeveraRegistries.fetch(severa)  # read once for all companies
        except SeveraError:
            shared = None  # each company's work reports the Severa problem itself
        for company in companies:
            try:
                procountor: ProcountorClient | None = _procountor(settings, company)
                problem = None
            except CompanySettingsError as error:
                procountor, problem = None, str(error)
            try:
                results.append(await work(severa, procountor, company, shared, problem))
            finally:
                if procountor is not None:
                    await procountor.aclose()
    return results


async def compare_companies(settings: Settings, companies: list[CompanySettings]) -> tuple[list[Report], list[str]]:
    """Each company's registry comparison report, and why a company could not be compared."""

    async def one(severa: SeveraClient, procountor: ProcountorClient | None, company: CompanySettings,
                  shared: SeveraRegistries | None, problem: str | None) -> Report | str:
        if procountor is None:
            return problem or "no Procountor client"
        try:
            return await compare_registries(severa, procountor, company, severa_data=shared)
        except Exception as error:  # noqa: BLE001 - the report says which company could not be compared and why
            return f"company {company.name!r}: the registries could not be read: {error}"

    results = await _per_company(settings, companies, one)
    return [r for r in results if isinstance(r, Report)], [r for r in results if isinstance(r, str)]


def compare_document(reports: list[Report], failures: list[str]) -> dict[str, Any]:
    """`sevpro compare --json`."""
    return {"companies": [r.as_dict() for r in reports], "failures": failures}


async def check_companies(settings: Settings, companies: list[CompanySettings], bootstrap: str | None,
                          no_bootstrap: str = "no Kafka bootstrap given") -> list[Check]:
    """The checklist of each company, then the deployment's (its event topics on `bootstrap` keep their events;
    without one, a warning that says `no_bootstrap`)."""

    async def one(severa: SeveraClient, procountor: ProcountorClient | None, company: CompanySettings,
                  shared: SeveraRegistries | None, problem: str | None) -> list[Check]:
        return await run_checks(severa, procountor, company, severa_data=shared, procountor_problem=problem)

    checks = [c for group in await _per_company(settings, companies, one) for c in group]
    return checks + await kafka_checks(bootstrap, no_bootstrap)


async def kafka_checks(bootstrap: str | None, no_bootstrap: str) -> list[Check]:
    """The deployment's event topics keep their events (they are the system of record, for audit and replay)."""
    if not bootstrap:
        return [Check("Kafka", "kafka_retention", "warning", f"not checked: {no_bootstrap}")]
    try:
        await reach(bootstrap)
        found = await finite_retention(bootstrap)
    except (KafkaUnreachable, KafkaSettingsError) as error:
        return [Check("Kafka", "kafka_retention", "warning", f"not checked: {error}")]
    if not found:
        return [Check("Kafka", "kafka_retention", "ok", f"every event topic on {bootstrap} keeps its events (the "
                                                          "worker creates missing ones with retention.ms=-1)")]
    return [Check("Kafka", "kafka_retention", "error", f"deletes events with time ({setting})", record=topic,
                  field=setting.split("=")[0], fix=retention_fix(topic)) for topic, setting in found.items()]


def totals(checks: list[Check]) -> dict[str, int]:
    return {status: sum(1 for c in checks if c.status == status) for status in ("ok", "warning", "error", "reminder")}


def check_document(checks: list[Check], today: date | None = None) -> dict[str, Any]:
    """`sevpro check --json`."""
    return {"checks": [c.as_dict() for c in checks], **totals(checks),
            "date": (today or date.today()).isoformat()}

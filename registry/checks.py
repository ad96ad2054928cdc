"""The checks before enabling the integration for one company (the seed's "Enable the integration" list).

Each ``Check`` says ok, warning or error, which record and field it concerns and what to fix:

- Severa credentials work (``SEVPRO_SEVERA_CLIENT_ID`` / ``SEVPRO_SEVERA_CLIENT_SECRET`` at ``SEVPRO_SEVERA_URL``)
  and the company's business unit exists;
- the Procountor API key is in place and works (token and company info), it belongs to the company whose
  VAT number the Severa business unit has, and "if the API key is correct, you will be able to view all
  existing Procountor dimensions": the dimension names of the settings must be among them;
- the configured statuses exist in Severa with the flags the seed names: the invoice transfer status "Not
  editable, Invoice number, Sent" (``isReadOnly``, ``hasInvoiceNumber``, ``isSent``), the travel reimbursement
  statuses before and after "Locked and Approved" (``isLocked``, ``isApproved``);
- registry and data matching, bank accounts in IBAN format and user details: the registry comparison report
  (``registry.compare``), one check per difference;
- the seed's manual items ("Use of the integration has been confirmed with Procountor, and the old integration
  interface has been terminated"), which no API can tell: reminders, never an error.

Messages name settings and environment variables, never a key or a secret.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, Literal

from connectors.procountor.client import ProcountorClient
from connectors.procountor.errors import ProcountorAuthError, ProcountorError, ProcountorTransientError
from connectors.severa.client import SeveraClient
from connectors.severa.errors import SeveraAuthError, SeveraError, SeveraForbidden, SeveraTransientError
from foundation.company import CompanySettings
from registry.compare import REGISTRIES, Report, SeveraRegistries, compare_registries, find_company_unit
from streams.mapping.counter_party import normalise_business_id

Status = Literal["ok", "warning", "error", "reminder"]  # reminder: a manual item no API can verify

#: The seed's checklist items, in order, with what a person reads.
ITEMS: dict[str, str] = {
    "severa_credentials": "Severa API credentials",
    "business_unit": "Company business unit in Severa",
    "procountor_api_key": "Procountor API key",
    "procountor_company": "Procountor company",
    "dimensions": "Procountor dimensions",
    "default_codes": "Default codes",
    "statuses": "Invoice and travel reimbursement statuses",
    # Registry and data matching, one item per registry of the comparison report.
    **{name: title for name, title in REGISTRIES.items() if name not in ("company", "dimensions", "default_codes",
                                                                          "bank_accounts", "users")},
    "registries": "Registry and data matching",
    "bank_accounts": "Bank accounts in IBAN format",
    "users": "User details",
    "kafka_retention": "Event topics keep their events",  # of the deployment, not of one company
    "agreement": "Agreement with Procountor",
    "old_interface": "Old integration interface terminated",
}

# Which checklist item a registry of the report belongs to.
_REGISTRY_ITEM = {
    "company": "business_unit",
    "dimensions": "dimensions",
    "default_codes": "default_codes",
    "bank_accounts": "bank_accounts",
    "users": "users",
}


@dataclass(frozen=True)
class Check:
    company: str
    item: str  # a key of ITEMS
    status: Status
    message: str
    record: str | None = None
    field: str | None = None
    fix: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Credentials:
    """Names (never values) of where the credentials come from, for the messages."""

    severa_url: str = "SEVPRO_SEVERA_URL"
    severa_client: str = "SEVPRO_SEVERA_CLIENT_ID / SEVPRO_SEVERA_CLIENT_SECRET"
    procountor_url: str = "SEVPRO_PROCOUNTOR_URL"
    procountor_client: str = "SEVPRO_PROCOUNTOR_CLIENT_ID / SEVPRO_PROCOUNTOR_CLIENT_SECRET"


async def run_checks(
    severa: SeveraClient,
    procountor: ProcountorClient | None,
    company: CompanySettings,
    *,
    severa_data: SeveraRegistries | None = None,
    today: date | None = None,
    procountor_problem: str | None = None,
    names: Credentials = Credentials(),
) -> list[Check]:
    """Every check for ``company``. ``procountor`` is None when no client could be built (e.g. the API key's
    environment variable is unset); ``procountor_problem`` then says why."""
    checks: list[Check] = []
    unit = await _check_severa(severa, company, checks, names)
    if any(c.item == "severa_credentials" and c.status == "ok" for c in checks):
        try:
            travel = (await severa.list_travel_reimbursement_statuses()
                      if company.travel_reimbursements.enabled else [])
            checks.extend(status_checks(company, await severa.list_invoice_statuses(), travel))
        except SeveraError as error:
            checks.append(Check(company.name, "statuses", "error", f"the statuses could not be read: {error}"))
    checks.extend(manual_reminders(company))
    if procountor is None:
        checks.append(Check(company.name, "procountor_api_key", "error",
                            procountor_problem or "no Procountor client", field=company.procountor_api_key_env,
                            fix=f"Set the environment variable {company.procountor_api_key_env} to the company's "
                                "Procountor API key."))
        return checks
    ok = await _check_procountor(procountor, company, checks, names, unit=unit)
    if not ok or unit is None:
        return checks  # the registries cannot be compared without both systems
    try:
        report = await compare_registries(severa, procountor, company, severa_data=severa_data, today=today)
    except (SeveraError, ProcountorError) as error:
        checks.append(Check(company.name, "registries", "error", f"the registries could not be read: {error}"))
        return checks
    checks.extend(report_checks(report))
    return checks


async def _check_severa(severa: SeveraClient, company: CompanySettings, checks: list[Check],
                        names: Credentials) -> dict[str, Any] | None:
    """The company's business unit when Severa answers and has it, else None (and an error check)."""
    try:
        units = await severa.list_business_units()
    except SeveraAuthError:
        checks.append(Check(company.name, "severa_credentials", "error",
                            "Severa refused the API client credentials", field=names.severa_client,
                            fix=f"Set {names.severa_client} to a Severa API client of this organisation."))
        return None
    except SeveraForbidden as error:
        checks.append(Check(company.name, "severa_credentials", "error",
                            f"the Severa API client lacks a scope: {error.message}", field=names.severa_client,
                            fix="Give the API client the read scopes of the integration in Severa."))
        return None
    except SeveraTransientError as error:
        checks.append(Check(company.name, "severa_credentials", "error",
                            f"Severa cannot be reached at {severa.base_url}: {error.message}",
                            field=names.severa_url, fix=f"Check {names.severa_url}."))
        return None
    except SeveraError as error:
        checks.append(Check(company.name, "severa_credentials", "error", f"Severa answered: {error}",
                            field=names.severa_url))
        return None
    checks.append(Check(company.name, "severa_credentials", "ok", f"Severa API client works ({severa.base_url})"))
    unit = find_company_unit(units, company)
    setting = "severa_business_unit_guid" if company.severa_business_unit_guid else "severa_business_unit_name"
    wanted = company.severa_business_unit_guid or company.severa_business_unit_name
    if unit is None:
        checks.append(Check(company.name, "business_unit", "error", f"Severa has no business unit {wanted!r}",
                            field=setting,
                            fix="Name the Severa business unit that is this company (with its own VAT number)."))
        return None
    checks.append(Check(company.name, "business_unit", "ok",
                        f"business unit {unit.get('name')} (VAT number {unit.get('vatNumber') or '-'})",
                        record=f"business unit {unit.get('name')}"))
    return unit


async def _check_procountor(procountor: ProcountorClient, company: CompanySettings, checks: list[Check],
                            names: Credentials, *, unit: dict[str, Any] | None) -> bool:
    env = company.procountor_api_key_env
    try:
        info = await procountor.get_company()
    except ProcountorAuthError:
        checks.append(Check(
            company.name, "procountor_api_key", "error",
            f"Procountor refused the API key in {env} (or the client credentials {names.procountor_client})",
            field=env,
            fix=f"Create a new API key for this company in Procountor and set it in {env}.",
        ))
        return False
    except ProcountorTransientError as error:
        checks.append(Check(company.name, "procountor_api_key", "error",
                            f"Procountor cannot be reached at {procountor.base_url}: {error}",
                            field=names.procountor_url, fix=f"Check {names.procountor_url}."))
        return False
    except ProcountorError as error:
        checks.append(Check(company.name, "procountor_api_key", "error", f"Procountor answered: {error}",
                            field=env))
        return False
    identifier = info.get("businessIdentifier") or {}
    theirs = str(identifier.get("code") or "")
    checks.append(Check(company.name, "procountor_api_key", "ok",
                        f"API key in {env} works: Procountor company {info.get('name')} ({theirs or '-'})",
                        field=env))
    if unit is not None:
        checks.append(_same_company(company, unit, info, theirs))
    try:
        dimensions = await procountor.get_dimensions()
    except ProcountorError as error:
        checks.append(Check(company.name, "dimensions", "error", f"the dimensions could not be read: {error}"))
        return False
    shown = ", ".join(str(d.get("name")) for d in dimensions) or "(none)"
    checks.append(Check(company.name, "dimensions", "ok", f"{len(dimensions)} Procountor dimensions: {shown}"))
    return True


def _same_company(company: CompanySettings, unit: dict[str, Any], info: dict[str, Any], theirs: str) -> Check:
    """An API key of another Procountor company would post this company's invoices there."""
    ours = str(unit.get("vatNumber") or "")
    if not ours or not theirs:
        return Check(company.name, "procountor_company", "warning",
                     "cannot compare the business IDs: one of the systems has none",
                     record=f"business unit {unit.get('name')}", field="vatNumber")
    if normalise_business_id(ours, company.country) == normalise_business_id(theirs, company.country) or (
        ours.strip() == theirs.strip()
    ):
        return Check(company.name, "procountor_company", "ok",
                     f"the API key belongs to {info.get('name')}, business ID {theirs} as in Severa")
    return Check(
        company.name, "procountor_company", "warning",
        f"the API key belongs to {info.get('name')} ({theirs}), but Severa's business unit has VAT number {ours}",
        record=f"business unit {unit.get('name')}", field="vatNumber",
        fix=f"Check that {company.procountor_api_key_env} holds this company's API key, or correct the VAT number "
            "of the business unit in Severa.",
    )


# The flags the seed names for each status ("Select the following settings for the status: ..."), by Severa field.
_INVOICE_FLAGS = {"isReadOnly": "Not editable", "hasInvoiceNumber": "Invoice number", "isSent": "Sent"}
_TRAVEL_FLAGS = {"isLocked": "Locked", "isApproved": "Approved"}


def status_checks(company: CompanySettings, invoice_statuses: list[dict[str, Any]],
                  travel_statuses: list[dict[str, Any]]) -> list[Check]:
    """The configured statuses exist in Severa (by name in any case, or guid, as the transfers find them), are
    active, and have the flags the seed names: the invoice transfer status Not editable, Invoice number and
    Sent; the travel reimbursement statuses before and after Locked and Approved (when travel is on); the
    payment statuses (when payments back to Severa are on)."""
    sales, travel = company.sales_invoices, company.travel_reimbursements
    wanted: list[tuple[str, str | None, str, list[dict[str, Any]], dict[str, str], str]] = [
        ("invoice status", sales.transfer_status, "sales_invoices.transfer_status", invoice_statuses,
         _INVOICE_FLAGS, "Billing > Invoice statuses"),
        ("invoice status", sales.after_transfer_status, "sales_invoices.after_transfer_status", invoice_statuses,
         {}, "Billing > Invoice statuses"),
    ]
    if company.payments.enabled:  # payments back to Severa: the statuses a paid invoice is moved to
        wanted += [("invoice status", name, setting, invoice_statuses, {}, "Billing > Invoice statuses")
                   for name, setting in ((company.payments.paid_status, "payments.paid_status"),
                                         (company.payments.partly_paid_status, "payments.partly_paid_status"))
                   if name]
    if travel.enabled:
        where = "Hours and expenses > Travel reimbursements > Travel reimbursement statuses"
        wanted += [("travel reimbursement status", travel.status_before, "travel_reimbursements.status_before",
                    travel_statuses, _TRAVEL_FLAGS, where),
                   ("travel reimbursement status", travel.status_after, "travel_reimbursements.status_after",
                    travel_statuses, _TRAVEL_FLAGS, where)]
    checks = []
    for kind, name, setting, statuses, flags, where in wanted:
        found = next((s for s in statuses if name and (s.get("guid") == name
                                                        or str(s.get("name", "")).casefold() == name.casefold())),
                     None)
        record = f"{kind} {found.get('name') if found else name}"
        fix_place = f"in Severa (Settings > {where})"
        if found is None:
            checks.append(Check(company.name, "statuses", "error", f"Severa has no {kind} {name!r}", record=record,
                                field=setting, fix=f"Create the status {fix_place}, or name an existing one in "
                                                   f"{setting}."))
        elif found.get("isActive") is False:
            checks.append(Check(company.name, "statuses", "error", f"Severa's {kind} {name!r} is not active",
                                record=record, field=setting, fix=f"Activate the status {fix_place}."))
        elif missing := [label for flag, label in flags.items() if not found.get(flag)]:
            checks.append(Check(
                company.name, "statuses", "error",
                f"the {kind} lacks the setting{'s' if len(missing) > 1 else ''} {', '.join(missing)} (the seed: "
                f"{', '.join(flags.values())})", record=record, field=setting,
                fix=f"Select {', '.join(missing)} for the status {fix_place}."))
        else:
            shown = f" ({', '.join(flags.values())})" if flags else ""
            checks.append(Check(company.name, "statuses", "ok", f"{kind} {found.get('name')!r} exists{shown}",
                                record=record, field=setting))
    return checks


def manual_reminders(company: CompanySettings) -> list[Check]:
    """The seed's "Agreement matters", which no API can verify: shown on every check, never an error."""
    return [
        Check(company.name, "agreement", "reminder",
              "confirm that the company has a valid agreement with Procountor for using Procountor and the "
              "integration (the seed's \"Agreement matters\")",
              fix="Confirm the use of the integration with Procountor before enabling it."),
        Check(company.name, "old_interface", "reminder",
              "if the company has used the old interface from Severa to Procountor, it must be terminated before "
              "the new integration is taken into use",
              fix="Terminate the old interface via Procountor's customer service."),
    ]


def report_checks(report: Report) -> list[Check]:
    """One check per warning or error of the report; one ok check per registry without any."""
    checks: list[Check] = []
    for registry in REGISTRIES:
        if registry == "company":
            continue  # the business unit was checked directly
        item = _REGISTRY_ITEM.get(registry, registry)
        findings = report.registry(registry)
        needing = [f for f in findings if f.severity in ("warning", "error")]
        for finding in needing:
            checks.append(Check(report.company, item, "error" if finding.severity == "error" else "warning",
                                finding.message, record=finding.record, field=finding.field,
                                fix=finding.fix))
        if not needing and findings:
            matched = sum(1 for f in findings if f.severity == "ok")
            checks.append(Check(report.company, item, "ok", f"{matched} matched, no differences"))
    return checks


def exit_code(checks: list[Check]) -> int:
    """1 when any check is an error (the integration should not be enabled yet), else 0."""
    return 1 if any(c.status == "error" for c in checks) else 0

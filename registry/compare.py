"""Registry comparison report: how Severa's registries match one company's Procountor environment.

The seed's "Registry comparison report" and the "Registry and data matching" item of its checklist before
enabling the integration. Per company, and with the same matching rules the transfers use:

- customers ↔ business partners by customer number only (the seed), with the business ID compared as the
  transfer compares it (``REGISTRY_MISMATCH``), the business ID's format (``ERROR_BRN_CODE``) and the postal
  address the seed asks for;
- products and work types ↔ Procountor SALES product codes; travel expense types ↔ TRAVEL products valid
  today (codes change yearly); the three default codes must exist;
- projects, cost centers and business units ↔ items of the dimensions named in the settings;
- users (employee number, IBAN) ↔ Procountor persons by person number, when travel reimbursements are on;
- the company's bank accounts in IBAN format;
- sales accounts ↔ Procountor's chart of accounts (the seed: "The sales account number must match Procountor's
  information"): Severa's active sales accounts missing there, and Procountor's sales accounts (class 3 of the
  Finnish and the Swedish charts) missing in Severa.

Fetching (``SeveraRegistries.fetch``, ``ProcountorRegistries.fetch``) uses only the clients' read methods;
``build_report`` and the ``compare_*`` functions are pure, so every rule is tested without a network.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Literal

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from connectors.procountor.client import ProcountorClient
from connectors.severa.client import SeveraClient
from foundation.company import CompanySettings
from foundation.privacy import mask_personal_codes
from foundation.types import Json
from streams.mapping.counter_party import normalise_business_id
from streams.mapping.countries import iso2
from streams.mapping.errors import SOLUTIONS
from streams.mapping.text import non_cp1252

Severity = Literal["ok", "info", "warning", "error"]
SEVERITIES: tuple[Severity, ...] = ("ok", "info", "warning", "error")

#: Registries in report order, with the title a person reads.
REGISTRIES: dict[str, str] = {
    "company": "Company",
    "customers": "Customers ↔ business partners",
    "products": "Products ↔ Procountor products",
    "work_types": "Work types ↔ Procountor products",
    "travel_expense_types": "Travel expense types ↔ Procountor travel products",
    "default_codes": "Default codes",
    "dimensions": "Dimensions",
    "projects": "Projects ↔ dimension items",
    "cost_centers": "Cost centers ↔ dimension items",
    "business_units": "Business units ↔ dimension items",
    "users": "Users ↔ persons",
    "bank_accounts": "Bank accounts",
    "sales_accounts": "Sales accounts ↔ chart of accounts",
}

# Every company setting's country is FI or SE; a customer of any other country may be invoiced by either.
_COMPANY_COUNTRIES = ("FI", "SE")


@dataclass(frozen=True)
class Finding:
    """One row of the report: a record matched, or a difference with the field and what to fix."""

    registry: str
    key: str  # customer number, code, project number, employee number, …
    status: str  # matched, only_in_severa, only_in_procountor, business_id_mismatch, …
    severity: Severity
    record: str  # "customer 1005 Eskola Energia Oy"
    field: str | None = None  # where the value lives (Severa's field, or the company setting)
    severa: str | None = None
    procountor: str | None = None
    message: str = ""
    fix: str | None = None


@dataclass
class Report:
    company: str
    today: date
    findings: list[Finding] = field(default_factory=list)

    def registry(self, name: str) -> list[Finding]:
        return [f for f in self.findings if f.registry == name]

    def differences(self, *, at_least: Severity = "warning") -> list[Finding]:
        """Findings that need a look: warnings and errors by default."""
        floor = SEVERITIES.index(at_least)
        return [f for f in self.findings if SEVERITIES.index(f.severity) >= floor]

    def counts(self) -> dict[str, Counter[str]]:
        counts: dict[str, Counter[str]] = {name: Counter() for name in REGISTRIES}
        for finding in self.findings:
            counts.setdefault(finding.registry, Counter())[finding.severity] += 1
        return counts

    def as_dict(self) -> Json:
        return {
            "company": self.company,
            "date": self.today.isoformat(),
            "summary": {name: dict(counter) for name, counter in self.counts().items() if counter},
            "findings": [asdict(f) for f in self.findings],
        }


# ------------------------------------------------------------------------------------------- snapshots


@dataclass
class SeveraRegistries:
    """What the comparison reads from Severa (the whole organisation; scoped per company when compared)."""

    business_units: list[Json]
    customers: list[Json]  # each with "addresses" (GET /v1/customers/{guid}/addresses)
    projects: list[Json]
    products: list[Json]
    work_types: list[Json]
    travel_expense_types: list[Json]
    users: list[Json]
    bank_accounts: list[Json]
    sales_accounts: list[Json] = field(default_factory=list)

    @classmethod
    async def fetch(cls, severa: SeveraClient) -> SeveraRegistries:
        customers = await severa.list_customers()
        active = [c for c in customers if c.get("isActive", True)]
        # The postal address is only on the address list; the client's limiter paces these calls.
        addresses = await asyncio.gather(*(severa.get_customer_addresses(c["guid"]) for c in active))
        for customer, found in zip(active, addresses, strict=True):
            customer["addresses"] = found
        return cls(
            business_units=await severa.list_business_units(),
            customers=active,
            projects=await severa.list_projects(),
            products=await severa.list_products(),
            work_types=await severa.list_work_types(),
            travel_expense_types=await severa.list_travel_expense_types(),
            users=await severa.list_users(),
            bank_accounts=await severa.list_bank_accounts(),
            sales_accounts=await severa.list_sales_accounts(),
        )


@dataclass
class ProcountorRegistries:
    """What the comparison reads from one company's Procountor environment."""

    partners: list[Json]  # CUSTOMER business partners (basic info)
    sales_products: list[Json]
    travel_products: list[Json]
    dimensions: list[Json]
    persons: dict[str, Json | None]  # person number → person, for the employee numbers asked about
    ledger_accounts: list[Json] = field(default_factory=list)  # GET /coa

    @classmethod
    async def fetch(cls, procountor: ProcountorClient, person_numbers: Iterable[str] = ()) -> ProcountorRegistries:
        numbers = sorted(set(person_numbers))
        persons = await asyncio.gather(*(procountor.find_person(n) for n in numbers))
        return cls(
            partners=await _all_partners(procountor),
            sales_products=await _all_products(procountor, "SALES"),
            travel_products=await _all_products(procountor, "TRAVEL"),
            dimensions=await procountor.get_dimensions(),
            persons=dict(zip(numbers, persons, strict=True)),
            ledger_accounts=await procountor.get_chart_of_accounts(),
        )


async def _all_partners(procountor: ProcountorClient) -> list[Json]:
    found: list[Json] = []
    page = 0
    while True:
        result = await procountor.search_business_partners(type="CUSTOMER", size=200, page=page)
        results = result.get("results") or []
        found.extend(results)
        if len(results) < 200:
            return found
        page += 1


async def _all_products(procountor: ProcountorClient, product_type: str) -> list[Json]:
    # Keyset paging in Procountor's default order (id descending): the next page is below the last id.
    found: list[Json] = []
    previous: int | None = None
    while True:
        result = await procountor.search_products(type=product_type, active=True, size=200, previous_id=previous)
        results = result.get("results") or []
        found.extend(results)
        if len(results) < 200:
            return found
        previous = min(int(p["id"]) for p in results)


async def compare_registries(
    severa: SeveraClient,
    procountor: ProcountorClient,
    company: CompanySettings,
    *,
    severa_data: SeveraRegistries | None = None,
    today: date | None = None,
) -> Report:
    """Read both systems and compare them for ``company``; pass ``severa_data`` to reuse one Severa read."""
    data = severa_data or await SeveraRegistries.fetch(severa)
    units = company_units(data.business_units, company)
    numbers: list[str] = []
    if company.travel_reimbursements.enabled and units:
        numbers = [str(u["code"]).strip() for u in company_users(data.users, units) if (u.get("code") or "").strip()]
    theirs = await ProcountorRegistries.fetch(procountor, numbers)
    return build_report(company, data, theirs, today or date.today())


# ------------------------------------------------------------------------------------------ the report


def build_report(
    company: CompanySettings, severa: SeveraRegistries, procountor: ProcountorRegistries, today: date
) -> Report:
    """The whole comparison for one company, from the two snapshots (pure)."""
    report = Report(company.name, today)
    add = report.findings.extend
    unit = find_company_unit(severa.business_units, company)
    if unit is None:
        wanted = company.severa_business_unit_guid or company.severa_business_unit_name or ""
        add([Finding(
            "company", wanted, "missing_business_unit", "error", f"company {company.name}",
            field="severa_business_unit_guid" if company.severa_business_unit_guid else "severa_business_unit_name",
            severa=None, message=f"Severa has no business unit {wanted!r}",
            fix="Name the Severa business unit that is this company (with its own VAT number) in the settings.",
        )])
        units: set[str] = set()
    else:
        units = company_units(severa.business_units, company)
        add([Finding("company", company.name, "matched", "ok", f"business unit {unit.get('name')}",
                     severa=unit.get("name"), message="the company's Severa business unit")])
    projects = [p for p in severa.projects if _guid(p.get("businessUnit")) in units]
    open_projects = [p for p in projects if not p.get("isClosed")]
    customers = company_customers(severa.customers, severa.projects, units, company.country)
    add(compare_customers(customers, procountor.partners, create_customers=company.create_customers))
    defaults = {company.default_product_code, company.default_work_type_code}
    sales_codes = {str(p.get("code")) for p in procountor.sales_products if p.get("code")}
    add(compare_codes("products", "product", severa.products, sales_codes, create=company.create_products))
    add(compare_codes("work_types", "work type", severa.work_types, sales_codes, create=company.create_products))
    used = {str(i.get("code")).strip() for i in (*severa.products, *severa.work_types) if i.get("code")}
    add(products_only_in_procountor(procountor.sales_products, used | defaults))
    add(compare_travel_expense_types(severa.travel_expense_types, procountor.travel_products, today,
                                     default=company.default_travel_expense_code))
    add(check_default_codes(company, procountor.sales_products, procountor.travel_products, today))
    add(check_dimension_names(company, procountor.dimensions))
    by_name = {str(d.get("name")): d for d in procountor.dimensions}
    add(compare_dimension("projects", company.project_dimension, by_name, project_items(open_projects)))
    add(compare_dimension("cost_centers", company.cost_center_dimension, by_name,
                          cost_center_items(open_projects, severa.business_units, units)))
    add(compare_dimension("business_units", company.business_unit_dimension, by_name,
                          business_unit_items(severa.business_units, units)))
    add(check_project_names(open_projects))
    if not company.travel_reimbursements.enabled:
        add([Finding("users", "-", "not_checked", "info", "users",
                     message="travel reimbursements are not enabled for this company: users not checked")])
    else:
        add(compare_users(company_users(severa.users, units), procountor.persons,
                          update_persons=company.travel_reimbursements.update_persons))
    add(check_bank_accounts(company_bank_accounts(severa.bank_accounts, severa.business_units, units)))
    add(compare_sales_accounts(severa.sales_accounts, procountor.ledger_accounts,
                               transfer=company.sales_invoices.transfer_sales_accounts))
    return report


# ------------------------------------------------------------------------------------ company scoping


def _guid(ref: Any) -> str | None:
    return ref.get("guid") if isinstance(ref, Mapping) else None


def find_company_unit(units: list[Json], company: CompanySettings) -> Json | None:
    """The Severa business unit that is this company: by guid, else by name (case-insensitive)."""
    if company.severa_business_unit_guid:
        return next((u for u in units if str(u.get("guid", "")).lower() == company.severa_business_unit_guid), None)
    wanted = (company.severa_business_unit_name or "").casefold()
    return next((u for u in units if str(u.get("name", "")).casefold() == wanted), None)


def company_units(units: list[Json], company: CompanySettings) -> set[str]:
    """Guids of the company's business unit and every unit below it (e.g. Kumpula Labs under the FI company)."""
    root = find_company_unit(units, company)
    if root is None:
        return set()
    found = {root["guid"]}
    grew = True
    while grew:
        below = {u["guid"] for u in units if u.get("parentGuid") in found} - found
        grew = bool(below)
        found |= below
    return found


def customer_country(customer: Json) -> str | None:
    """ISO code of the customer: its postal address's country, else the headquarters' (as the transfer)."""
    postal = postal_address(customer)
    for raw in ((postal or {}).get("country"), (customer.get("headquarterAddress") or {}).get("country")):
        if raw and (code := iso2(raw)):
            return code
    return None


def postal_address(customer: Json) -> Json | None:
    return next((a for a in customer.get("addresses") or [] if a.get("isPostalAddress")), None)


def company_customers(customers: list[Json], projects: list[Json], units: set[str], country: str) -> list[Json]:
    """The customers this company invoices: those with a project in its business units; a customer without
    projects by its country (one of neither FI nor SE, or of no country, may be invoiced by any company)."""
    project_units: dict[str, set[str | None]] = {}
    for project in projects:
        customer_guid = _guid(project.get("customer"))
        if customer_guid:
            project_units.setdefault(customer_guid, set()).add(_guid(project.get("businessUnit")))
    chosen = []
    for customer in customers:
        hosted = project_units.get(customer.get("guid", ""))
        if hosted:
            if hosted & units:
                chosen.append(customer)
            continue
        found = customer_country(customer)
        if found is None or found == country or found not in _COMPANY_COUNTRIES:
            chosen.append(customer)
    return chosen


def company_users(users: list[Json], units: set[str]) -> list[Json]:
    return [u for u in users if u.get("isActive", True) and _guid(u.get("businessUnit")) in units]


def company_bank_accounts(accounts: list[Json], business_units: list[Json], units: set[str]) -> list[Json]:
    companies = {u.get("companyGuid") for u in business_units if u.get("guid") in units and u.get("companyGuid")}
    return [
        a for a in accounts
        if a.get("isActive", True)
        and (_guid(a.get("businessUnit")) in units or _guid(a.get("company")) in companies)
    ]


# ------------------------------------------------------------------------------------------- customers


def _customer_record(customer: Json) -> str:
    return f"customer {customer.get('number')} {customer.get('name') or ''}".rstrip()


def compare_customers(customers: list[Json], partners: list[Json], *, create_customers: bool) -> list[Finding]:
    """Severa customers ↔ Procountor CUSTOMER partners by customer number only (the seed's rule)."""
    findings: list[Finding] = []
    by_number = {
        str((p.get("invoicingInfo") or {}).get("customerNumber")): p
        for p in partners
        if (p.get("invoicingInfo") or {}).get("customerNumber")
    }
    seen: set[str] = set()
    for customer in sorted(customers, key=lambda c: str(c.get("number"))):
        record = _customer_record(customer)
        if customer.get("number") is None:
            findings.append(Finding("customers", "-", "missing_customer_number", "error", record, field="number",
                                    message="the customer has no customer number",
                                    fix=SOLUTIONS["MISSING_CUSTOMER_NUMBER"]))
            continue
        key = str(customer["number"])
        seen.add(key)
        own = customer_problems(customer)
        partner = by_number.get(key)
        country = customer_country(customer)
        ours_raw = str(customer.get("vatNumber") or "").strip()
        if partner is None:
            findings.append(Finding(
                "customers", key, "only_in_severa", "warning" if create_customers else "error", record,
                field="number", severa=customer.get("name"),
                message=("not in Procountor: created there with its first sales invoice" if create_customers
                         else "not in Procountor, and customer creation is off: its invoices will fail"),
                fix=None if create_customers else SOLUTIONS["MISSING_CUSTOMER"],
            ))
        else:
            theirs_raw = str((partner.get("invoicingInfo") or {}).get("identifier") or "").strip()
            ours = normalise_business_id(ours_raw, country) if ours_raw and country else ours_raw or None
            theirs = normalise_business_id(theirs_raw, country) if theirs_raw and country else theirs_raw or None
            if ours and theirs_raw and theirs != ours:
                name = str(customer.get("name"))
                findings.append(Finding(
                    "customers", key, "business_id_mismatch", "error", record, field="vatNumber",
                    severa=mask_personal_codes(ours_raw), procountor=mask_personal_codes(theirs_raw),
                    message=(f"Could not add {name} to Procountor, because another partner {name} with the same "
                             "number and different VAT number already exists there."),
                    fix=SOLUTIONS["REGISTRY_MISMATCH"],
                ))
            elif not own:
                findings.append(Finding("customers", key, "matched", "ok", record, field="number",
                                        severa=customer.get("name"), procountor=partner.get("name"),
                                        message="matched by customer number"))
        findings.extend(own)
    for key, partner in sorted(by_number.items()):
        if key not in seen:
            findings.append(Finding(
                "customers", key, "only_in_procountor", "warning", f"business partner {key} {partner.get('name')}",
                field="invoicingInfo.customerNumber", procountor=partner.get("name"),
                message="no Severa customer has this number: a new Severa customer with it would be linked to it",
                fix="Check that the customer numbers correspond exactly between the systems.",
            ))
    return findings


def customer_problems(customer: Json) -> list[Finding]:
    """A customer card's business ID and postal address, as the transfer will need them."""
    record, key = _customer_record(customer), str(customer.get("number"))
    found: list[Finding] = []
    country = customer_country(customer)
    raw = str(customer.get("vatNumber") or "").strip()
    if not raw:
        found.append(Finding("customers", key, "missing_business_id", "warning", record, field="vatNumber",
                             message="the customer has no business ID: it is transferred without one"))
    elif country in _COMPANY_COUNTRIES and normalise_business_id(raw, country) is None:
        kind = "Y-tunnus or henkilötunnus" if country == "FI" else "organisationsnummer or personnummer"
        shown = mask_personal_codes(raw)  # a mistyped personal code is still one
        found.append(Finding("customers", key, "invalid_business_id", "error", record, field="vatNumber",
                             severa=shown, message=f"{shown!r} is not a valid {kind}",
                             fix=SOLUTIONS["ERROR_BRN_CODE"]))
    postal = postal_address(customer)
    if postal is None:
        found.append(Finding("customers", key, "missing_address", "error", record, field="addresses.isPostalAddress",
                             message="the customer has no address with the Postal address checkbox",
                             fix=SOLUTIONS["MISSING_ADDRESS"]))
    else:
        missing = [name for name in ("addressline", "postalCode", "city", "country") if not postal.get(name)]
        if missing:
            found.append(Finding("customers", key, "missing_address", "error", record,
                                 field=", ".join(f"addresses.{m}" for m in missing),
                                 message=f"the postal address has no {', '.join(missing)}",
                                 fix=SOLUTIONS["MISSING_ADDRESS"]))
    return found


# -------------------------------------------------------------------------------------- product codes


def _active_coded(items: Iterable[Json]) -> tuple[list[Json], list[Json]]:
    active = [i for i in items if i.get("isActive", True)]
    return [i for i in active if str(i.get("code") or "").strip()], [i for i in active
                                                                     if not str(i.get("code") or "").strip()]


def compare_codes(
    registry: str, label: str, items: list[Json], procountor_codes: set[str], *, create: bool
) -> list[Finding]:
    """Severa products or work types ↔ Procountor SALES product codes (exact codes, as the transfer)."""
    findings: list[Finding] = []
    coded, uncoded = _active_coded(items)
    for item in sorted(coded, key=lambda i: str(i["code"])):
        code = str(item["code"]).strip()
        record = f"{label} {code} {item.get('name') or ''}".rstrip()
        if code in procountor_codes:
            findings.append(Finding(registry, code, "matched", "ok", record, field="code", severa=item.get("name"),
                                    procountor=code, message="code found in Procountor's product registry"))
        else:
            findings.append(Finding(
                registry, code, "only_in_severa", "warning" if create else "error", record, field="code",
                severa=item.get("name"),
                message=("not in Procountor's product registry: created there with its first invoice" if create
                         else "not in Procountor's product registry, and product creation is off"),
                fix=None if create else SOLUTIONS["MISSING_PRODUCT_CODE"],
            ))
    for item in uncoded:
        findings.append(Finding(registry, "-", "no_code", "info", f"{label} {item.get('name')}", field="code",
                                severa=item.get("name"), message="no code: transferred with the default code"))
    return findings


def products_only_in_procountor(products: list[Json], used: set[str]) -> list[Finding]:
    return [
        Finding("products", str(p["code"]), "only_in_procountor", "info", f"Procountor product {p['code']}",
                field="code", procountor=p.get("name"), message="in Procountor only (not used by Severa)")
        for p in sorted(products, key=lambda p: str(p.get("code")))
        if p.get("code") and str(p["code"]) not in used
    ]


def valid_on(product: Json, day: date) -> bool:
    """A TRAVEL product's validity window (open ends are valid)."""
    start, end = product.get("startDate"), product.get("endDate")
    return (not start or date.fromisoformat(str(start)[:10]) <= day) and (
        not end or date.fromisoformat(str(end)[:10]) >= day
    )


def _validity(product: Json) -> str:
    return f"valid {product.get('startDate') or '…'}–{product.get('endDate') or '…'}"


def compare_travel_expense_types(
    types: list[Json], travel_products: list[Json], today: date, *, default: str | None = None
) -> list[Finding]:
    """Severa travel expense types ↔ Procountor TRAVEL products valid today (travel codes change yearly)."""
    findings: list[Finding] = []
    by_code: dict[str, list[Json]] = {}
    for product in travel_products:
        if product.get("code"):
            by_code.setdefault(str(product["code"]), []).append(product)
    coded, uncoded = _active_coded(types)
    for item in sorted(coded, key=lambda i: str(i["code"])):
        code = str(item["code"]).strip()
        record = f"travel expense type {code} {item.get('name') or ''}".rstrip()
        candidates = by_code.get(code, [])
        if any(valid_on(p, today) for p in candidates):
            findings.append(Finding("travel_expense_types", code, "matched", "ok", record, field="code",
                                    severa=item.get("name"), procountor=code,
                                    message=f"travel product valid on {today.isoformat()}"))
        elif candidates:
            findings.append(Finding(
                "travel_expense_types", code, "not_valid_today", "error", record, field="code",
                severa=item.get("name"), procountor="; ".join(_validity(p) for p in candidates),
                message=f"Procountor's travel product {code} is not valid on {today.isoformat()}",
                fix="Travel expense codes change yearly: update the code in Severa to this year's Procountor code.",
            ))
        else:
            findings.append(Finding(
                "travel_expense_types", code, "only_in_severa", "error", record, field="code",
                severa=item.get("name"), message="not in Procountor's travel expense registry",
                fix=("Edit the travel expense type's code in Severa to match Procountor's travel expense registry "
                     "(travel products are never created by the integration)."),
            ))
    for item in uncoded:
        findings.append(Finding("travel_expense_types", "-", "no_code", "info",
                                f"travel expense type {item.get('name')}", field="code", severa=item.get("name"),
                                message=f"no code: transferred with the default code {default or ''}".rstrip()))
    return findings


def check_default_codes(
    company: CompanySettings, sales_products: list[Json], travel_products: list[Json], today: date
) -> list[Finding]:
    """The three default codes of the settings must exist (the travel one valid today)."""
    sales = {str(p.get("code")) for p in sales_products}
    travel = {str(p.get("code")) for p in travel_products if valid_on(p, today)}
    findings = []
    for setting, code, codes, where in (
        ("default_product_code", company.default_product_code, sales, "product registry"),
        ("default_work_type_code", company.default_work_type_code, sales, "product registry"),
        ("default_travel_expense_code", company.default_travel_expense_code, travel, "travel expense registry"),
    ):
        record = f"setting {setting}"
        if code in codes:
            findings.append(Finding("default_codes", code, "matched", "ok", record, field=setting, severa=code,
                                    procountor=code, message=f"found in Procountor's {where}"))
        else:
            findings.append(Finding("default_codes", code, "missing_default_code", "error", record, field=setting,
                                    severa=code, message=f"{code!r} is not in Procountor's {where}",
                                    fix=SOLUTIONS["MISSING_DEFAULT_CODE"]))
    return findings


# ------------------------------------------------------------------------------------------ dimensions

_DIMENSION_SETTINGS = (
    ("project_dimension", "projects"),
    ("cost_center_dimension", "cost centers"),
    ("business_unit_dimension", "business units"),
)


def check_dimension_names(company: CompanySettings, dimensions: list[Json]) -> list[Finding]:
    """The dimension names of the settings must be Procountor dimensions (names must match exactly)."""
    names = [str(d.get("name")) for d in dimensions]
    findings = []
    for setting, label in _DIMENSION_SETTINGS:
        wanted = getattr(company, setting)
        if wanted is None:
            findings.append(Finding("dimensions", "-", "not_set", "info", f"setting {setting}", field=setting,
                                    message=f"no dimension name: {label} are not transferred as dimensions"))
        elif wanted in names:
            findings.append(Finding("dimensions", wanted, "matched", "ok", f"dimension {wanted}", field=setting,
                                    severa=wanted, procountor=wanted, message=f"{label} go to this dimension"))
        else:
            findings.append(Finding(
                "dimensions", wanted, "missing_dimension", "error", f"dimension {wanted}", field=setting,
                severa=wanted, message=f"Procountor has no dimension named {wanted!r}",
                fix=f"Choose one of Procountor's dimensions: {', '.join(names) or '(none)'}.",
            ))
    return findings


@dataclass(frozen=True)
class WantedItem:
    code: str  # the item's codeName in Procountor
    record: str
    field: str
    label: str | None = None


def project_items(projects: list[Json]) -> list[WantedItem]:
    # The transfer names a project's item by the project number (streams.mapping.sales_invoice.row_dimensions).
    return [
        WantedItem(str(p["number"]), f"project {p['number']} {p.get('name') or ''}".rstrip(), "number", p.get("name"))
        for p in sorted(projects, key=lambda p: str(p.get("number")))
        if p.get("number") is not None
    ]


def cost_center_items(projects: list[Json], business_units: list[Json], units: set[str]) -> list[WantedItem]:
    """The cost centers the company's open projects and business units use, by their identifier."""
    refs = [p.get("costCenter") for p in projects]
    refs += [u.get("costCenter") for u in business_units if u.get("guid") in units]
    wanted: dict[str, WantedItem] = {}
    for ref in refs:
        if not isinstance(ref, Mapping):
            continue
        code = str(ref.get("identifier") or ref.get("code") or ref.get("name") or "").strip()
        if code and code not in wanted:
            field = "identifier" if ref.get("identifier") else "name"
            wanted[code] = WantedItem(code, f"cost center {code} {ref.get('name') or ''}".rstrip(), field,
                                      ref.get("name"))
    return [wanted[k] for k in sorted(wanted)]


def business_unit_items(business_units: list[Json], units: set[str]) -> list[WantedItem]:
    return [
        WantedItem(str(u["name"]).strip(), f"business unit {u['name']}", "name", u.get("name"))
        for u in sorted(business_units, key=lambda u: str(u.get("name")))
        if u.get("guid") in units and u.get("isActive", True) and u.get("name")
    ]


def compare_dimension(
    registry: str, dimension_name: str | None, dimensions: Mapping[str, Json], wanted: list[WantedItem]
) -> list[Finding]:
    """Severa records ↔ items of one Procountor dimension by codeName. Missing items are created by the
    transfer on first use (a warning); a closed item ("P") is not used for new rows."""
    if dimension_name is None or dimension_name not in dimensions:
        return []  # check_dimension_names reports the name; there is nothing to compare items with
    items = {str(i.get("codeName")): i for i in dimensions[dimension_name].get("items") or []}
    findings = []
    for item in wanted:
        found = items.get(item.code)
        if found is None:
            findings.append(Finding(
                registry, item.code, "missing_item", "warning", item.record, field=item.field, severa=item.code,
                message=f"no item {item.code!r} in dimension {dimension_name!r}: created with the first transfer",
                fix=f"Add the item to Procountor's {dimension_name!r} dimension now if it must exist before that.",
            ))
        elif found.get("status") == "P":
            findings.append(Finding(
                registry, item.code, "closed_item", "warning", item.record, field=item.field, severa=item.code,
                procountor=f"{item.code} (closed)",
                message=f"the item {item.code!r} of dimension {dimension_name!r} is closed in Procountor",
                fix="Reopen the dimension item in Procountor, or close the record in Severa.",
            ))
        else:
            findings.append(Finding(registry, item.code, "matched", "ok", item.record, field=item.field,
                                    severa=item.label or item.code, procountor=item.code,
                                    message=f"item of dimension {dimension_name!r}"))
    return findings


def check_project_names(projects: list[Json]) -> list[Finding]:
    """The seed: a project name must not contain special characters (Procountor takes Windows-1252 only)."""
    findings = []
    for project in projects:
        bad = non_cp1252(str(project.get("name") or ""))
        if bad:
            findings.append(Finding(
                "projects", str(project.get("number")), "invalid_characters", "error",
                f"project {project.get('number')} {project.get('name')}", field="name", severa=project.get("name"),
                message=f"the name contains characters Procountor does not accept: {' '.join(bad)}",
                fix="Remove the special characters from the project name in Severa.",
            ))
    return findings


# -------------------------------------------------------------------------------- users and bank accounts


def valid_iban(value: str) -> bool:
    try:
        IBAN(value)
    except SchwiftyException:
        return False
    return True


def compare_users(
    users: list[Json], persons: Mapping[str, Json | None], *, update_persons: bool = False
) -> list[Finding]:
    """Users need an employee number (code) and an IBAN bank account in Severa, and a Procountor person with
    the same person number (the seed's "User details" item); checked when travel reimbursements are on."""
    findings: list[Finding] = []
    for user in sorted(users, key=lambda u: (str(u.get("code") or "~"), str(u.get("lastName")))):
        name = f"{user.get('firstName') or ''} {user.get('lastName') or ''}".strip()
        code = str(user.get("code") or "").strip()
        record = f"user {code} {name}" if code else f"user {name}"
        problems = 0
        if not code:
            problems += 1
            findings.append(Finding("users", "-", "missing_employee_number", "error", record, field="code",
                                    message="the user has no employee number (code)",
                                    fix="Add the user's Employee number in Severa's user management, the same as "
                                        "the person number in Procountor."))
        account = str(user.get("bankAccountNumber") or "").strip()
        if not account:
            problems += 1
            findings.append(Finding("users", code or "-", "missing_bank_account", "error", record,
                                    field="bankAccountNumber", message="the user has no bank account number",
                                    fix="Add the user's Bank account number (IBAN) in Severa's user management."))
        elif not valid_iban(account):
            problems += 1
            findings.append(Finding("users", code or "-", "invalid_iban", "error", record, field="bankAccountNumber",
                                    severa=account, message=f"{account!r} is not a valid IBAN",
                                    fix="Correct the user's bank account number to IBAN format in Severa."))
        if code:
            person = persons.get(code)
            if person is None:
                problems += 1
                findings.append(Finding(
                    "users", code, "missing_person", "warning" if update_persons else "error", record, field="code",
                    severa=code, message=f"Procountor has no person with person number {code!r}",
                    fix=("Add the person to Procountor's person register with the same person number (employee "
                         "number) as in Severa."),
                ))
            elif not problems:
                shown = f"{person.get('firstName') or ''} {person.get('lastName') or ''}".strip()
                findings.append(Finding("users", code, "matched", "ok", record, field="code", severa=name,
                                        procountor=shown, message="matched by employee number"))
    return findings


def check_bank_accounts(accounts: list[Json]) -> list[Finding]:
    """The company's Severa bank accounts must be in IBAN format (the seed's "Bank accounts" item)."""
    if not accounts:
        return [Finding("bank_accounts", "-", "missing_bank_account", "error", "bank accounts",
                        field="accountNumber", message="the company has no bank account in Severa",
                        fix="Add the company's bank account in IBAN format in Severa (Organization > Bank accounts).")]
    findings = []
    for account in accounts:
        number = str(account.get("accountNumber") or "").strip()
        record = f"bank account {account.get('bankName') or ''} {number}".replace("  ", " ").strip()
        declared = account.get("accountNumberFormat")
        if number and valid_iban(number) and declared in (None, "Iban"):
            findings.append(Finding("bank_accounts", number, "matched", "ok", record, field="accountNumber",
                                    severa=number, message="IBAN format"))
        else:
            findings.append(Finding(
                "bank_accounts", number or "-", "not_iban", "error", record, field="accountNumber", severa=number,
                message=(f"{number!r} is not a valid IBAN" if not number or not valid_iban(number)
                         else f"the account number format is {declared!r}, not IBAN"),
                fix="Edit the bank account number to IBAN format in Severa (Organization > Bank accounts).",
            ))
    return findings


# ---------------------------------------------------------------------------------------------- sales accounts

# Sales (revenue) accounts are class 3 in both the Finnish and the Swedish (BAS) chart of accounts.
_SALES_CLASS = "3"


def compare_sales_accounts(accounts: list[Json], chart: list[Json], *, transfer: bool) -> list[Finding]:
    """Severa's active sales accounts by number ↔ Procountor's ledger accounts (``GET /coa``). One Procountor
    lacks (or has closed) is an error when the rows' accounts are transferred (``transfer_sales_accounts``: the
    invoice would fail), else a warning; a Procountor sales account Severa lacks is a warning."""
    findings: list[Finding] = []
    theirs = {str(a.get("ledgerAccountCode")): a for a in chart if a.get("ledgerAccountCode")}
    ours = {str(a.get("number")).strip(): a for a in accounts if a.get("isActive", True) and a.get("number")}
    severity: Severity = "error" if transfer else "warning"
    for number, account in sorted(ours.items()):
        record = f"sales account {number} {account.get('name') or ''}".strip()
        found = theirs.get(number)
        if found is None:
            findings.append(Finding(
                "sales_accounts", number, "only_in_severa", severity, record, field="number",
                severa=account.get("name"),
                message="not in Procountor's chart of accounts" + (
                    ": invoices with rows on it will fail" if transfer else ""),
                fix="Add the account to Procountor's chart of accounts with the same number, or correct the number "
                    "in Severa (Settings > Organization > Chart of accounts).",
            ))
        elif found.get("active") is False:
            findings.append(Finding(
                "sales_accounts", number, "inactive_in_procountor", severity, record, field="number",
                severa=account.get("name"), procountor=found.get("name"),
                message="not active in Procountor's chart of accounts",
                fix="Activate the account in Procountor's chart of accounts, or stop using it in Severa.",
            ))
        else:
            findings.append(Finding("sales_accounts", number, "matched", "ok", record, field="number",
                                    severa=account.get("name"), procountor=found.get("name"),
                                    message="in Procountor's chart of accounts"))
    for code, found in sorted(theirs.items()):
        if code.startswith(_SALES_CLASS) and found.get("active", True) and code not in ours:
            findings.append(Finding(
                "sales_accounts", code, "only_in_procountor", "warning", f"ledger account {code} {found.get('name')}",
                field="ledgerAccountCode", procountor=found.get("name"),
                message="a Procountor sales account that Severa's chart of accounts lacks",
                fix="Add the sales accounts used in Procountor to Severa (Settings > Organization > Chart of "
                    "accounts), with the same number.",
            ))
    return findings

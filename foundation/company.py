"""Per-company integration settings: every setting the seed's "Configure integration settings" names.

One ``CompanySettings`` per Severa business unit that is a company with its own VAT number (the seed:
"Settings need to be defined for all business units that are companies"), each with its own Procountor
environment. Secrets are held by reference only: ``procountor_api_key_env`` names an environment variable.

The TOML file has one table per company::

    [company.FI]
    country = "FI"
    severa_business_unit_name = "Kumpula Consulting Oy"
    procountor_api_key_env = "SEVPRO_PROCOUNTOR_API_KEY_FI"
    ...
    [company.FI.sales_invoices]
    transfer_status = "Waiting for transfer to Procountor"
    ...
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from foundation.settings import SettingsError, read_secret_file

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class ProcountorSalesStatus(StrEnum):
    """Where a transferred sales invoice is left in Procountor (seed: Not finished / Not sent / Sent)."""

    UNFINISHED = "UNFINISHED"  # left for editing and checking in Procountor
    NOT_SENT = "NOT_SENT"  # approved, not sent: when another channel (Maventa) already sent the invoice
    SENT = "SENT"  # approved and sent to the customer at once


class ProcountorTravelStatus(StrEnum):
    """Where a transferred travel invoice is left in Procountor; the seed recommends Not finished."""

    UNFINISHED = "UNFINISHED"
    RECEIVED = "RECEIVED"  # sent to invoice circulation
    VERIFIED = "VERIFIED"
    APPROVED = "APPROVED"


class AttachmentMode(StrEnum):
    """The seed's attachment choices: PDF file, invoice breakdown, or do not transfer."""

    PDF = "pdf"
    BREAKDOWN = "breakdown"
    NONE = "none"


# Purchase invoice statuses in which Severa imports a dimensioned purchase invoice (seed).
PURCHASE_IMPORT_STATUSES = (
    "APPROVED",
    "PAYMENT_QUEUED",
    "PAYMENT_SENT_TO_BANK",
    "PARTLY_PAID",
    "PAID",
    "MARKED_PAID",
)


class _Strict(BaseModel):
    # A typo in a settings file must fail loudly, not fall back to a default.
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class SalesInvoiceSettings(_Strict):
    """Invoice transfer settings (seed: "Invoice transfer settings")."""

    transfer_status: str = Field(min_length=1, description="Severa invoice status (name or guid) to transfer")
    after_transfer_status: str = Field(min_length=1, description="Severa status to set after transfer")
    procountor_status: ProcountorSalesStatus = ProcountorSalesStatus.UNFINISHED
    transfer_business_unit_dimension: bool = False
    transfer_cost_center_dimension: bool = False
    transfer_project_dimension: bool = False
    attachments: AttachmentMode = AttachmentMode.NONE
    send_by_email: bool = False
    transfer_sales_accounts: bool = Field(
        default=False, description="Each row's Severa sales account becomes its Procountor ledger account "
        "(else Procountor's product defaults); the account must exist in Procountor's chart of accounts")
    # Procountor's VAT status of the invoice (`vatStatus`): the codes are each Procountor environment's own
    # (GET /vats/default lists them). `vat_status` is the status of a sale to a customer whose Severa VAT code is
    # not in `vat_status_by_severa_vat_code` (1: domestic, in Finnish environments); the mapping gives the status per
    # Severa VAT code of the customer (CustomerModel.invoicingVat.code), for other kinds of sale: EU goods or
    # services, export, reverse charge. A customer invoiced at 0 % VAT whose code is not mapped is a configuration
    # error before anything is written, not a domestic sale.
    vat_status: int = Field(default=1, ge=0)
    vat_status_by_severa_vat_code: dict[str, int] = Field(default_factory=dict)

    @field_validator("vat_status_by_severa_vat_code")
    @classmethod
    def _vat_statuses(cls, value: dict[str, int]) -> dict[str, int]:
        negative = sorted(code for code, status in value.items() if status < 0)
        if negative or any(not code.strip() for code in value):
            raise ValueError(f"codes must be non-empty and statuses 0 or more (see {negative or 'an empty code'})")
        return {code.strip(): status for code, status in value.items()}

    @model_validator(mode="after")
    def _statuses_differ(self) -> Self:
        if self.transfer_status.casefold() == self.after_transfer_status.casefold():
            # Otherwise a transferred invoice stays in the transfer status and is picked up again forever.
            raise ValueError("after_transfer_status must differ from transfer_status")
        return self


class TravelReimbursementSettings(_Strict):
    """Travel reimbursement transfer settings (seed: "Travel reimbursement transfer settings")."""

    enabled: bool = False
    status_before: str | None = Field(default=None, description="Severa status to transfer from")
    status_after: str | None = Field(default=None, description="Severa status to set after transfer")
    procountor_status: ProcountorTravelStatus = ProcountorTravelStatus.UNFINISHED
    transfer_business_unit_dimension: bool = False
    transfer_cost_center_dimension: bool = False
    transfer_project_dimension: bool = False
    update_persons: bool = False

    @model_validator(mode="after")
    def _statuses_when_enabled(self) -> Self:
        if self.enabled:
            missing = [name for name in ("status_before", "status_after") if not getattr(self, name)]
            if missing:
                raise ValueError(f"{' and '.join(missing)} required when travel reimbursements are enabled")
            assert self.status_before and self.status_after
            if self.status_before.casefold() == self.status_after.casefold():
                raise ValueError("status_after must differ from status_before")
        return self


class PurchaseInvoiceSettings(_Strict):
    """Purchase invoice import (seed: no specific settings; can be activated separately)."""

    enabled: bool = False
    statuses: tuple[str, ...] = PURCHASE_IMPORT_STATUSES

    @field_validator("statuses")
    @classmethod
    def _known_statuses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(PURCHASE_IMPORT_STATUSES))
        if unknown:
            raise ValueError(
                f"unknown purchase invoice statuses {unknown}; allowed: {list(PURCHASE_IMPORT_STATUSES)}"
            )
        return value


class PaymentSettings(_Strict):
    """Payments back to Severa (README "Payments back to Severa"): a transferred sales invoice paid in Procountor
    moves its Severa invoice to `paid_status` (and `partly_paid_status`, when set, for a partial payment)."""

    enabled: bool = False
    paid_status: str | None = Field(default=None, min_length=1, description="Severa status of a paid invoice")
    partly_paid_status: str | None = Field(default=None, min_length=1,
                                           description="Severa status of a partly paid invoice; unset: none")
    payment_date: bool = Field(default=True, description="write Procountor's payment date to the Severa invoice")

    @model_validator(mode="after")
    def _statuses(self) -> Self:
        if self.enabled and not self.paid_status:
            raise ValueError("paid_status is required when payments are enabled")
        if self.paid_status and self.partly_paid_status and (
                self.paid_status.casefold() == self.partly_paid_status.casefold()):
            raise ValueError("partly_paid_status must differ from paid_status")
        return self


class CompanySettings(_Strict):
    """All integration settings of one company (one Severa business unit ↔ one Procountor environment)."""

    name: str = Field(min_length=1, description="our key for the company, e.g. FI; the TOML table name")
    display_name: str | None = None
    country: Literal["FI", "SE"]
    enabled: bool = False

    # Severa side: the business unit that is this company. Either identifies it; the guid wins.
    severa_business_unit_guid: str | None = None
    severa_business_unit_name: str | None = None

    # Procountor credentials by reference: the name of an environment variable, never the key itself.
    procountor_api_key_env: str = Field(min_length=1)

    create_customers: bool = False
    create_products: bool = False
    default_product_code: str = Field(min_length=1, max_length=40)
    default_work_type_code: str = Field(min_length=1, max_length=40)
    default_travel_expense_code: str = Field(min_length=1, max_length=40)

    project_dimension: str | None = Field(default=None, min_length=1, max_length=255)
    cost_center_dimension: str | None = Field(default=None, min_length=1, max_length=255)
    business_unit_dimension: str | None = Field(default=None, min_length=1, max_length=255)

    send_error_email: bool = False
    error_email: str | None = None
    # The error e-mails' language; unset, the country's (FI: Finnish, SE: Swedish). See foundation/i18n.py.
    language: Literal["fi", "sv", "en"] | None = None

    # The company's Procountor bank account that sales invoices carry (paymentInfo.bankAccount): the active account
    # with this IBAN (and currency, when given); unset, the account Procountor marks default for invoices.
    bank_account_iban: str | None = None
    bank_account_currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")

    sales_invoices: SalesInvoiceSettings
    travel_reimbursements: TravelReimbursementSettings = TravelReimbursementSettings()
    purchase_invoices: PurchaseInvoiceSettings = PurchaseInvoiceSettings()
    payments: PaymentSettings = PaymentSettings()

    @field_validator("procountor_api_key_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not _ENV_NAME.match(value):
            # Refuse anything but a variable name, e.g. a pasted key: secrets by reference only.
            raise ValueError("must name an environment variable (letters, digits, _), not hold the API key")
        return value

    @field_validator("severa_business_unit_guid")
    @classmethod
    def _guid(cls, value: str | None) -> str | None:
        if value is not None and not _GUID.match(value):
            raise ValueError("must be a guid like 3fa85f64-5717-4562-b3fc-2c963f66afa6")
        return value.lower() if value else value

    @field_validator("bank_account_iban")
    @classmethod
    def _iban(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(IBAN(value).compact)
        except SchwiftyException:
            raise ValueError("is not a valid IBAN") from None

    @field_validator("error_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            raise ValueError("is not an email address")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not (self.severa_business_unit_guid or self.severa_business_unit_name):
            raise ValueError("severa_business_unit_guid or severa_business_unit_name is required")
        if self.send_error_email and not self.error_email:
            raise ValueError("error_email is required when send_error_email is true")
        toggles = {
            "project_dimension": ("transfer_project_dimension",),
            "cost_center_dimension": ("transfer_cost_center_dimension",),
            "business_unit_dimension": ("transfer_business_unit_dimension",),
        }
        for dimension, (toggle,) in toggles.items():
            for section in ("sales_invoices", "travel_reimbursements"):
                if getattr(getattr(self, section), toggle) and not getattr(self, dimension):
                    raise ValueError(f"{dimension} is required when {section}.{toggle} is true")
        return self

    def procountor_api_key(self, environ: Mapping[str, str]) -> str:
        """Resolve the API key from ``environ`` (pass ``os.environ``): the variable, or the file its ``_FILE``
        variable names (a mounted secret). The message never contains a key."""
        variable = self.procountor_api_key_env
        key, path = environ.get(variable), environ.get(f"{variable}_FILE")
        if key and path:
            raise CompanySettingsError(f"company {self.name!r}: {variable} and {variable}_FILE are both set: keep one")
        if path:
            try:
                key = read_secret_file(f"{variable}_FILE", path)
            except SettingsError as error:
                raise CompanySettingsError(f"company {self.name!r}: {error}") from None
        if not key:
            raise CompanySettingsError(
                f"company {self.name!r}: environment variable {variable} "
                "(procountor_api_key_env) is not set"
            )
        return key

    def dimension_names(self) -> dict[str, str | None]:
        """Dimension name per kind ("project", "cost_center", "business_unit")."""
        return {
            "project": self.project_dimension,
            "cost_center": self.cost_center_dimension,
            "business_unit": self.business_unit_dimension,
        }


class CompanySettingsError(ValueError):
    """A settings file or company table that cannot be used; the message names the company and field."""


def parse_companies(document: Mapping[str, Any], *, source: str = "companies") -> dict[str, CompanySettings]:
    """Validate a parsed TOML document ``{"company": {<name>: {...}}}`` into settings keyed by name."""
    extra = sorted(set(document) - {"company"})
    if extra:
        raise CompanySettingsError(
            f"{source}: unknown top-level keys {extra}; expected [company.<name>] tables"
        )
    tables = document.get("company")
    if not isinstance(tables, Mapping) or not tables:
        raise CompanySettingsError(f"{source}: no [company.<name>] tables")
    companies: dict[str, CompanySettings] = {}
    problems: list[str] = []
    for name, table in tables.items():
        if not isinstance(table, Mapping):
            problems.append(f"company {name!r}: must be a table")
            continue
        if "name" in table and table["name"] != name:
            problems.append(f"company {name!r}: name: must equal the table name ({name!r}) when given")
            continue
        try:
            companies[name] = CompanySettings.model_validate({**table, "name": name})
        except ValidationError as error:
            problems.extend(_describe(name, error))
    if problems:
        raise CompanySettingsError(f"{source}: invalid company settings:\n  " + "\n  ".join(problems))
    return companies


def load_companies(path: str | Path) -> dict[str, CompanySettings]:
    """Read the companies TOML file (one ``[company.<name>]`` table each)."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise CompanySettingsError(f"{path}: not valid TOML: {error}") from error
    return parse_companies(document, source=str(path))


def procountor_api_keys(companies: Mapping[str, CompanySettings], environ: Mapping[str, str]) -> dict[str, str]:
    """Each enabled company's Procountor API key; one error that names every company whose key is missing."""
    keys: dict[str, str] = {}
    problems: list[str] = []
    for name, company in companies.items():
        if not company.enabled:
            continue
        try:
            keys[name] = company.procountor_api_key(environ)
        except CompanySettingsError as error:
            problems.append(str(error))
    if problems:
        raise CompanySettingsError("; ".join(problems))
    return keys


def demo_companies_path() -> Path:
    """The demo organisation's settings file shipped with the package: for `sevpro demo` and the tests only (a
    worker or command never falls back on it)."""
    return Path(__file__).with_name("demo_companies.toml")


def _describe(name: str, error: ValidationError) -> list[str]:
    lines = []
    for item in error.errors(include_url=False, include_input=False):
        location = ".".join(str(part) for part in item["loc"]) or "(table)"
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"company {name!r}: {location}: {message}")
    return lines

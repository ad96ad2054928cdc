"""In-memory state of the Procountor sandbox: companies and their registers, invoices and ledger receipts.

The store holds plain JSON-able dicts spelled exactly as the API spells them, so that what a test puts in is
what the API returns. Tests use it directly (``app.state.store``):

    store.company("FI").invoices[invoice_id]            # the stored Invoice dict
    store.company("FI").ledger_receipts[receipt_id]     # its accounting page
    store.company("FI").partners / products / dimensions / persons / attachments
    store.company("FI").find_partner(customer_number="1005")
    store.company("FI").find_product(code="DEV")
    store.company("FI").find_dimension("Projects")
    store.set_invoice_status("FI", invoice_id, "PAID")  # what a user or the bank does, outside the API
    store.record_payment("FI", invoice_id, 200.0)       # a reference payment from the bank: PARTLY_PAID or PAID
    store.revoke_api_key("demo-fi-api-key"); store.save(path); ProcountorStore.load(path)

IDs are unique per company only (as in Procountor): two companies may both have invoice 1.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

VERSION_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"


def format_version(moment: datetime) -> str:
    """Procountor datetimes carry no offset; milliseconds keep versions distinct for optimistic locking."""
    return moment.strftime(VERSION_FORMAT)[:-3]


def parse_datetime(value: str) -> datetime:
    """Accepts `yyyy-MM-ddTHH:mm:ss` with or without fractions (query params are second precision)."""
    return datetime.fromisoformat(value)


@dataclass
class Company:
    """One Procountor environment (company) with its registers; `code` is the sandbox's short name."""

    code: str
    info: dict[str, Any]
    bank_accounts: list[dict[str, Any]] = field(default_factory=list)
    fiscal_years: list[dict[str, Any]] = field(default_factory=list)
    vat_statuses: list[dict[str, Any]] = field(default_factory=list)
    ledger_accounts: list[dict[str, Any]] = field(default_factory=list)  # the chart of accounts (GET /coa)
    invoices: dict[int, dict[str, Any]] = field(default_factory=dict)
    ledger_receipts: dict[int, dict[str, Any]] = field(default_factory=dict)
    partners: dict[int, dict[str, Any]] = field(default_factory=dict)
    persons: dict[int, dict[str, Any]] = field(default_factory=dict)
    products: dict[int, dict[str, Any]] = field(default_factory=dict)
    dimensions: dict[int, dict[str, Any]] = field(default_factory=dict)
    attachments: dict[int, dict[str, Any]] = field(default_factory=dict)
    attachment_files: dict[int, bytes] = field(default_factory=dict)
    next_id: int = 1
    next_invoice_number: int = 1
    next_receipt_number: int = 1

    @property
    def country(self) -> str:
        return str(self.info["country"])

    def new_id(self) -> int:
        value = self.next_id
        self.next_id += 1
        return value

    # -- look-ups used by the API handlers and by tests -------------------------------------------------
    def find_partner(self, *, customer_number: str) -> dict[str, Any] | None:
        for partner in self.partners.values():
            if partner.get("invoicingInfo", {}).get("customerNumber") == customer_number:
                return partner
        return None

    def find_product(self, *, code: str, type: str | None = None) -> dict[str, Any] | None:
        for product in self.products.values():
            if product.get("code") == code and (type is None or product["type"] == type):
                return product
        return None

    def find_dimension(self, name: str) -> dict[str, Any] | None:
        for dimension in self.dimensions.values():
            if dimension["name"] == name:
                return dimension
        return None

    def find_dimension_item(self, dimension_name: str, code_name: str) -> dict[str, Any] | None:
        dimension = self.find_dimension(dimension_name)
        if dimension is None:
            return None
        return next((i for i in dimension["items"] if i["codeName"] == code_name), None)

    def find_person(self, *, person_number: str) -> dict[str, Any] | None:
        for person in self.persons.values():
            if person.get("invoicingInfo", {}).get("personNumber") == person_number:
                return person
        return None

    def fiscal_period_for(self, day: date) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(fiscal year, tracking period) containing `day`, or Nones."""
        for year in self.fiscal_years:
            if date.fromisoformat(year["startDate"]) <= day <= date.fromisoformat(year["endDate"]):
                period = next(
                    (
                        p
                        for p in year["trackingPeriods"]
                        if date.fromisoformat(p["startDate"]) <= day <= date.fromisoformat(p["endDate"])
                    ),
                    None,
                )
                return year, period
        return None, None

    def to_json(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "attachment_files"}
        data["attachment_files"] = {str(k): v.hex() for k, v in self.attachment_files.items()}
        for key in (
            "invoices",
            "ledger_receipts",
            "partners",
            "persons",
            "products",
            "dimensions",
            "attachments",
        ):
            data[key] = {str(k): v for k, v in data[key].items()}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Company:
        data = dict(data)
        for key in (
            "invoices",
            "ledger_receipts",
            "partners",
            "persons",
            "products",
            "dimensions",
            "attachments",
        ):
            data[key] = {int(k): v for k, v in data[key].items()}
        data["attachment_files"] = {int(k): bytes.fromhex(v) for k, v in data["attachment_files"].items()}
        for account in data.get("bank_accounts", []):
            if "iban" not in account:  # a state file from before the public shape: the IBAN was in accountNumber
                account["iban"] = account["accountNumber"]
                account.update(accountNumber=account["iban"][4:], status="ACTIVE",
                               defaultForInvoice=bool(account.pop("defaultAccount", False)))
        return cls(**data)


class ProcountorStore:
    """All sandbox state: OAuth clients, API keys (each bound to one company) and the companies."""

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.clock = clock or datetime.now
        self.clients: dict[str, str] = {}
        self.api_keys: dict[str, str] = {}
        # API key → the client application it was made for (procountor-api.md §2.1: a key is bound to a user,
        # a company and a client); another client's token request with it is refused.
        self.api_key_clients: dict[str, str] = {}
        self.companies: dict[str, Company] = {}
        self._last_version: datetime | None = None
        self._lock = threading.Lock()

    def company(self, code: str) -> Company:
        return self.companies[code]

    def company_for_api_key(self, api_key: str) -> Company | None:
        code = self.api_keys.get(api_key)
        return self.companies.get(code) if code else None

    def add_api_key(self, api_key: str, company: str, client_id: str) -> None:
        """What a company admin does in the UI: a new API key of `company` for the client application."""
        self.api_keys[api_key] = company
        self.api_key_clients[api_key] = client_id

    def key_allows(self, api_key: str, client_id: str) -> bool:
        """The key was made for this client (keys of a state file from before the binding allow any)."""
        return self.api_key_clients.get(api_key, client_id) == client_id

    def revoke_api_key(self, api_key: str) -> None:
        """What a company admin does in the UI; tokens issued for it stop working too."""
        self.api_keys.pop(api_key, None)
        self.api_key_clients.pop(api_key, None)

    def next_version(self) -> str:
        """A strictly increasing version stamp: equal stamps would defeat optimistic locking."""
        with self._lock:
            now = self.clock().replace(tzinfo=None)
            now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # the stamp shows milliseconds
            if self._last_version is not None and now <= self._last_version:
                now = self._last_version + timedelta(milliseconds=1)
            self._last_version = now
            return format_version(now)

    def today(self) -> date:
        return self.clock().date()

    def set_invoice_status(self, company: str, invoice_id: int, status: str) -> dict[str, Any]:
        """Change a status as a Procountor user or the bank would (e.g. PAID, PAYMENT_QUEUED)."""
        comp = self.company(company)
        invoice = comp.invoices[invoice_id]
        invoice["status"] = status
        invoice["version"] = self.next_version()
        receipt = comp.ledger_receipts.get(invoice.get("ledgerReceiptId") or -1)
        if receipt is not None:
            receipt["status"] = status
            receipt["version"] = invoice["version"]
        if status in {"PAID", "MARKED_PAID"}:
            invoice["paymentDate"] = self.today().isoformat()
        return invoice

    def record_payment(self, company: str, invoice_id: int, amount: float | Decimal, *, on: date | None = None,
                       event_type: str = "REFERENCEPAYMENT", description: str = "",
                       settled_status: str = "PAID") -> dict[str, Any]:
        """A payment of `amount` (the invoice's currency) on the invoice: a PaymentEvent, the invoice's
        `paymentDate` (the latest payment's), and its status PARTLY_PAID until the payments reach its total, then
        `settled_status` (PAID from the bank; MARKED_PAID when marked paid over the API). Returns the event."""
        comp = self.company(company)
        invoice = comp.invoices[invoice_id]
        paid_on = on or self.today()
        total = Decimal(str(invoice["invoiceSumInfo"][0]["invoiceSumTotal"]))
        paid = Decimal(str(invoice.get("_paidAmount", 0))) + Decimal(str(amount))
        invoice["_paidAmount"] = float(paid)
        status = settled_status if abs(paid) >= abs(total) else "PARTLY_PAID"
        rate = Decimal(str(invoice["paymentInfo"].get("currencyRate") or 1))
        event = {
            "id": comp.new_id(),
            "invoiceId": invoice_id,
            "type": event_type,
            "paymentDate": paid_on.isoformat(),
            "status": status,
            # PaymentEvent: `amount` in the accounting currency, `paidAmount` in the currency paid (the invoice's)
            "amount": float((Decimal(str(amount)) / rate).quantize(Decimal("0.01"))),
            "currency": "SEK" if comp.country == "SWEDEN" else "EUR",
            "description": description,
            "paidAmount": float(amount),
            "paidCurrency": invoice["paymentInfo"]["currency"],
        }
        invoice.setdefault("_paymentEvents", []).append(event)
        self.set_invoice_status(company, invoice_id, status)
        latest = max(e["paymentDate"] for e in invoice["_paymentEvents"])
        invoice["paymentDate"] = latest  # "Date of the latest payment transaction related to the invoice"
        return event

    # -- persistence ---------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "clients": self.clients,
            "api_keys": self.api_keys,
            "api_key_clients": self.api_key_clients,
            "last_version": format_version(self._last_version) if self._last_version else None,
            "companies": {code: c.to_json() for code, c in self.companies.items()},
        }

    def save(self, path: str | Path) -> None:
        target = Path(path)
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), ensure_ascii=False))
        tmp.replace(target)  # atomic, so a crash never leaves half a state file

    @classmethod
    def load(cls, path: str | Path, clock: Callable[[], datetime] | None = None) -> ProcountorStore:
        data = json.loads(Path(path).read_text())
        store = cls(clock=clock)
        store.clients = data["clients"]
        store.api_keys = data["api_keys"]
        store.api_key_clients = data.get("api_key_clients", {})
        if data.get("last_version"):
            store._last_version = parse_datetime(data["last_version"])
        store.companies = {code: Company.from_json(c) for code, c in data["companies"].items()}
        return store

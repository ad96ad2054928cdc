"""Payments back to Severa: a transferred sales invoice paid in Procountor moves its Severa invoice, exactly once.

procountor.sales_invoice.observed ──trigger──▶ transfer.sales-invoice-payment.requested ──transfer──▶ Severa PATCH
                                                                                        └──▶ transfer.*.outcome

The Procountor poller publishes every version of a company's sales invoices that is PARTLY_PAID, PAID or
MARKED_PAID (a credit note settling it included: it is marked paid), with the invoice's payment events. Severa
can record a payment only as an invoice status and a payment date: `InvoiceOutputModel` has `paymentDate` and a
status (whose model flags `isPaid`), and no paid amount at all (README "Payments back to Severa").

- **Trigger** (`payment_request`): a version in a payment status, of a company with `payments.enabled`, with an
  `originalInvoiceNumber` (Severa's number), becomes a `TransferRequested` whose `event_id` (tenant, kind,
  Procountor id, version) is the idempotency key.
- **Transfer** (`SalesInvoicePaymentTransfer`): finds the Severa invoice the integration transferred into this
  Procountor invoice (the ID map's `invoice` link; while the link is not projected yet, the Severa invoice of
  that number whose sales-invoice transfer the log shows made this Procountor invoice), reads it, and PATCHes
  its status to `payments.paid_status` (a partial payment: `payments.partly_paid_status`, when set) and its
  `paymentDate` to Procountor's. Nothing is written when Severa shows that state already (adopted, `skipped`
  with a note), when a partial payment comes after Severa shows the invoice paid (never moved back), or for a
  Procountor invoice the integration did not transfer. A request the log shows succeeded is skipped without
  any call (a redelivery, a replay); the read of the Severa invoice (one, right before the PATCH) makes a second
  attempt a no-op too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from connectors.severa.client import SeveraClient
from connectors.severa.errors import SeveraNotFound
from foundation.company import CompanySettings
from foundation.exact_json import loads
from foundation.logs import get_logger
from foundation.types import Emit, Json
from streams.mapping.errors import ConfigFailure, TransferDataError, solution_for
from streams.registers import Registers
from streams.sales_invoice import KIND as SALES_KIND
from streams.sales_invoice import CompanyDirectory
from streams.transfer import Attempt, Skip, Transfer, TransferLog, TransientFailure, request_event

log = get_logger(__name__)
KIND = "sales-invoice-payment"
SETTLED = ("PAID", "MARKED_PAID")  # paid in full: from the bank, or marked paid (a credit note settling it too)
PAYMENT_STATUSES = ("PARTLY_PAID", *SETTLED)
CREDIT_NOTE_EVENT = "COMPENSATIONINVOICE"  # a PaymentEvent of a credit note (marked paid as CREDIT_NOTE)


# ----------------------------------------------------------------------------------------------- trigger


def company_of(observed: Mapping[str, Any], companies: Mapping[str, CompanySettings]) -> CompanySettings | None:
    """The company of a Procountor event: its `company` field, else the last part of `<tenant>/<company>`."""
    name = observed.get("company") or str(observed["tenant"]).rsplit("/", 1)[-1]
    return companies.get(name)


def payment_request(observed: Mapping[str, Any], companies: Mapping[str, CompanySettings]) -> Json | None:
    """The TransferRequested for an observed sales invoice version that records a payment, else None."""
    company = company_of(observed, companies)
    if company is None or not company.enabled or not company.payments.enabled:
        return None
    invoice = loads(observed["snapshot"])
    if invoice.get("type") != "SALES_INVOICE" or invoice.get("status") not in PAYMENT_STATUSES:
        return None
    if not str(invoice.get("originalInvoiceNumber") or "").strip():
        return None  # not an invoice of Severa's: nothing of it to write back
    return request_event(observed, KIND, company.name, invoice.get("invoiceNumber"))


# ------------------------------------------------------------------------------------------- the payment


@dataclass(frozen=True)
class Payment:
    """What Procountor says of an invoice's payment, from one observed version."""

    status: str
    date: str | None  # the invoice's paymentDate: the latest payment's
    paid: Decimal  # the payment events' paid amounts, in the invoice's currency
    total: Decimal | None
    currency: str
    by_credit_note: bool

    @property
    def settled(self) -> bool:
        return self.status in SETTLED

    def describe(self) -> str:
        """For the log's note: 'paid in full (1240.00 EUR) on 2026-11-30', 'partly paid: 400.00 of 1240.00 EUR ...'."""
        when = f" on {self.date}" if self.date else ""
        if self.settled:
            how = "settled by a credit note" if self.by_credit_note else (
                "marked paid" if self.status == "MARKED_PAID" else "paid in full")
            return f"{how} ({self.paid:.2f} {self.currency}){when}"
        of = f" of {self.total:.2f}" if self.total is not None else ""
        return f"partly paid: {self.paid:.2f}{of} {self.currency}, the latest payment{when}"


def payment_of(invoice: Json) -> Payment:
    events = invoice.get("paymentEvents") or []
    paid = sum((_amount(e.get("paidAmount") if e.get("paidAmount") is not None else e.get("amount"))
                for e in events), Decimal(0))
    sums = invoice.get("invoiceSumInfo") or []
    total = _amount(sums[0].get("invoiceSumTotal")) if sums and sums[0].get("invoiceSumTotal") is not None else None
    return Payment(status=str(invoice.get("status")), date=invoice.get("paymentDate"), paid=paid, total=total,
                   currency=str((invoice.get("paymentInfo") or {}).get("currency") or ""),
                   by_credit_note=any(e.get("type") == CREDIT_NOTE_EVENT for e in events))


def _amount(value: Any) -> Decimal:
    return Decimal(str(value if value is not None else 0))


class NotOurs(Exception):
    """The Procountor invoice was not transferred by this integration: nothing of it is written to Severa."""


# ---------------------------------------------------------------------------------------------- transfer


class SalesInvoicePaymentTransfer(Transfer):
    """Carries out sales-invoice-payment TransferRequested events against Severa."""

    kind: ClassVar[str] = KIND

    def __init__(self, severa: SeveraClient, companies: Mapping[str, CompanySettings], directory: CompanyDirectory,
                 emit: Emit, transfer_log: TransferLog | None = None, registers: Registers | None = None) -> None:
        super().__init__(emit, transfer_log)
        self.severa = severa
        self.companies = companies
        self.directory = directory
        self.registers = registers
        # The write `_skip` decided, by request id, for `_transfer` right after it (the agent hands one request
        # at a time): its read of the Severa invoice is the read before the write, not made twice.
        self._decided: dict[str, tuple[Json, dict[str, Any], str]] = {}

    def _held(self) -> str | None:
        return self.registers.held() if self.registers is not None else None

    def _record(self, request: Json) -> str:
        number = loads(request["snapshot"]).get("originalInvoiceNumber")
        return f"payment of sales invoice {number or '?'} (Procountor no. {request.get('source_number')})"

    async def _skip(self, request: Json) -> Skip | None:
        self._decided.clear()
        decision = await self._decide(request)
        if isinstance(decision, Skip):
            return decision
        self._decided[request["event_id"]] = decision
        return None

    async def _transfer(self, request: Json, attempt: Attempt) -> Json:
        decision = self._decided.pop(request["event_id"], None) or await self._decide(request)
        if isinstance(decision, Skip):  # written meanwhile (by a user, or another attempt)
            return {"target_id": decision.target_id, "target_number": decision.target_number, "note": decision.note}
        current, changes, note = decision
        self._check_held()
        await self.severa.patch_invoice(current["guid"], changes)
        log.info("payment written to Severa", record=self._record(request), invoice=current["guid"],
                 fields=sorted(changes))
        return {"target_id": current["guid"], "target_number": _str(current.get("number")), "note": note}

    async def _decide(self, request: Json) -> Skip | tuple[Json, dict[str, Any], str]:
        """What to write to the Severa invoice (its current state, the JSON Patch replaces, the note), or why
        nothing (a Skip naming the Severa invoice)."""
        invoice = loads(request["snapshot"])
        record = self._record(request)
        company = self.companies.get(request["company"])
        if company is None:
            raise TransferDataError("UNKNOWN_COMPANY", record=record, field="company", value=request["company"],
                                    message=f"no settings for company {request['company']}")
        settings = company.payments
        payment = payment_of(invoice)
        try:
            current = await self._severa_invoice(request, invoice, company)
        except NotOurs as reason:
            return Skip(str(reason))
        target = {"target_id": current["guid"], "target_number": _str(current.get("number"))}
        status_now = current.get("status") or {}
        paid_guid = await self._status_guid(settings.paid_status, "payments.paid_status", company)
        if not payment.settled:
            if status_now.get("guid") == paid_guid:
                return Skip(f"{payment.describe()}; Severa shows the invoice paid already (status "
                            f"{status_now.get('name')}), and a partial payment never moves it back", **target)
            if not settings.partly_paid_status:
                return Skip(f"{payment.describe()}; Severa has no field for a paid amount and "
                            "payments.partly_paid_status is not set: nothing was written", **target)
            wanted = await self._status_guid(settings.partly_paid_status, "payments.partly_paid_status", company)
            changes: dict[str, Any] = {}
        else:
            wanted = paid_guid
            changes = {}
            if settings.payment_date:
                if not payment.date:
                    raise TransferDataError(
                        "MISSING_PAYMENT_DATE", record=record, field="paymentDate", value=None,
                        message=f"Procountor shows invoice no. {request.get('source_number')} {payment.status} "
                                "without a payment date; nothing was written",
                        solution=solution_for("MISSING_PAYMENT_DATE"))
                if current.get("paymentDate") != payment.date:
                    changes["/paymentDate"] = payment.date
        if status_now.get("guid") != wanted:
            changes = {"/status/guid": wanted, **changes}
        if not changes:
            return Skip(f"{payment.describe()}; Severa shows it already (status {status_now.get('name')}"
                        + (f", payment date {current.get('paymentDate')}" if current.get("paymentDate") else "")
                        + "): nothing was written", **target)
        return current, changes, payment.describe()

    async def _status_guid(self, name: str | None, setting: str, company: CompanySettings) -> str:
        """The guid of a status the settings name; read from Severa again when unknown (made since the start)."""
        guid = self.directory.status_guid(name) if name else None
        if guid is None and name:
            statuses = await self.severa.list_invoice_statuses()
            self.directory.invoice_statuses = {str(s["name"]).casefold(): s["guid"] for s in statuses}
            guid = self.directory.status_guid(name)
        if guid is None:
            raise ConfigFailure("PAYMENT_STATUS_NOT_FOUND",
                                f"company {company.name!r}: {setting} {name!r} is not an invoice status in Severa",
                                field=setting)
        return guid

    async def _severa_invoice(self, request: Json, invoice: Json, company: CompanySettings) -> Json:
        """The Severa invoice this Procountor invoice was transferred from, as Severa has it now; NotOurs when the
        integration did not transfer it."""
        number = str(invoice.get("originalInvoiceNumber") or "").strip()
        procountor_id = str(request["source_id"])
        tenant = str(request["tenant"]).removesuffix(f"/{request['company']}")
        theirs = (f"Procountor invoice no. {request.get('source_number')} was not transferred by this integration "
                  f"(its original number is {number})")
        guid = self._linked(tenant, company.name, number, procountor_id)
        if guid is not None:
            try:
                return await self.severa.get_invoice(guid)
            except SeveraNotFound as exc:
                raise TransferDataError(
                    "SEVERA_INVOICE_NOT_FOUND", record=self._record(request), field="originalInvoiceNumber",
                    value=number, message=f"Severa no longer has invoice {number} ({guid}), which was transferred "
                                          f"as Procountor invoice no. {request.get('source_number')}",
                    solution=solution_for("SEVERA_INVOICE_NOT_FOUND")) from exc
        found = await self.severa.list_invoices(numbers=[int(number)]) if number.isdigit() else []
        candidates = [i for i in found if getattr(self.directory.company_for(i), "name", None) == company.name]
        waiting = False
        for candidate in candidates:
            entry = self.log.transfer(tenant, SALES_KIND, str(candidate["guid"])) or {}
            if entry.get("procountor_id") == procountor_id:  # the entry's target: the invoice it made
                return candidate  # the log has its transfer; the ID map link is not projected yet
            waiting = waiting or entry.get("state") in ("pending", "failed-transient")
        if waiting:  # its transfer is under way: the link or the log will show whether it made this invoice
            raise TransientFailure(f"the transfer of sales invoice {number} to Procountor is not finished in the "
                                   "transfer log yet; the payment is written when it is")
        if not candidates:
            raise NotOurs(f"{theirs}: Severa has no invoice no. {number} of company {company.name}; nothing was "
                          "written")
        raise NotOurs(f"{theirs}: Severa invoice {number} was not transferred into it; nothing was written")

    def _linked(self, tenant: str, company: str, number: str, procountor_id: str) -> str | None:
        """The Severa guid the ID map links to this Procountor invoice (the sales-invoice transfer's link)."""
        id_map = getattr(self.log, "id_map", None)
        if id_map is None:
            return None
        for link in id_map(kind="invoice", tenant=tenant, company=company):
            if str(link["procountor_id"]) == procountor_id and str(link["severa_key"]) == number:
                return str(link["severa_id"]) if link.get("severa_id") else None
        return None


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


__all__ = ["KIND", "PAYMENT_STATUSES", "Payment", "SalesInvoicePaymentTransfer", "payment_of", "payment_request"]

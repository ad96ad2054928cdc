"""Sales invoice transfer, Severa → Procountor, exactly once.

`SalesInvoiceTrigger` turns an observed Severa invoice in a company's transfer status into a
`TransferRequested`. `SalesInvoiceTransfer` carries one request out, step by step, each step resumable:

  customer → products → dimension items → invoice → row dimensions → attachment → Procountor status
  → Severa status

Exactly once, from at-least-once parts:
- The request's `event_id` (tenant, kind, Severa guid, the version that entered the transfer status) is its
  idempotency key. A request the transfer log already shows as succeeded is skipped without any API call.
- `attempting` is published (acks=all) before the first write, so the log shows every attempt, even one
  that died half way.
- Before creating, Procountor is searched by `originalInvoiceNumber` (Severa's number): a retry at once, a first
  attempt just before the create, through the company's shared search (connectors/procountor/original_numbers.py:
  under a backlog one listing answers many). An invoice found there
  (that number exactly, a sales invoice, not invalidated) is adopted only when it is what this transfer would
  write (counterparty, currency, net per VAT rate): an interrupted attempt made it. Any other is a data error
  (DUPLICATE_ORIGINAL_NUMBER), and one the log shows an earlier version transferred to is a correction
  (ALREADY_TRANSFERRED; `skipped` when the content is unchanged): nothing is written. Every later step first
  reads the state it would change and writes only what is missing. A crash between any two writes, a
  redelivery or a replay therefore never doubles anything. The attachment is fetched and checked before the
  invoice is created.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from connectors.errors import ContentTooLarge
from connectors.procountor.client import ProcountorClient
from connectors.severa.client import SeveraClient
from connectors.severa.customer_cards import CustomerCards
from connectors.severa.invoice_reads import InvoiceReads
from connectors.severa.row_mirror import InvoiceRowMirror
from foundation.company import CompanySettings
from foundation.exact_json import loads
from foundation.logs import get_logger
from streams.mapping.accounts import check_sales_accounts, row_sales_accounts
from streams.mapping.attachments import (
    MAX_ATTACHMENT_BYTES,
    attachment_too_large,
    choose_attachment,
    needs_invoice_details,
    validate_attachment,
)
from streams.mapping.checks import record_name
from streams.mapping.counter_party import normalise_business_id
from streams.mapping.dimensions import row_dimensions
from streams.mapping.errors import TransferDataError, registry_mismatch
from streams.mapping.money import totals_warning
from streams.mapping.products import customer_to_business_partner, missing_products
from streams.mapping.rows import row_code
from streams.mapping.sales_invoice import map_sales_invoice
from streams.mapping.severa_models import InvoiceRow, parse
from streams.mapping.vat import check_sales_vat_status, sales_vat_status
from streams.registers import Registers
from streams.transfer import (
    VAT_READ,
    Attempt,
    CompanyContext,
    Emit,
    Json,
    ToProcountor,
    TransferLog,
    Withdrawn,
    already_transferred,
    created_meanwhile,
    not_ours,
    procountor_call,
    request_event,
    same_original_number,
    withdrawn_note,
)
from streams.writers import Writers

log = get_logger(__name__)
KIND = "sales-invoice"
# Severa's invoice row type → the row's source items and the key of their code-carrying sub-object.
ROW_SOURCES = {"Hours": ("workhours", "workType"), "ProjectFees": ("projectfees", "product"),
               "TravelExpenses": ("projecttravelexpenses", "travelExpense")}


# ----------------------------------------------------------------------------------------------- trigger


@dataclass
class CompanyDirectory:
    """Which company an invoice belongs to, and the guids of the statuses the settings name."""

    companies: dict[str, CompanySettings]
    business_unit_guids: dict[str, str] = field(default_factory=dict)  # company name → BU guid
    invoice_statuses: dict[str, str] = field(default_factory=dict)  # status name (casefolded) → guid
    unit_parents: dict[str, str | None] = field(default_factory=dict)  # BU guid → its parent BU's guid

    @classmethod
    async def load(cls, companies: dict[str, CompanySettings], severa: SeveraClient) -> CompanyDirectory:
        units = await severa.list_business_units()
        statuses = await severa.list_invoice_statuses()
        by_name = {str(u.get("name", "")).casefold(): u["guid"] for u in units}
        guids = {}
        for name, company in companies.items():
            guid = company.severa_business_unit_guid or by_name.get(
                (company.severa_business_unit_name or "").casefold()
            )
            if guid:
                guids[name] = guid
            else:
                log.error("company has no Severa business unit", company=name,
                          business_unit=company.severa_business_unit_name)
        return cls(companies, guids, {str(s["name"]).casefold(): s["guid"] for s in statuses},
                   {u["guid"]: u.get("parentGuid") for u in units})

    def company_of_unit(self, unit_guid: str | None) -> str | None:
        """The company whose business unit this is, or is under (a sub-unit belongs to its parent's company)."""
        seen: set[str] = set()
        while unit_guid and unit_guid not in seen:
            seen.add(unit_guid)
            for name, guid in self.business_unit_guids.items():
                if guid == unit_guid:
                    return name
            unit_guid = self.unit_parents.get(unit_guid)
        return None

    def company_for(self, invoice: Json) -> CompanySettings | None:
        unit = invoice.get("invoiceNumberBusinessUnitGuid") or (invoice.get("businessUnit") or {}).get("guid")
        for name, guid in self.business_unit_guids.items():
            if guid == unit:
                return self.companies[name]
        return None

    def status_guid(self, name_or_guid: str) -> str | None:
        if name_or_guid in self.invoice_statuses.values():
            return name_or_guid
        return self.invoice_statuses.get(name_or_guid.casefold())

    def in_transfer_status(self, invoice: Json, company: CompanySettings) -> bool:
        status = invoice.get("status") or {}
        wanted = company.sales_invoices.transfer_status
        return status.get("guid") == self.status_guid(wanted) or str(status.get("name", "")).casefold() == (
            wanted.casefold()
        )


def transfer_request(observed: Json, directory: CompanyDirectory) -> Json | None:
    """The TransferRequested for an observed invoice version in its company's transfer status, else None."""
    invoice = loads(observed["snapshot"])
    company = directory.company_for(invoice)
    if company is None or not company.enabled or not directory.in_transfer_status(invoice, company):
        return None
    return request_event(observed, KIND, company.name, invoice.get("number"))


# ------------------------------------------------------------------------------------------ Procountor side


class SalesInvoiceTransfer(ToProcountor):
    """Carries out sales-invoice TransferRequested events against the two APIs."""

    kind = KIND

    def __init__(self, severa: SeveraClient, procountor: dict[str, ProcountorClient],
                 companies: dict[str, CompanySettings], emit: Emit, transfer_log: TransferLog | None = None,
                 directory: CompanyDirectory | None = None, customer_cards: CustomerCards | None = None,
                 contexts: dict[str, CompanyContext] | None = None, row_mirror: InvoiceRowMirror | None = None,
                 invoice_reads: InvoiceReads | None = None, registers: Registers | None = None,
                 writers: Writers | None = None) -> None:
        super().__init__(severa, procountor, companies, emit, transfer_log, contexts, registers, writers)
        self.directory = directory
        self.row_mirror = row_mirror  # rows read in pages of 100 under a backlog; None: always per invoice
        self.invoice_reads = invoice_reads  # the reads before the first write and the PATCH, batched; None: per invoice
        # Customer cards with their addresses, kept until Severa shows a change: most invoices go to returning
        # customers, and two Severa calls per invoice are a third of its Severa budget.
        self.customer_cards = customer_cards if customer_cards is not None else CustomerCards(severa)

    async def _directory(self) -> CompanyDirectory:
        if self.directory is None:
            self.directory = await CompanyDirectory.load(self.companies, self.severa)
        return self.directory

    def _record(self, request: Json) -> str:
        return _record(request)

    async def _transfer(self, request: Json, attempt: Attempt) -> Json:
        company = self.companies.get(request["company"])
        context = self.contexts.get(request["company"])
        if company is None or context is None:
            raise TransferDataError("UNKNOWN_COMPANY", record=_record(request), field="company",
                                    value=request["company"],
                                    message=f"no settings or Procountor credentials for company {request['company']}")
        invoice = loads(request["snapshot"])
        record = record_name(invoice)
        await context.ensure_loaded()
        rows = await self._with_source_details(await self._rows(request, invoice), invoice, company, record)
        # A record the log shows attempted before is searched for in Procountor now: a crashed attempt may have
        # made its invoice. A first attempt's search waits until just before the create, where the asks of a
        # backlog share one listing and an invoice made meanwhile by anybody is still found.
        retry = attempt.number > 1 or self._attempted_before(request, attempt)
        existing = await self._existing_invoice(context, invoice) if retry else None
        if existing is not None and (refused := already_transferred(self.log, request, existing, record)):
            raise refused
        # Reads and every check first, so that a data error is reported before anything is written.
        customer = await self._customer(invoice, record)
        vat = sales_vat_status(company, customer)  # the company's VAT status for this customer, or ConfigFailure
        check_sales_vat_status(company, vat, await self._vat_statuses(context))
        partner = await self._find_partner(context, customer, record)
        await self._learn_product_codes(context, rows)
        accounts = await self._sales_accounts(context, rows, invoice, record)
        to_create = missing_products(rows, company, context.product_codes, record=record)
        credited = await self._credited(context, invoice)
        body = await context.with_current_fiscal_years(lambda: map_sales_invoice(
            invoice, rows, customer, company,
            contact_email=invoice.get("receiverContactEmail"),
            known_product_codes=context.product_codes | {p["code"] for p in to_create},
            bank_account=context.invoice_bank_account(),
            fiscal_years=context.fiscal_years,
            original_procountor_invoice_number=credited,
            vat_status=vat.status,
        ))
        if existing is not None and (other := not_ours(existing, body, record=record, number=invoice.get("number"),
                                                       source_id=request["source_id"])):
            raise other
        attachment = await self._attachment_file(context, invoice, existing, record)
        if existing is None:
            try:
                await self._still_requested(company, request)  # the last read of Severa before the first write
            except Withdrawn:
                # An attempt the log does not show yet may have made the invoice: say so (or finish its steps).
                if retry or (existing := await self._existing_invoice(context, invoice)) is None:
                    raise
                await self._still_requested(company, request, existing)
            else:
                existing = None if retry else await self._existing_invoice(context, invoice, batched=True)
            if existing is not None:
                # Made by an attempt the log does not show, or by somebody else: the same rules as above.
                if refused := already_transferred(self.log, request, existing, record):
                    raise refused
                if other := not_ours(existing, body, record=record, number=invoice.get("number"),
                                     source_id=request["source_id"]):
                    raise other
                if existing.get("attachments"):
                    attachment = None  # uploaded by the attempt that made it
        if existing is None:
            self._check_held()
            if partner is None:
                partner = await self._create_partner(request, context, customer, record)
            await self._create_products(request, context, to_create)
            items = await self._dimension_items(request, context, rows, invoice, accounts)
            body["partnerId"] = partner["id"]
            await self._begin_writing()  # a writer's slot, and the rebalance check again, right before the create
            created_meanwhile(await self._existing_invoice(context, invoice, batched=True), record)
            target = await procountor_call(context.client.create_invoice(body), record)
            adopted = False
        else:
            if retry:
                await self._still_requested(company, request, existing)
            await self._begin_writing()
            items = await self._dimension_items(request, context, rows, invoice, accounts)
            target, adopted = existing, True
        target_id = str(target["id"])
        # Procountor computes the totals itself: a difference beyond rounding is the user's to check (the
        # invoice stays). On the invoice step already, so that a later failure does not hide it.
        warning = totals_warning(invoice, rows, target)
        if warning:
            log.warning("totals differ", record=record, target_id=target_id, warning=warning)
        await self._outcome(request, attempt, "step", step="invoice", target_id=target_id,
                            target_number=_str(target.get("invoiceNumber")), adopted=adopted, warning=warning)
        await self._link(request, "invoice", request["source_id"], str(invoice.get("number")), target_id,
                         created=not adopted)
        await self._row_dimensions(context, target, items, record)
        await self._outcome(request, attempt, "step", step="dimensions", target_id=target_id)
        if attachment is not None:
            await self._upload(context, target, attachment, record)
            await self._outcome(request, attempt, "step", step="attachment", target_id=target_id)
        await self._target_status(context, target, record)
        await self._outcome(request, attempt, "step", step="target_status", target_id=target_id)
        await self._source_status(company, request)
        await self._outcome(request, attempt, "step", step="source_status", target_id=target_id)
        return {"target_id": target_id, "target_number": _str(target.get("invoiceNumber")), "warning": warning}

    # ---------------------------------------------------------------------------------------- steps
    async def _still_requested(self, company: CompanySettings, request: Json, existing: Json | None = None) -> None:
        """Read the invoice again: a user may have moved it back to draft, or changed it, since the request (or
        since the failure a transient retry repeats). `existing`: the Procountor invoice an earlier attempt
        made, which then goes on only if the invoice is still wanted, or already moved on by that attempt."""
        directory = await self._directory()
        current = await self._current(request)
        if existing is not None and (current.get("status") or {}).get("guid") == directory.status_guid(
                company.sales_invoices.after_transfer_status):
            return  # the earlier attempt's last step was done: only the rest of its steps remain
        written = "nothing was written" if existing is None else (
            f"Procountor invoice {existing.get('invoiceNumber') or existing['id']}, made by an earlier attempt, was "
            "left as it is (not approved or sent)")
        note = withdrawn_note(request, current, "status", directory.status_guid(company.sales_invoices.transfer_status),
                              written)
        if note:
            raise Withdrawn(note)

    def _attempted_before(self, request: Json, attempt: Attempt) -> bool:
        """The transfer log shows an attempt at this record other than this one (its `attempting` may be there
        already: it is published before the first step)."""
        entry = self.log.transfer(request["tenant"], request["kind"], request["source_id"]) or {}
        return any((a["request_id"], a["attempt"]) != (request["event_id"], attempt.number)
                   for a in entry.get("attempts", []))

    async def _current(self, request: Json) -> Json:
        """The invoice as Severa has it now: batched with other transfers' reads, or confirmed by the invoice
        poller's read, under a backlog (invoice_reads)."""
        if self.invoice_reads is None:
            return await self.severa.get_invoice(request["source_id"])
        number = request.get("source_number") or ""
        return await self.invoice_reads.current(request["source_id"], int(number) if number.isdigit() else None,
                                                request["source_version"], loads(request["snapshot"]))

    async def _rows(self, request: Json, invoice: Json) -> list[Json]:
        """The invoice's rows: from the worker's row mirror when it can answer for this version, else read."""
        def read() -> Awaitable[list[Json]]:
            return self.severa.get_invoice_rows(request["source_id"])

        if self.row_mirror is not None:
            rows = await self.row_mirror.rows(invoice, request["source_version"], read_alone=read)
            if rows is not None:
                return rows
        return await read()

    async def _customer(self, invoice: Json, record: str) -> Json:
        ref = invoice.get("billingCustomer") or invoice.get("customer") or {}
        guid = ref.get("guid")
        if not guid:
            raise TransferDataError("INVALID_FIELD", record=record, field="invoice.customer.guid", value=None,
                                    message="the invoice has no customer")
        return await self.customer_cards.card(str(guid))

    async def _vat_statuses(self, context: CompanyContext) -> list[Json]:
        """The Procountor environment's VAT statuses (`GET /vats/default`), read once per environment (a new API key
        gives the company a new context, read again)."""
        if context.vat_statuses is None:
            answer = await context.shared_read(VAT_READ, context.client.get_vat_percentages)
            context.vat_statuses = [s for s in answer.get("vatStatuses") or [] if isinstance(s, dict)]
        return context.vat_statuses

    async def _existing_invoice(self, context: CompanyContext, invoice: Json, batched: bool = False) -> Json | None:
        """The invoice an earlier attempt created, found by Severa's number in originalInvoiceNumber. `batched`:
        through the company's shared search (one listing answers the asks of a backlog), else its own search."""
        number = invoice.get("number")
        if number is None:
            return None
        found = await (context.original_numbers("SALES_INVOICE").find(str(number)) if batched
                       else context.client.find_invoices_by_original_number(str(number), "SALES_INVOICE"))
        live = same_original_number(found, number, "SALES_INVOICE")
        if not live:
            return None
        return await context.client.get_invoice(int(live[0]["id"]))

    async def _credited(self, context: CompanyContext, invoice: Json) -> int | None:
        original = invoice.get("reimburseInvoice") or {}
        if not invoice.get("isCreditNote") or original.get("number") is None:
            return None
        found = await context.client.find_invoices_by_original_number(str(original["number"]), "SALES_INVOICE")
        return int(found[0]["invoiceNumber"]) if found and found[0].get("invoiceNumber") is not None else None

    async def _find_partner(self, context: CompanyContext, customer: Json, record: str) -> Json | None:
        """The business partner with the customer's number (matched by number only, as the seed says)."""
        number = customer.get("number")
        if number is None:
            raise TransferDataError("MISSING_CUSTOMER_NUMBER", record=record, field="customer.number", value=None)
        key = str(number)
        partner = context.partners.get(key) or await context.shared_read(
            ("partner", key), functools.partial(context.client.find_business_partner, key))
        if partner is None:
            if not context.settings.create_customers:
                raise TransferDataError("MISSING_CUSTOMER", record=record, field="counterParty.customerNumber",
                                        value=key)
            return None
        country = context.settings.country
        ours = normalise_business_id(str(customer.get("vatNumber") or ""), country)
        theirs = (partner.get("invoicingInfo") or {}).get("identifier") or partner.get("identifier") or ""
        if ours and theirs and normalise_business_id(theirs, country) != ours:
            raise registry_mismatch(str(customer.get("name")), key, record=record)
        context.partners[key] = partner
        return partner

    async def _create_partner(self, request: Json, context: CompanyContext, customer: Json, record: str) -> Json:
        body = customer_to_business_partner(customer, context.settings.country)
        return await self.registers.ensure(self.emit, request, context, "customer", str(customer["number"]), body,
                                           record, severa_id=customer.get("guid"))

    async def _with_source_details(self, rows: list[Json], invoice: Json, company: CompanySettings,
                                   record: str) -> list[Json]:
        """Complete rows from the hours, fees or travel expenses behind them, where the row itself is silent.

        Severa's invoice row has no project and no comment text, and where it exposes its code is uncertain
        (severa-api.md §7.6). A row is completed from its source items (one call, of its own kind) when it
        has no code (`code[]`; only then is the company's default used), when it has an invoice comment, or
        when the invoice has several projects and the project dimension is transferred. Most rows need none.
        Malformed rows are reported here, naming the row and its field, before anything is written."""
        several_projects = len(invoice.get("projects") or []) > 1 and bool(
            company.sales_invoices.transfer_project_dimension and company.project_dimension)
        out = []
        for index, row in enumerate(rows):
            parsed = parse(InvoiceRow, row, record=record, prefix=f"rows[{index}]")
            source = ROW_SOURCES.get(parsed.rowType or "")
            wants = {
                "code": not row_code(parsed),
                "comment": bool(row.get("hasInvoiceComment")) and not (parsed.comment or parsed.invoiceRowComment),
                "project": several_projects and parsed.project is None,
            }
            if source is None or not parsed.guid or not any(wants.values()):
                out.append(row)
                continue
            kind, key = source
            items = (await self.severa.get_invoice_row_sources(parsed.guid, kinds=(kind,)))[kind]
            completed = dict(row)
            if wants["code"]:
                ref = next((i[key] for i in items if str((i.get(key) or {}).get("code") or "").strip()), None)
                if ref:
                    completed[key] = ref
            if wants["comment"]:
                completed["comment"] = next((i["invoiceRowComment"] for i in items if i.get("invoiceRowComment")),
                                            None)
            if wants["project"]:
                projects = {(i.get("project") or {}).get("guid"): i["project"] for i in items if i.get("project")}
                if len(projects) == 1:  # a row over items of several projects names none rather than a guess
                    completed["project"] = next(iter(projects.values()))
            out.append(completed)
        return out

    async def _learn_product_codes(self, context: CompanyContext, rows: list[Json]) -> None:
        """Which of the rows' codes (and the default codes) exist in Procountor's product registers."""
        settings = context.settings
        wanted = {settings.default_product_code, settings.default_work_type_code,
                  settings.default_travel_expense_code}
        for row in rows:
            code = row_code(InvoiceRow.model_validate(row))
            if code:
                wanted.add(code)
        for code in sorted(wanted - context.product_codes):
            # Shared by the transfers asking for the code at once (a backlog on a cold cache); a code not found
            # is searched again by the next transfer to ask: the user may have added it in Procountor meanwhile.
            if code not in context.product_codes and await context.shared_read(
                    ("product", code), functools.partial(_product_exists, context, code)):
                context.product_codes.add(code)

    async def _create_products(self, request: Json, context: CompanyContext, bodies: list[Json]) -> None:
        for body in bodies:
            await self.registers.ensure(self.emit, request, context, "product", body["code"], body,
                                        f"product {body['code']}")

    async def _dimension_items(self, request: Json, context: CompanyContext, rows: list[Json],
                               invoice: Json, accounts: list[str | None]) -> list[Json]:
        items = await self._dimension_pairs(request, context, row_dimensions(rows, invoice, context.settings))
        return [{**item, "account": account} for item, account in zip(items, accounts, strict=True)]

    async def _sales_accounts(self, context: CompanyContext, rows: list[Json], invoice: Json,
                              record: str) -> list[str | None]:
        """Per Procountor row, the sales account to book it on (the company's `transfer_sales_accounts`),
        checked against Procountor's chart of accounts (read once per company and worker, and again when an
        account is not in it: it may have been added since)."""
        accounts = row_sales_accounts(rows, invoice, context.settings)
        if any(accounts):
            if context.ledger_accounts is None:
                context.ledger_accounts = await context.client.get_chart_of_accounts()
            try:
                check_sales_accounts(accounts, context.ledger_accounts, record=record)
            except TransferDataError:
                context.ledger_accounts = await context.client.get_chart_of_accounts()
                check_sales_accounts(accounts, context.ledger_accounts, record=record)
        return accounts

    async def _attachment_file(self, context: CompanyContext, invoice: Json, existing: Json | None,
                               record: str) -> tuple[str, bytes] | None:
        """The PDF to upload (its checked name and content), fetched before the invoice is created, so that a
        file Procountor would refuse is a data error with nothing written. None: none wanted, or uploaded by
        an earlier attempt (an adopted invoice was just read, with its attachments listed)."""
        files, invoice_settings = None, None
        if needs_invoice_details(context.settings):  # Severa's invoice model has neither files nor settings
            files = await self.severa.list_invoice_files(invoice["guid"])
            invoice_settings = await self.severa.get_invoice_settings(invoice["guid"])
        option = choose_attachment(context.settings, files, invoice_settings)
        if option is None or (existing is not None and existing.get("attachments")):
            return None
        filename = f"invoice-{invoice.get('number')}.pdf"
        try:
            content = await self.severa.get_invoice_pdf(invoice["guid"], pdf_get_options=option,
                                                        max_bytes=MAX_ATTACHMENT_BYTES)
        except ContentTooLarge as too_large:
            raise attachment_too_large(filename, too_large.size, exact=too_large.exact, record=record) from None
        return validate_attachment(filename, "application/pdf", len(content), record=record), content

    async def _upload(self, context: CompanyContext, target: Json, attachment: tuple[str, bytes],
                      record: str) -> None:
        name, content = attachment
        # The invoice PDF goes out with the invoice (sendWithInvoice, required by the public Attachment model).
        meta = {"name": name, "referenceType": "INVOICE", "referenceId": int(target["id"]),
                "mimeType": "application/pdf", "sendWithInvoice": True}
        await procountor_call(context.client.upload_attachment(meta, content, "application/pdf"), record)

    async def _target_status(self, context: CompanyContext, target: Json, record: str) -> None:
        """Move the Procountor invoice to the configured status, from wherever it is now."""
        wanted = str(context.settings.sales_invoices.procountor_status)
        status = target.get("status", "UNFINISHED")
        invoice_id = int(target["id"])
        if wanted == "UNFINISHED" or status in ("SENT", "PAID", "PAYMENT_QUEUED", "PARTLY_PAID", "MARKED_PAID"):
            return
        if status == "UNFINISHED":
            await procountor_call(context.client.approve_invoice(invoice_id), record)
            status = "NOT_SENT"
        if wanted == "SENT" and status in ("NOT_SENT", "APPROVED"):
            await procountor_call(context.client.send_invoice(invoice_id), record)

    async def _source_status(self, company: CompanySettings, request: Json) -> None:
        """PATCH the Severa invoice to the after-transfer status unless it is there (or moved on) already."""
        directory = await self._directory()
        after = directory.status_guid(company.sales_invoices.after_transfer_status)
        transfer = directory.status_guid(company.sales_invoices.transfer_status)
        if after is None:
            raise TransferDataError("UNKNOWN_STATUS", record=_record(request),
                                    field="sales_invoices.after_transfer_status",
                                    value=company.sales_invoices.after_transfer_status,
                                    message="Severa has no invoice status with this name")
        current = await self._current(request)
        if (current.get("status") or {}).get("guid") != transfer:
            return  # already moved (by an earlier attempt or by a user): never move it back
        await self.severa.set_invoice_status(request["source_id"], after)


def _record(request: Json) -> str:
    return f"sales invoice {request.get('source_number') or request['source_id']}"


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


async def _product_exists(context: CompanyContext, code: str) -> bool:
    """Whether Procountor's product registers have an active product with exactly this code."""
    for kind in ("SALES", "TRAVEL"):  # one type per search: the reference documents one value
        page = await context.client.search_products(code=code, type=kind)
        if any(p.get("code") == code and p.get("active", True) for p in page.get("results", [])):
            return True
    return False

"""Travel reimbursement transfer, Severa → Procountor, exactly once.

`travel_request` turns an observed Severa travel reimbursement in its company's ``status_before`` into a
`TransferRequested` of kind ``travel-reimbursement``. `TravelReimbursementTransfer` carries one request out,
step by step, each step resumable:

  person → dimension items → travel invoice → row dimensions → attachment → Procountor status → Severa status

Exactly once, as for sales invoices (streams/sales_invoice.py): the request's `event_id` (tenant, kind, guid,
version) is its idempotency key; `attempting` is published before the first write; before creating, Procountor
is searched for a TRAVEL_INVOICE whose `originalInvoiceNumber` is the reimbursement number, and one found is
adopted; every later step reads the state it would change and writes only what is missing. Every check that
can fail on the data (employee number, IBAN, person, travel codes, fiscal period, units, lengths) runs before
the first write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from connectors.errors import ContentTooLarge
from connectors.procountor.client import ProcountorClient
from connectors.severa.client import SeveraClient
from foundation.company import CompanySettings
from foundation.exact_json import loads
from foundation.logs import get_logger
from foundation.privacy import minimal_user
from streams.mapping.attachments import MAX_ATTACHMENT_BYTES, attachment_too_large, validate_attachment
from streams.mapping.errors import TransferDataError
from streams.mapping.travel_reimbursement import (
    employee,
    expense_code,
    map_travel_invoice,
    missing_person,
    person_body,
    person_differs,
    record_name,
    reimbursement_date,
    row_dimensions,
    status_actions,
)
from streams.registers import Registers
from streams.sales_invoice import CompanyDirectory
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
KIND = "travel-reimbursement"


# ----------------------------------------------------------------------------------------------- trigger


@dataclass
class TravelDirectory:
    """Which company a reimbursement belongs to (its user's business unit) and the travel status guids."""

    companies: CompanyDirectory
    severa: SeveraClient
    statuses: dict[str, str] = field(default_factory=dict)  # status name (casefolded) → guid
    users: dict[str, Json] = field(default_factory=dict)  # user guid → UserOutputModel

    @classmethod
    async def load(cls, companies: CompanyDirectory, severa: SeveraClient) -> TravelDirectory:
        statuses = await severa.list_travel_reimbursement_statuses()
        return cls(companies, severa, {str(s["name"]).casefold(): s["guid"] for s in statuses})

    def remember_user(self, user: Json) -> None:
        """Keep a user seen elsewhere (e.g. on severa.user.observed), so its business unit is current."""
        if user.get("guid"):
            self.users[user["guid"]] = minimal_user(user)

    def forget_user(self, guid: str) -> None:
        """A person forgotten (`sevpro forget`): read from Severa again if ever needed."""
        self.users.pop(guid, None)

    async def user(self, guid: str) -> Json:
        if guid not in self.users:
            self.users[guid] = minimal_user(await self.severa.get_user(guid))
        return self.users[guid]

    def status_guid(self, name_or_guid: str | None) -> str | None:
        if not name_or_guid:
            return None
        if name_or_guid in self.statuses.values():
            return name_or_guid
        return self.statuses.get(name_or_guid.casefold())

    def company_of_user(self, user: Json) -> CompanySettings | None:
        """The company whose business unit is the user's, or the company unit above it (the hierarchy)."""
        unit = user.get("businessUnit") or {}
        candidates = {unit.get("guid"), unit.get("companyBusinessUnitGuid")} - {None}
        for name, guid in self.companies.business_unit_guids.items():
            if guid in candidates:
                return self.companies.companies[name]
        return None

    def in_status_before(self, reimbursement: Json, company: CompanySettings) -> bool:
        status = reimbursement.get("travelReimbursementStatus") or {}
        wanted = company.travel_reimbursements.status_before or ""
        return bool(wanted) and (status.get("guid") == self.status_guid(wanted)
                                 or str(status.get("name", "")).casefold() == wanted.casefold())


async def travel_request(observed: Json, directory: TravelDirectory) -> Json | None:
    """The TransferRequested for an observed reimbursement version in its company's status_before, else None.

    The status is checked against every enabled company first, so that only a reimbursement that may be
    transferred costs a read of its user.
    """
    reimbursement = loads(observed["snapshot"])
    enabled = [c for c in directory.companies.companies.values()
               if c.enabled and c.travel_reimbursements.enabled]
    if not any(directory.in_status_before(reimbursement, c) for c in enabled):
        return None
    user_guid = (reimbursement.get("user") or {}).get("guid")
    if not user_guid:
        return None
    company = directory.company_of_user(await directory.user(user_guid))
    if company is None or company not in enabled or not directory.in_status_before(reimbursement, company):
        return None
    return request_event(observed, KIND, company.name, reimbursement.get("number"))


# -------------------------------------------------------------------------------------------- transfer


class TravelReimbursementTransfer(ToProcountor):
    """Carries out travel-reimbursement TransferRequested events against the two APIs."""

    kind = KIND

    def __init__(self, severa: SeveraClient, procountor: dict[str, ProcountorClient],
                 companies: dict[str, CompanySettings], emit: Emit, transfer_log: TransferLog | None = None,
                 directory: TravelDirectory | None = None,
                 contexts: dict[str, CompanyContext] | None = None, registers: Registers | None = None,
                 writers: Writers | None = None) -> None:
        super().__init__(severa, procountor, companies, emit, transfer_log, contexts, registers, writers)
        self.directory = directory
        self._cost_centers: dict[str, str] | None = None  # Severa guid → identifier
        self._products: dict[tuple[str, str, date], Json] = {}  # (company, code, day) → TRAVEL product
        self._vat: dict[str, set[float]] = {}  # company → purchase VAT rates in use

    async def _directory(self) -> TravelDirectory:
        if self.directory is None:
            companies = await CompanyDirectory.load(self.companies, self.severa)
            self.directory = await TravelDirectory.load(companies, self.severa)
        return self.directory

    def _record(self, request: Json) -> str:
        return record_name(loads(request["snapshot"]))

    async def _transfer(self, request: Json, attempt: Attempt) -> Json:
        reimbursement = loads(request["snapshot"])
        record = record_name(reimbursement)
        company = self.companies.get(request["company"])
        context = self.contexts.get(request["company"])
        if company is None or context is None:
            raise TransferDataError("UNKNOWN_COMPANY", record=record, field="company", value=request["company"],
                                    message=f"no settings or Procountor credentials for company {request['company']}")
        await context.ensure_loaded()
        user = await self.severa.get_user((reimbursement.get("user") or {}).get("guid") or "")
        expenses = await self.severa.get_travel_reimbursement_expenses(request["source_id"])
        existing = await self._existing_invoice(context, reimbursement)
        if existing is not None and (refused := already_transferred(self.log, request, existing, record)):
            raise refused
        # Every read and check first: a data error is reported before anything is written.
        code, iban = employee(user, record=record)
        person = await self._find_person(context, user, code, record)
        products = await self._travel_products(context, expenses, reimbursement)
        wanted_person = person_body(user, code, iban, company, person)
        vat_percentages = await self._vat_percentages(context)
        body = await context.with_current_fiscal_years(lambda: map_travel_invoice(
            reimbursement, expenses, user, person or {"id": 0, **wanted_person}, products, company,
            fiscal_years=context.fiscal_years, vat_percentages=vat_percentages))
        if existing is not None and (other := not_ours(existing, body, record=record,
                                                       number=reimbursement.get("number"),
                                                       source_id=request["source_id"])):
            raise other
        plan = await self._dimension_plan(context, expenses, user, record)
        attachment = await self._attachment_file(reimbursement, existing, record)
        if existing is None:
            await self._still_requested(company, request)  # the last read before the first write
            self._check_held()
            person = await self._write_person(request, context, user, code, person, wanted_person, record)
            body["partnerId"] = person["id"]
            items = await self._dimension_pairs(request, context, plan)
            await self._begin_writing()  # a writer's slot, and the rebalance check again, right before the create
            created_meanwhile(await self._existing_invoice(context, reimbursement), record)
            target = await procountor_call(context.client.create_invoice(body), record)
            adopted = False
        else:
            await self._still_requested(company, request, existing)
            await self._begin_writing()
            items = await self._dimension_pairs(request, context, plan)
            target, adopted = existing, True
        target_id = str(target["id"])
        await self._outcome(request, attempt, "step", step="invoice", target_id=target_id,
                            target_number=None if target.get("invoiceNumber") is None
                            else str(target["invoiceNumber"]), adopted=adopted)
        await self._link(request, "travel_invoice", request["source_id"], str(reimbursement.get("number")),
                         target_id, created=not adopted)
        await self._row_dimensions(context, target, items, record)
        await self._outcome(request, attempt, "step", step="dimensions", target_id=target_id)
        if attachment is not None:
            await self._upload(context, target, attachment, record)
            await self._outcome(request, attempt, "step", step="attachment", target_id=target_id)
        await self._target_status(context, target, record)
        await self._outcome(request, attempt, "step", step="target_status", target_id=target_id)
        await self._source_status(company, request, record)
        await self._outcome(request, attempt, "step", step="source_status", target_id=target_id)
        return {"target_id": target_id,
                "target_number": None if target.get("invoiceNumber") is None else str(target["invoiceNumber"])}

    # ---------------------------------------------------------------------------------------- steps
    async def _still_requested(self, company: CompanySettings, request: Json, existing: Json | None = None) -> None:
        """Read the reimbursement again before the first write (see SalesInvoiceTransfer._still_requested)."""
        directory = await self._directory()
        settings = company.travel_reimbursements
        current = await self.severa.get_travel_reimbursement(request["source_id"])
        if existing is not None and (current.get("travelReimbursementStatus") or {}).get("guid") == (
                directory.status_guid(settings.status_after)):
            return  # the earlier attempt's last step was done: only the rest of its steps remain
        written = "nothing was written" if existing is None else (
            f"Procountor travel invoice {existing['id']}, made by an earlier attempt, was left as it is")
        note = withdrawn_note(request, current, "travelReimbursementStatus",
                              directory.status_guid(settings.status_before), written)
        if note:
            raise Withdrawn(note)

    async def _existing_invoice(self, context: CompanyContext, reimbursement: Json) -> Json | None:
        """The travel invoice an earlier attempt created, found by the reimbursement number."""
        number = reimbursement.get("number")
        if number is None:
            return None
        found = await context.client.find_invoices_by_original_number(str(number), "TRAVEL_INVOICE")
        live = same_original_number(found, number, "TRAVEL_INVOICE")
        return await context.client.get_invoice(int(live[0]["id"])) if live else None

    async def _find_person(self, context: CompanyContext, user: Json, code: str, record: str) -> Json | None:
        """The full Procountor person with the employee number; None only when persons may be created."""
        found = await context.client.find_person(code)
        if found is None:
            if not context.settings.travel_reimbursements.update_persons:
                raise missing_person(user, code, record=record)
            return None
        return await context.client.get_person(int(found["id"]))

    async def _write_person(self, request: Json, context: CompanyContext, user: Json, code: str,
                            person: Json | None, wanted: Json, record: str) -> Json:
        """Create the person, or bring the fields Severa owns up to date (update_persons only)."""
        if person is None:
            return await self.registers.ensure(self.emit, request, context, "person", code, wanted, record,
                                               severa_id=user.get("guid"))
        if context.settings.travel_reimbursements.update_persons and person_differs(person, wanted):
            person = await procountor_call(context.client.update_person(int(person["id"]), wanted), record)
        await self._link(request, "person", user.get("guid"), code, person["id"], created=False)
        return person

    async def _travel_products(self, context: CompanyContext, expenses: list[Json],
                               reimbursement: Json) -> dict[str, Json]:
        """TRAVEL product per code, valid on the reimbursement date; a code Procountor lacks is left out."""
        day = reimbursement_date(reimbursement)
        found: dict[str, Json] = {}
        for code in sorted({expense_code(e, context.settings) for e in expenses}):
            key = (context.settings.name, code, day)
            if key not in self._products:
                product = await context.client.find_product(code, "TRAVEL", on=day)
                if product is None:
                    continue
                self._products[key] = product
            found[code] = self._products[key]
        return found

    async def _vat_percentages(self, context: CompanyContext) -> set[float]:
        name = context.settings.name
        if name not in self._vat:
            vats = await context.shared_read(VAT_READ, context.client.get_vat_percentages)
            self._vat[name] = {float(p["vatPercent"]) for info in vats.get("vatInformation", [])
                               for p in info.get("percentages", []) if p.get("purchase", True)}
        return self._vat[name]

    async def _dimension_plan(self, context: CompanyContext, expenses: list[Json], user: Json,
                              record: str) -> list[Json]:
        """Per row, the items wanted; a dimension name Procountor lacks is a data error (before any write)."""
        settings = context.settings.travel_reimbursements
        centers: dict[str, str] = {}
        if settings.transfer_cost_center_dimension:
            if self._cost_centers is None:
                self._cost_centers = {c["guid"]: str(c.get("identifier") or c.get("name"))
                                      for c in await self.severa.list_cost_centers()}
            centers = self._cost_centers
        plan = row_dimensions(expenses, user, context.settings, centers)
        for name in {item["dimension"] for row in plan for item in row["items"]}:
            await context.dimension(name, record)
        return plan

    async def _attachment_file(self, reimbursement: Json, existing: Json | None,
                               record: str) -> tuple[str, bytes] | None:
        """The reimbursement PDF (the reimbursement and all its attachments as one file), fetched and checked
        before the invoice is created; None when an earlier attempt uploaded it."""
        # The invoice's own `attachments` (an adopted invoice was just read; a new one has none): GET /attachments
        # needs a paid add-on and answers another shape.
        if existing is not None and existing.get("attachments"):
            return None
        filename = f"travel-reimbursement-{reimbursement.get('number')}.pdf"
        try:
            content = await self.severa.get_travel_reimbursement_pdf(reimbursement["guid"],
                                                                     max_bytes=MAX_ATTACHMENT_BYTES)
        except ContentTooLarge as too_large:
            raise attachment_too_large(filename, too_large.size, exact=too_large.exact, record=record) from None
        return validate_attachment(filename, "application/pdf", len(content), record=record), content

    async def _upload(self, context: CompanyContext, target: Json, attachment: tuple[str, bytes],
                      record: str) -> None:
        name, content = attachment
        # sendWithInvoice is required, and may be true only for sales and purchase orders' invoices.
        meta = {"name": name, "referenceType": "INVOICE", "referenceId": int(target["id"]),
                "mimeType": "application/pdf", "sendWithInvoice": False}
        await procountor_call(context.client.upload_attachment(meta, content, "application/pdf"), record)

    async def _target_status(self, context: CompanyContext, target: Json, record: str) -> None:
        """Move the travel invoice forward to the configured status, from wherever it is now."""
        wanted = str(context.settings.travel_reimbursements.procountor_status)
        current = (await context.client.get_invoice(int(target["id"]))).get("status", "UNFINISHED")
        invoice_id = int(target["id"])
        for action in status_actions(str(current), wanted):
            if action == "sendToCirculation":
                await procountor_call(context.client.send_to_circulation(invoice_id), record)
            elif action == "verify":
                await procountor_call(context.client.verify_invoice(invoice_id), record)
            else:
                await procountor_call(context.client.approve_invoice(invoice_id), record)

    async def _source_status(self, company: CompanySettings, request: Json, record: str) -> None:
        """PATCH the reimbursement to status_after, only while it is still in status_before."""
        directory = await self._directory()
        settings = company.travel_reimbursements
        after, before = directory.status_guid(settings.status_after), directory.status_guid(settings.status_before)
        if after is None:
            raise TransferDataError("UNKNOWN_STATUS", record=record, field="travel_reimbursements.status_after",
                                    value=settings.status_after,
                                    message="Severa has no travel reimbursement status with this name")
        current = await self.severa.get_travel_reimbursement(request["source_id"])
        if (current.get("travelReimbursementStatus") or {}).get("guid") != before:
            return  # already moved (by an earlier attempt or by a user): never move it back
        await self.severa.set_travel_reimbursement_status(request["source_id"], after)

"""Purchase invoice import, Procountor → Severa project fees, exactly once.

`PurchaseInvoiceTrigger` turns an observed Procountor purchase invoice (`procountor.purchase_invoice.observed`,
tenant `<tenant>/<company>`) into a `TransferRequested` when its company imports purchase invoices, its status
is one of the import statuses and its accounting is dimensioned to the company's project dimension.
`PurchaseInvoiceTransfer` carries a request out: one Severa project fee per project the invoice is split to.

Exactly once without an external-id field on Severa's fees (kafka-and-faust.md §1.4):
- The request's `event_id` (tenant, kind, Procountor id, version) is its idempotency key; a request the
  transfer log shows succeeded is skipped without any API call.
- A later version whose fees would be the same (APPROVED → PAID changes only the status) is recognised from
  the last imported version's snapshot and closed as `skipped`, again without any API call.
- Each fee is linked in the ID map (`IdLinked` kind `project_fee`, severa_key `<invoice id>:<project>`), and
  its description carries the marker `Procountor <company> #<id>` (ids are per company). Before creating, the
  linked fee is read, or else the project's fees are searched for the marker, so a crash between the POST and
  its record never doubles a fee. An old marker without the company (`Procountor #<id>`) still counts, unless
  the ID map links that fee to another company's invoice, and is replaced by the new one on the next write;
  a fee found whose amount, date or texts differ is PATCHed, never created again. A project a later version
  is no longer dimensioned to loses its (linked, not yet invoiced) fee.
- Every project is looked up before the first write, so a missing project is a data error with nothing written.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from connectors.errors import ApiAuthError, TransientApiError
from connectors.procountor.client import ProcountorClient
from connectors.procountor.errors import ProcountorError
from connectors.severa.client import SeveraClient
from connectors.severa.errors import SeveraError, SeveraNotFound
from foundation.company import CompanySettings
from foundation.exact_json import loads
from foundation.logs import get_logger
from streams.mapping.checks import COMPANY_CURRENCY
from streams.mapping.errors import TransferDataError
from streams.mapping.purchase_invoice import (
    PlannedFee,
    dimension_ids,
    fee_body,
    fee_changes,
    fee_key,
    fee_marker,
    fingerprint,
    is_dimensioned,
    is_importable,
    missing_project,
    plan_fees,
    project_amounts,
    record_name,
)
from streams.transfer import (
    Attempt,
    Emit,
    Json,
    NoLog,
    Skip,
    Transfer,
    TransferLog,
    TransientFailure,
    link_event,
    request_event,
)

log = get_logger(__name__)
KIND = "purchase-invoice"
FEE_LINK = "project_fee"


# ------------------------------------------------------------------------------------ project dimensions


class ProjectDimensions:
    """Each company's Procountor dimensions, read once and re-read when an invoice names one not yet seen.

    The trigger re-reads at most once per `min_reload_seconds` per company (an invoice dimensioned only to
    other dimensions must not cost a call each); the transfer re-reads at once for an unknown item.
    """

    def __init__(self, procountor: Mapping[str, ProcountorClient], companies: Mapping[str, CompanySettings], *,
                 min_reload_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.procountor = procountor
        self.companies = companies
        self.min_reload_seconds = min_reload_seconds
        self.clock = clock
        self._dimensions: dict[str, list[Json]] = {}
        self._loaded_at: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def load(self, company: str, *, refresh: bool = False, throttled: bool = True) -> list[Json]:
        client = self.procountor.get(company)
        if client is None:
            return []
        async with self._locks.setdefault(company, asyncio.Lock()):
            due = self.clock() - self._loaded_at.get(company, float("-inf")) >= self.min_reload_seconds
            if company not in self._dimensions or (refresh and (due or not throttled)):
                self._dimensions[company] = list(await client.get_dimensions())
                self._loaded_at[company] = self.clock()
            return self._dimensions[company]

    def known_ids(self, company: str) -> set[int]:
        return {int(d["id"]) for d in self._dimensions.get(company, [])}

    async def project_dimension(self, company: str, *, refresh: bool = False, throttled: bool = True) -> Json | None:
        name = self.companies[company].project_dimension if company in self.companies else None
        if not name:
            return None
        dimensions = await self.load(company, refresh=refresh, throttled=throttled)
        return next((d for d in dimensions if d.get("name") == name), None)


# ----------------------------------------------------------------------------------------------- trigger


def company_of(observed: Mapping[str, Any], companies: Mapping[str, CompanySettings]) -> CompanySettings | None:
    """The company of a Procountor event: its `company` field, else the last part of `<tenant>/<company>`."""
    name = observed.get("company") or str(observed["tenant"]).rsplit("/", 1)[-1]
    return companies.get(name)


def imports_purchase_invoices(company: CompanySettings | None) -> bool:
    return bool(company and company.enabled and company.purchase_invoices.enabled and company.project_dimension)


def transfer_request(observed: Mapping[str, Any], company: CompanySettings, project_dimension_id: int | None) -> (
        Json | None):
    """The TransferRequested for an observed purchase invoice version that is to be imported, else None.

    `project_dimension_id` None means the dimensions could not be read now: an importable invoice with any
    dimensioning is then requested and the transfer, which reads them again, decides.
    """
    if not imports_purchase_invoices(company):
        return None
    invoice = loads(observed["snapshot"])
    if not is_importable(invoice, company.purchase_invoices.statuses):
        return None
    if project_dimension_id is None:
        if not dimension_ids(invoice):
            return None
    elif not is_dimensioned(invoice, project_dimension_id):
        return None
    return request_event(observed, KIND, company.name, invoice.get("invoiceNumber"))


class PurchaseInvoiceTrigger:
    """Observed purchase invoice versions → transfer requests (reads the project dimension's id, cached)."""

    def __init__(self, companies: Mapping[str, CompanySettings], dimensions: ProjectDimensions) -> None:
        self.companies = companies
        self.dimensions = dimensions

    async def request(self, observed: Mapping[str, Any]) -> Json | None:
        company = company_of(observed, self.companies)
        if company is None or not imports_purchase_invoices(company):
            return None
        invoice = loads(observed["snapshot"])
        if not is_importable(invoice, company.purchase_invoices.statuses) or not dimension_ids(invoice):
            return None  # no Procountor call for invoices that cannot qualify
        try:
            dimension = await self.dimensions.project_dimension(company.name)
            if dimension_ids(invoice) - self.dimensions.known_ids(company.name):
                dimension = await self.dimensions.project_dimension(company.name, refresh=True)
        except ProcountorError as exc:  # transport errors included
            log.warning("project dimension not readable; the transfer decides", company=company.name,
                        error=f"{type(exc).__name__}: {exc}"[:300])
            return transfer_request(observed, company, None)
        if dimension is None:
            log.warning("company has no such project dimension in Procountor", company=company.name,
                        dimension=company.project_dimension)
            return None
        return transfer_request(observed, company, int(dimension["id"]))


# ---------------------------------------------------------------------------------------------- transfer


@dataclass
class ImportedFee:
    project_number: int
    guid: str
    action: str  # created, updated, unchanged, removed


@dataclass
class _Found:
    fee: Json
    linked: bool  # the ID map already holds this link


@dataclass
class PurchaseInvoiceTransfer(Transfer):
    """Carries out purchase-invoice TransferRequested events against Severa (and Procountor's dimensions)."""

    kind: ClassVar[str] = KIND

    severa: SeveraClient
    companies: Mapping[str, CompanySettings]
    dimensions: ProjectDimensions
    emit: Emit
    transfer_log: TransferLog | None = None
    _projects: dict[int, Json] = field(default_factory=dict)

    def __post_init__(self) -> None:  # the dataclass's __init__ stands in for Transfer.__init__
        self.log = self.transfer_log or NoLog()

    # ---------------------------------------------------------------------------------------- events
    @staticmethod
    def _targets(fees: list[ImportedFee]) -> dict[str, str | None]:
        # The target is Severa: the fee guids, and the projects' numbers as the target numbers.
        return {"target_id": ",".join(f.guid for f in fees) or None,
                "target_number": ",".join(str(f.project_number) for f in fees) or None}

    async def _link_fee(self, request: Json, fee_guid: str, project_number: int, created: bool) -> None:
        key = fee_key(request["source_id"], project_number)
        await self.emit("IdLinked", link_event(request, FEE_LINK, fee_guid, key, request["source_id"], created))

    def _record(self, request: Json) -> str:
        return _record(request)

    async def _skip(self, request: Json) -> Skip | None:
        note = self._nothing_to_do(request)
        return Skip(note) if note else None

    def _last_import(self, request: Json) -> Json | None:
        """The request of the latest attempt the log shows succeeded (or skipped) for this invoice."""
        entry = self.log.transfer(request["tenant"], KIND, request["source_id"]) or {}
        done = [a for a in entry.get("attempts", []) if a.get("result") in ("succeeded", "skipped")]
        lookup = getattr(self.log, "request", None)
        if not done or lookup is None:
            return None
        return lookup(done[-1]["request_id"])

    def _nothing_to_do(self, request: Json) -> str | None:
        last = self._last_import(request)
        if not last or not last.get("snapshot"):
            return None
        if str(last["source_version"]) > str(request["source_version"]):
            # Procountor versions are ISO timestamps: an older one never undoes a newer one
            return f"an older version than the one imported ({last['source_version']})"
        if fingerprint(loads(last["snapshot"])) != fingerprint(loads(request["snapshot"])):
            return None
        return "the import is unchanged since the version imported before"

    async def _transfer(self, request: Json, attempt: Attempt) -> Json:
        invoice = loads(request["snapshot"])
        record = record_name(invoice)
        company = self.companies.get(request["company"])
        if company is None or not company.project_dimension:
            raise TransferDataError("UNKNOWN_COMPANY", record=record, field="project_dimension",
                                    value=request["company"],
                                    message=f"no settings or no project dimension for company {request['company']}")
        try:
            planned = await self._plan(request["company"], company.project_dimension, invoice, record)
            # Every project before the first write: a missing one fails the invoice with nothing written.
            projects = await self._find_projects([p.project_number for p in planned])
            dimension_name = company.project_dimension
            for fee in planned:
                if fee.project_number not in projects:
                    raise missing_project(invoice, fee.item_code, dimension_name)
            # Every fee's amount in its project's currency before the first write, too.
            accounting = COMPANY_CURRENCY[company.country]
            bodies = {fee.project_number: fee_body(invoice, fee, projects[fee.project_number], request["company"],
                                                   accounting_currency=accounting) for fee in planned}
            links = self._links(request)
            imported = []
            for fee in planned:
                imported.append(await self._import_fee(request, fee, bodies[fee.project_number],
                                                       projects[fee.project_number], links))
                await self._outcome(request, attempt, "step", step=f"fee:{fee.project_number}",
                                    adopted=imported[-1].action != "created", **self._targets([imported[-1]]))
            await self._remove_dropped(request, attempt, planned, links)
            return self._targets(imported)
        except TransientApiError as exc:
            raise TransientFailure(f"{type(exc).__name__}: {exc}") from exc
        except ApiAuthError:
            raise  # a configuration error: Transfer classifies it
        except ProcountorError as exc:
            raise TransferDataError("PROCOUNTOR_ERROR", record=record, field=None, value=None,
                                    message=f"Procountor refused reading the dimensions: {exc}") from exc
        except SeveraError as exc:
            status = getattr(exc, "status", None)
            if status is not None and int(status) >= 500:
                raise TransientFailure(f"Severa {status}: {exc}") from exc
            raise TransferDataError("SEVERA_ERROR", record=record, field=None, value=None,
                                    message=f"Severa refused a request: {exc}",
                                    solution="Severa refused the project fee. Check the message, correct the "
                                             "project in Severa (for example reopen a closed project) and "
                                             "transfer the purchase invoice again.") from exc

    async def _plan(self, company: str, dimension_name: str, invoice: Json, record: str) -> list[PlannedFee]:
        dimension = await self.dimensions.project_dimension(company)
        for refresh in (False, True):
            if refresh:  # an item or the dimension itself may be newer than our copy
                dimension = await self.dimensions.project_dimension(company, refresh=True, throttled=False)
            if dimension is None:
                continue
            try:
                return plan_fees(invoice, dimension)
            except TransferDataError as error:
                if error.code != "DIMENSION_MISMATCH" or refresh:
                    raise
        raise TransferDataError("DIMENSION_MISMATCH", record=record, field="project_dimension",
                                value=dimension_name,
                                message=f"Procountor has no dimension named {dimension_name!r}")

    async def _find_projects(self, numbers: list[int]) -> dict[int, Json]:
        """Severa projects by number (one request for those not cached); missing numbers are left out."""
        wanted = sorted({n for n in numbers if n not in self._projects})
        if wanted:
            async for project in self.severa.iter_pages("/v1/projects", {"numbers": wanted}):
                if project.get("number") is not None:
                    self._projects[int(project["number"])] = project
        return {n: self._projects[n] for n in numbers if n in self._projects}

    async def _import_fee(self, request: Json, fee: PlannedFee, body: Json, project: Json,
                          links: Mapping[int, str]) -> ImportedFee:
        found = await self._existing_fee(request, fee, project, links.get(fee.project_number))
        if found is None:
            self._check_held()
            created = await self.severa.create_project_fee(body)
            await self._link_fee(request, created["guid"], fee.project_number, created=True)
            return ImportedFee(fee.project_number, created["guid"], "created")
        guid = found.fee["guid"]
        if not found.linked:  # adopted: created by an attempt whose record was lost
            await self._link_fee(request, guid, fee.project_number, created=False)
        changes = fee_changes(found.fee, body)
        if changes:
            await self.severa.patch_project_fee(guid, changes)
            log.info("project fee updated", record=_record(request), project=fee.project_number,
                     fields=sorted(changes))
            return ImportedFee(fee.project_number, guid, "updated")
        return ImportedFee(fee.project_number, guid, "unchanged")

    async def _existing_fee(self, request: Json, fee: PlannedFee, project: Json, guid: str | None) -> _Found | None:
        """The fee this invoice already has on the project: the linked one, else one carrying the marker."""
        if guid:
            try:
                linked = await self.severa.get_project_fee(guid)
            except SeveraNotFound:
                linked = None  # deleted in Severa since: search, then create again
            if linked and _marks(linked, request) and (
                    (linked.get("project") or {}).get("guid") == project["guid"]):
                return _Found(linked, linked=True)
        others = self._fees_of_other_companies(request)
        marked = [f for f in await self.severa.list_project_fees(project_guid=project["guid"])
                  if _marks(f, request) and f["guid"] not in others]
        if not marked:
            return None
        if len(marked) > 1:
            log.warning("several fees carry one purchase invoice's marker; the oldest is kept",
                        record=_record(request), project=fee.project_number, fees=[f["guid"] for f in marked])
        marked.sort(key=lambda f: (str(f.get("createdDateTime") or ""), f["guid"]))
        return _Found(marked[0], linked=False)

    def _fees_of_other_companies(self, request: Json) -> set[str]:
        """Fee guids the ID map links to the purchase invoices of the tenant's other companies: an old marker
        (no company) on one of them is not this invoice's."""
        id_map = getattr(self.log, "id_map", None)
        if id_map is None:
            return set()
        tenant = str(request["tenant"]).removesuffix(f"/{request['company']}")
        return {str(link["severa_id"]) for link in id_map(kind=FEE_LINK, tenant=tenant)
                if link["company"] != request["company"] and link.get("severa_id")}

    def _links(self, request: Json) -> dict[int, str]:
        """Project number → fee guid of this invoice's fees in the ID map (empty without a projection)."""
        id_map = getattr(self.log, "id_map", None)
        if id_map is None:
            return {}
        prefix = fee_key(request["source_id"], "")
        links = {}
        for link in id_map(kind=FEE_LINK, tenant=request["tenant"], company=request["company"]):
            number = str(link["severa_key"]).removeprefix(prefix)
            if str(link["severa_key"]).startswith(prefix) and number.isdigit() and link.get("severa_id"):
                links[int(number)] = link["severa_id"]
        return links

    async def _remove_dropped(self, request: Json, attempt: Attempt, planned: list[PlannedFee],
                              links: Mapping[int, str]) -> None:
        """Fees of projects a later version is no longer dimensioned to: the cost moved, so the fee goes.

        Only fees the ID map links to this invoice, still carrying its marker and not yet invoiced in Severa
        (an invoiced fee is the customer's history: it stays, with a warning).
        """
        wanted = {p.project_number for p in planned}
        for number, guid in sorted(links.items()):
            if number in wanted:
                continue
            try:
                fee = await self.severa.get_project_fee(guid)
            except SeveraNotFound:
                continue  # removed already (by an earlier attempt or a user)
            if not _marks(fee, request):
                continue
            if fee.get("invoice"):
                log.warning("fee of a project no longer dimensioned is invoiced; left as it is",
                            record=_record(request), project=number, fee=guid)
                continue
            await self.severa.delete_project_fee(guid)
            await self._outcome(request, attempt, "step", step=f"fee_removed:{number}",
                                **self._targets([ImportedFee(number, guid, "removed")]))


def _record(request: Json) -> str:
    return f"purchase invoice {request.get('source_number') or request['source_id']}"


def _marks(fee: Json, request: Json) -> bool:
    """The fee's marker names the request's invoice: of its company, or an old marker that names none."""
    found = fee_marker(fee)
    return (found is not None and found.invoice_id == str(request["source_id"])
            and found.company in (None, request["company"]))


__all__ = ["KIND", "ProjectDimensions", "PurchaseInvoiceTransfer", "PurchaseInvoiceTrigger", "project_amounts",
           "transfer_request"]

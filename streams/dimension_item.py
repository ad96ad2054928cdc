"""Projects, cost centers and business units are kept in the companies' Procountor dimensions (the seed: they
"are transferred from Severa to Procountor automatically to the dimensions specified in the integration
settings. If a dimension item is closed or disabled, its status is also updated in Procountor").

    severa.{project,cost_center,business_unit}.observed ──trigger──▶ transfer.dimension-item.requested
        ──transfer──▶ transfer.dimension-item.outcome (+ registry.links for a created item)

Every observed version becomes a request per company that transfers that dimension. The item is found by the
code the transfers give it: the project number, the cost center identifier, the business unit name.
- An open project, or an active business unit, of the company's own business unit (or a unit under it) that
  has no item yet gets one, so that purchase invoices can be dimensioned to a new project at once. Cost
  centers name no business unit: theirs are created on first use (`ToProcountor._item_of`), as any item is.
- A project closed (`isClosed`), or a cost center or business unit made inactive (`isActive: false`), closes
  its item (`status: "P"`); reopened, the item is active again.
A request with nothing to do is `skipped` without an API call. An item is created as on first use (from the
worker's cache, under the company's item lock); before a status write the dimension is read again, so a
replay, a status a user set in Procountor meanwhile, or a concurrent first use writes nothing more; and
the source is read again in Severa first, so a stale request (a replay, or one delivered after a newer one)
never sets an item back to what its source no longer is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from foundation.company import CompanySettings
from foundation.logs import get_logger
from foundation.types import Json
from streams.sales_invoice import CompanyDirectory
from streams.transfer import (
    Attempt,
    CompanyContext,
    Skip,
    ToProcountor,
    Withdrawn,
    procountor_call,
    request_event,
)

log = get_logger(__name__)
KIND = "dimension-item"
# Severa entity → (the settings field naming its Procountor dimension, the toggle that transfers it, its label)
SOURCES: dict[str, tuple[str, str, str]] = {
    "project": ("project_dimension", "transfer_project_dimension", "project"),
    "cost_center": ("cost_center_dimension", "transfer_cost_center_dimension", "cost center"),
    "business_unit": ("business_unit_dimension", "transfer_business_unit_dimension", "business unit"),
}


def item_code(entity: str, snapshot: Mapping[str, Any]) -> str | None:
    """The item's codeName as the transfers create it (project number, cost center identifier, unit name)."""
    candidates = {"project": ("number", "code", "name"), "cost_center": ("identifier", "number", "name"),
                  "business_unit": ("name",)}[entity]
    value = next((snapshot.get(key) for key in candidates if snapshot.get(key) not in (None, "")), None)
    return str(value).strip() if value is not None else None


def is_active(entity: str, snapshot: Mapping[str, Any]) -> bool:
    if entity == "project":
        return not snapshot.get("isClosed")
    return snapshot.get("isActive", True) is not False


def transfer_requests(observed: Mapping[str, Any], companies: Mapping[str, CompanySettings]) -> list[Json]:
    """One request per enabled company whose settings transfer this kind of dimension (sales or travel)."""
    entity = observed.get("entity", "")
    if entity not in SOURCES:
        return []
    snapshot = json.loads(observed["snapshot"])
    code = item_code(entity, snapshot)
    if not code:
        return []
    dimension_field, toggle, _ = SOURCES[entity]
    requests = []
    for name, company in companies.items():
        if not company.enabled or not getattr(company, dimension_field):
            continue
        if not (getattr(company.sales_invoices, toggle) or getattr(company.travel_reimbursements, toggle)):
            continue
        # The item of one company's dimension is the record: one transfer-log entry per company and item.
        source = {**observed, "entity_id": f"{name}/{entity}/{code}"}
        requests.append(request_event(source, KIND, name, code))
    return requests


class DimensionItemTransfer(ToProcountor):
    kind = KIND

    def __init__(self, *args: Any, directory: CompanyDirectory | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.directory = directory  # which company a business unit belongs to (None: create nothing)

    def _record(self, request: Json) -> str:
        return f"{SOURCES[_entity(request)][2]} {request['source_number']}"

    def _state(self, request: Json) -> tuple[bool, bool]:
        """(active in Severa, an item may be created for this company)."""
        entity, snapshot = _entity(request), json.loads(request["snapshot"])
        active = is_active(entity, snapshot)
        unit = {"project": (snapshot.get("businessUnit") or {}).get("guid"),
                "business_unit": snapshot.get("guid")}.get(entity)
        owned = self.directory is not None and self.directory.company_of_unit(unit) == request["company"]
        return active, active and owned

    def _item(self, request: Json, context: CompanyContext) -> tuple[str | None, Json | None]:
        name = getattr(context.settings, SOURCES[_entity(request)][0]) or ""
        dimension = context.dimensions.get(name)
        if dimension is None:
            return None, None
        code = request["source_number"]
        return name, next((i for i in dimension.get("items", []) if i.get("codeName") == code), None)

    async def _skip(self, request: Json) -> Skip | None:
        context = self.contexts.get(request["company"])
        if context is None:
            return Skip("no Procountor credentials for this company")
        await context.ensure_loaded()
        name, item = self._item(request, context)
        active, creatable = self._state(request)
        if name is None:
            return Skip("the company's Procountor has no such dimension")
        if item is None:
            if creatable:
                return None
            return Skip("no item in Procountor; one is created when an invoice of this company first uses it")
        if (item.get("status") != "P") == active:
            return Skip(f"the item is {'active' if active else 'closed'} already", str(item["id"]),
                        request["source_number"])
        return None

    async def _transfer(self, request: Json, attempt: Attempt) -> Json:
        context = self.contexts[request["company"]]
        active, creatable = self._state(request)
        name, item = self._item(request, context)
        if name is None:
            return {}
        if item is None:
            if not creatable:
                return {}
            snapshot = json.loads(request["snapshot"])  # created as on first use: from the worker's cache
            item = await self._item_of(request, context, name, request["source_number"], snapshot.get("name"),
                                       SOURCES[_entity(request)][2], severa_id=snapshot.get("guid"))
            return {"target_id": str(item["id"]), "target_number": request["source_number"]}
        if not await self._still_so_in_severa(request, active):
            raise Withdrawn("the source changed in Severa since this request (its newer version has a request of "
                            "its own); nothing was written")
        async with context.items_lock:
            await context.reload_dimensions()  # read before a status write: a user may have changed it
            name, item = self._item(request, context)
            if name is None or item is None:
                return {}
            if (item.get("status") != "P") != active:
                dimension = context.dimensions[name]
                updated = await procountor_call(
                    context.client.set_dimension_item_active(dimension["id"], item, active), self._record(request))
                item.clear()
                item.update(updated)
                log.info("dimension item status set", record=self._record(request), company=request["company"],
                         active=active)
        return {"target_id": str(item["id"]), "target_number": request["source_number"]}


    async def _still_so_in_severa(self, request: Json, active: bool) -> bool:
        """The source's state in Severa now, read before a status write: a replay, or a request delivered after a
        newer one, must not set the item back to what the source was (a project reopened since, closed again)."""
        entity, guid = _entity(request), json.loads(request["snapshot"]).get("guid")
        if not guid:
            return True
        if entity == "project":
            current: Json | None = await self.severa.get_project(guid)
        else:
            listed = await (self.severa.list_cost_centers() if entity == "cost_center"
                            else self.severa.list_business_units())
            current = next((record for record in listed if record.get("guid") == guid), None)
        return current is not None and is_active(entity, current) == active


def _entity(request: Json) -> str:
    return str(request["source_id"]).split("/")[1]

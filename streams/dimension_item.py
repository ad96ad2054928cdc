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
- A rename follows: the item's description is its source's name (as the transfers create it), so a renamed
  project, cost center or business unit renames its item's description; an item with an empty description (made
  in Procountor) is not given one. A business unit's code is its name: a renamed unit's item is found by its
  link in the ID map (the `IdLinked` of its creation, or of an earlier write) and gets the new code, rather than
  a second item being made.
- Projects get their items also when only the purchase invoice import is on: it dimensions costs to them.
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


def item_description(snapshot: Mapping[str, Any]) -> str | None:
    """The item's description as the transfers create it: the source's name."""
    name = str(snapshot.get("name") or "").strip()
    return name or None


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
        # The purchase invoice import dimensions costs to projects: it needs their items too.
        imports = entity == "project" and company.purchase_invoices.enabled
        if not (getattr(company.sales_invoices, toggle) or getattr(company.travel_reimbursements, toggle)
                or imports):
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
        """(the dimension's name, the item of the request's code, or else the item linked to its source: a
        renamed business unit's, found under its old code). (None, None) without the dimension."""
        name = getattr(context.settings, SOURCES[_entity(request)][0]) or ""
        dimension = context.dimensions.get(name)
        if dimension is None:
            return None, None
        code, items = request["source_number"], dimension.get("items", [])
        found = next((i for i in items if i.get("codeName") == code), None)
        if found is None:
            linked = self._linked_id(request)
            found = next((i for i in items if linked is not None and str(i.get("id")) == linked), None)
        return name, found

    def _linked_id(self, request: Json) -> str | None:
        """The Procountor item id the ID map links to the request's source (the projection, when there is one)."""
        guid = json.loads(request["snapshot"]).get("guid")
        lookup = getattr(self.log, "lookup_severa_id", None)  # the projection's; NoLog has none
        if not guid or lookup is None:
            return None
        found = lookup(request["tenant"], "dimension_item", guid, request["company"])
        return None if found is None else str(found)

    def _follows(self, request: Json, item: Json, active: bool) -> bool:
        """The item is as its source is: status, code, and (where it has one) description."""
        wanted = item_description(json.loads(request["snapshot"]))
        named = not item.get("description") or wanted is None or item["description"] == wanted
        return (item.get("status") != "P") == active and item.get("codeName") == request["source_number"] and named

    def _wanted(self, request: Json, item: Json, active: bool) -> Json:
        """The item's body as its source is now."""
        body = {k: v for k, v in item.items() if k != "status"}
        body["codeName"] = request["source_number"]
        wanted = item_description(json.loads(request["snapshot"]))
        if wanted is not None and (item.get("description") or item.get("codeName") != request["source_number"]):
            body["description"] = wanted
        if not active:
            body["status"] = "P"
        return body

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
        if self._follows(request, item, active):
            return Skip(f"the item is {'active' if active else 'closed'} already",
                        str(item["id"]), request["source_number"])
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
            await context.reload_dimensions()  # read before a write: a user may have changed the item
            name, item = self._item(request, context)
            if name is None or item is None:
                return {}
            if not self._follows(request, item, active):
                dimension = context.dimensions[name]
                updated = await procountor_call(
                    context.client.update_dimension_item(dimension["id"], self._wanted(request, item, active)),
                    self._record(request))
                item.clear()
                item.update(updated)
                log.info("dimension item updated", record=self._record(request), company=request["company"],
                         active=active)
                snapshot = json.loads(request["snapshot"])
                # Linked, so that a later rename of a business unit finds this item under its old code.
                await self._link(request, "dimension_item", snapshot.get("guid"),
                                 f"{name}:{request['source_number']}", item["id"], False)
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
        snapshot = json.loads(request["snapshot"])
        return (current is not None and is_active(entity, current) == active
                and item_code(entity, current) == item_code(entity, snapshot)
                and item_description(current) == item_description(snapshot))


def _entity(request: Json) -> str:
    return str(request["source_id"]).split("/")[1]

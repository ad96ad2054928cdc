"""Dimension items follow their Severa source's status (the seed: "If a dimension item is closed or disabled,
its status is also updated in Procountor").

    severa.{project,cost_center,business_unit}.observed ──trigger──▶ transfer.dimension-item.requested
        ──transfer──▶ transfer.dimension-item.outcome

A project closed (`isClosed`), or a cost center or business unit made inactive (`isActive: false`), closes its
item in each company's Procountor dimension (`status: "P"`); reopened, the item is active again. Items are
created on first use by the transfers that need them (`ToProcountor._dimension_pairs`); this kind keeps the
status of the items that exist. The item is found by the code the transfers give it: the project number, the
cost center identifier, the business unit name. A request whose item is missing or already right is
`skipped` without an API write; otherwise the dimension is read again and the item written only if it still
differs, so a replay writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sevpro.company import CompanySettings
from sevpro.logs import get_logger
from streams.transfer import Attempt, CompanyContext, Json, ToProcountor, procountor_call, request_event

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

    def _record(self, request: Json) -> str:
        entity = request["source_id"].split("/")[1]
        return f"{SOURCES[entity][2]} {request['source_number']}"

    def _wanted(self, request: Json) -> tuple[str, bool]:
        entity = request["source_id"].split("/")[1]
        return entity, is_active(entity, json.loads(request["snapshot"]))

    def _item(self, request: Json, context: CompanyContext) -> tuple[Json | None, Json | None]:
        entity, _ = self._wanted(request)
        dimension = context.dimensions.get(getattr(context.settings, SOURCES[entity][0]) or "")
        if dimension is None:
            return None, None
        code = request["source_number"]
        return dimension, next((i for i in dimension.get("items", []) if i.get("codeName") == code), None)

    async def _skip_reason(self, request: Json) -> str | None:
        context = self.contexts.get(request["company"])
        if context is None:
            return "no Procountor credentials for this company"
        await context.ensure_loaded()
        dimension, item = self._item(request, context)
        if dimension is None or item is None:
            return "no such item in Procountor (it is created on first use)"
        _, active = self._wanted(request)
        if (item.get("status") != "P") == active:
            return f"already {'active' if active else 'closed'}"
        return None

    async def _transfer(self, request: Json, attempt: Attempt) -> Json:
        context = self.contexts[request["company"]]
        await context.reload_dimensions()  # read before writing: a user may have changed it in Procountor
        dimension, item = self._item(request, context)
        if dimension is None or item is None:
            return {}
        _, active = self._wanted(request)
        if (item.get("status") != "P") != active:
            updated = await procountor_call(
                context.client.set_dimension_item_active(dimension["id"], item, active), self._record(request))
            item.clear()
            item.update(updated)
            log.info("dimension item status set", record=self._record(request), company=request["company"],
                     active=active)
        return {"target_id": str(item["id"]), "target_number": request["source_number"]}

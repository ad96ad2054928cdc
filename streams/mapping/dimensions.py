"""Per Procountor invoice row, the dimension items (project, cost center, business unit) for its ledger
transaction, per the three toggles of ``settings.sales_invoices``."""

from __future__ import annotations

from typing import Any

from foundation.company import CompanySettings
from streams.mapping.checks import record_name
from streams.mapping.rows import ordered_rows
from streams.mapping.severa_models import Invoice, Ref, parse


def row_dimensions(
    rows: list[dict[str, Any]], invoice: dict[str, Any], settings: CompanySettings
) -> list[dict[str, Any]]:
    """Per Procountor invoice row (same order as ``invoiceRows``), the dimension items to set on its ledger
    transaction, per the three toggles of ``settings.sales_invoices``.

    Each entry: ``{"row": i, "items": [{"kind", "dimension", "item", "description"}]}``, where ``dimension``
    is the Procountor dimension name from the settings and ``item`` the item's ``codeName`` (project
    number, cost center number, business unit name). A row of a multi-project invoice that does not name
    its project gets no project item rather than a guessed one.
    """
    record = record_name(invoice)
    parsed_invoice = parse(Invoice, invoice, record=record, prefix="invoice")
    ordered = ordered_rows(rows, record)
    sales = settings.sales_invoices
    projects = parsed_invoice.projects or []
    by_guid = {p.guid: p for p in projects if p.guid}
    single = projects[0] if len(projects) == 1 else None
    result: list[dict[str, Any]] = []
    for index, row in enumerate(ordered):
        project = (
            by_guid.get(row.project.guid, row.project) if row.project and row.project.guid else (row.project or single)
        )
        items: list[dict[str, Any]] = []
        if sales.transfer_project_dimension and settings.project_dimension and project is not None:
            code = _code_name(project)
            if code:
                items.append(_item("project", settings.project_dimension, code, project.name))
        if sales.transfer_cost_center_dimension and settings.cost_center_dimension:
            cost_center = row.costCenter or _sub_ref(project, "costCenter")
            code = _code_name(cost_center)
            if code and cost_center is not None:
                items.append(_item("cost_center", settings.cost_center_dimension, code, cost_center.name))
        if sales.transfer_business_unit_dimension and settings.business_unit_dimension:
            unit = row.businessUnit or _sub_ref(project, "businessUnit") or parsed_invoice.businessUnit
            unit_name = (unit.name if unit else None) or settings.severa_business_unit_name
            if unit_name:
                items.append(_item("business_unit", settings.business_unit_dimension, unit_name.strip(), None))
        result.append({"row": index, "items": items})
    return result


def _item(kind: str, dimension: str, code: str, description: str | None) -> dict[str, Any]:
    return {"kind": kind, "dimension": dimension, "item": code, "description": description}


def _code_name(ref: Ref | None) -> str | None:
    if ref is None:
        return None
    for value in (ref.number, ref.code, ref.name):
        if value is not None and str(value).strip():
            return str(value).strip()
    return None


def _sub_ref(project: Ref | None, key: str) -> Ref | None:
    # Projects on the invoice may be enriched with their costCenter / businessUnit sub-models.
    extra = getattr(project, "model_extra", None) or {}
    value = extra.get(key)
    return Ref.model_validate(value) if isinstance(value, dict) else None

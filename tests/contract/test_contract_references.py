"""The contract agrees with the full public references in ../shared/reference (CI has them)."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from contract import SYSTEMS, load
from contract.reference import REFERENCE, procountor_differences, severa_differences, stale_deviations

pytestmark = pytest.mark.skipif(
    not (REFERENCE / "severa-api.md").exists(),
    reason=f"the public references are not at {REFERENCE} (CI has them): the contract cannot be compared",
)


@pytest.mark.parametrize("system", SYSTEMS)
def test_the_contract_agrees_with_the_public_references(system: str) -> None:
    contract = load(system)
    compare = severa_differences if system == "severa" else procountor_differences
    assert compare(contract) == []
    assert stale_deviations(system) == []


def _edited(system: str):  # type: ignore[no-untyped-def]
    contract = load(system)
    return dataclasses.replace(contract, models=copy.deepcopy(contract.models), enums=copy.deepcopy(contract.enums),
                               operations=dict(contract.operations))


def test_the_comparison_lists_a_changed_field_a_dropped_enum_value_and_an_invented_parameter() -> None:
    severa = _edited("severa")
    severa.models["InvoiceOutputModel"]["fields"]["number"] = "string?"
    severa.enums["InvoicePdfGetOptions"] = ["All", "InvoiceOnly"]
    op = severa.operations["GET /v1/invoices"]
    severa.operations["GET /v1/invoices"] = dataclasses.replace(op, query={**op.query, "changedAfter": "date-time?"})
    assert severa_differences(severa) == [
        "operation GET /v1/invoices query changedAfter: not in the reference",
        "model InvoiceOutputModel number: contract string?, reference integer?",
        "enum InvoicePdfGetOptions: contract ['All', 'InvoiceOnly'], "
        "index ['All', 'AttachmentAndBreakdown', 'InvoiceOnly']",
    ]
    procountor = _edited("procountor")
    procountor.models["PersonBasicInfo"]["fields"]["personNumber"] = "string"
    del procountor.models["PersonBasicInfo"]["fields"]["invoicingInfo"]
    assert procountor_differences(procountor) == [
        "model PersonBasicInfo field invoicingInfo: in S1, not in the contract",
        "model PersonBasicInfo field personNumber: not in S1",
    ]

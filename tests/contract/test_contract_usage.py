"""Every operation the clients call is in the contract; the clients' calls are read from their source."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract import SYSTEMS, load
from contract.model import PRIMITIVES
from contract.usage import used_keys


@pytest.mark.parametrize("system", SYSTEMS)
def test_every_operation_the_client_calls_is_in_the_contract(system: str) -> None:
    contract = load(system)
    missing = [key for key in used_keys(system) if contract.match(*key.split(" ", 1)) is None]
    assert missing == [], f"add these {system} operations to contract/{system}.yaml, from the public references"


def test_the_reader_finds_calls_built_from_loops_constants_and_action_helpers() -> None:
    severa, procountor = used_keys("severa"), used_keys("procountor")
    assert "GET /v1/invoicerows/{invoiceRowGuid}/projecttravelexpenses" in severa  # "/prefix/" + kind, kinds tuple
    assert "POST /oauth/token" in procountor  # a module constant
    assert procountor["PUT /invoices/{id}/approve"] == ["approve_invoice"]  # _invoice_action(id, "approve")
    assert "GET /invoices" in procountor and "PATCH /v1/invoices/{guid}" in severa
    assert len(severa) > 50 and len(procountor) > 25


def test_a_path_the_reader_cannot_follow_is_an_error(tmp_path: Path) -> None:
    client = tmp_path / "connectors" / "procountor" / "client.py"
    client.parent.mkdir(parents=True)
    client.write_text("class C:\n    async def f(self, where):\n        return await self._request('GET', where())\n")
    with pytest.raises(ValueError, match="cannot read the path"):
        used_keys("procountor", tmp_path)


@pytest.mark.parametrize("system", SYSTEMS)
def test_the_contract_names_only_types_it_defines_and_defines_only_types_it_names(system: str) -> None:
    # (An operation no client calls any more is listed by `sevpro contract coverage`: remove it there.)
    contract = load(system)
    referenced = {"ExceptionModel", "ErrorMessages", "ErrorMessage"} & set(contract.models)
    for model in contract.models.values():
        referenced |= {t.rstrip("?").replace("[]", "") for t in (model.get("fields") or {}).values()}
    for op in contract.operations.values():
        types = [*op.query.values(), op.body, op.form, op.response_type, *(op.multipart or {}).values()]
        referenced |= {t.rstrip("?").replace("[]", "") for t in types if t}
    defined = set(contract.models) | set(contract.enums)
    assert referenced - defined - PRIMITIVES - {"void", "File", "none"} == set()
    assert defined - referenced == set()

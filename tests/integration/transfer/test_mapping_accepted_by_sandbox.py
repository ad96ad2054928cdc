"""Property: any Severa invoice maps to a body the Procountor sandbox accepts, or to a data error naming the field.

Invoices are generated around a real demo invoice (fields varied within and beyond Procountor's limits), mapped by
the production mapping, and POSTed to the Procountor sandbox over a real socket.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from foundation.company import demo_companies_path, load_companies
from foundation.exact_json import dumps
from sandbox.procountor.app import create_app as procountor_app
from sandbox.procountor.demo import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_FI_API_KEY
from sandbox.runner import SandboxServer
from sandbox.severa.app import create_app as severa_app
from streams.mapping.errors import TransferDataError
from streams.mapping.sales_invoice import map_sales_invoice

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def procountor() -> Iterator[tuple[httpx.Client, dict[str, Any]]]:
    with SandboxServer(procountor_app(seed="demo", rate_limit_per_second=None)) as server:
        with httpx.Client(base_url=f"{server.url}/api", timeout=10) as http:
            token = http.post("/oauth/token", data={
                "grant_type": "client_credentials", "client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET,
                "api_key": DEMO_FI_API_KEY}).json()["access_token"]
            http.headers["Authorization"] = f"Bearer {token}"
            company = server.app.state.store.company("FI")
            context = {
                "codes": {p["code"] for p in company.products.values() if p.get("code")},
                "fiscal_years": http.get("/fiscalyears").json().get("fiscalYears", []),
                "bank_account": http.get("/bankaccounts").json()["results"][0]["iban"],
            }
            yield http, context


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    store = severa_app(seed="demo").state.store
    customer = next(c for c in store.all("customers") if c["number"] == 1101)  # not yet a Procountor partner
    invoice = next(i for i in store.all("invoices") if i["number"] == 10002)
    rows = [r for r in store.all("invoicerows") if r["invoiceGuid"] == invoice["guid"]]
    addresses = [a for a in store.all("addresses") if (a.get("customer") or {}).get("guid") == customer["guid"]]
    return {"invoice": invoice, "rows": rows, "customer": {**customer, "addresses": addresses}}


texts = st.text(alphabet=st.characters(codec="cp1252", exclude_categories=("Cc", "Cs")), max_size=130)
vat_rates = st.sampled_from([25.5, 24.0, 14.0, 13.5, 10.0, 0.0, 7.0])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=texts, street=texts, city=texts, zip_code=st.text("0123456789 -", max_size=25), order=texts,
       notes=st.text(max_size=300), row_names=st.lists(texts, min_size=1, max_size=4),
       quantity=st.floats(-500, 500, allow_nan=False).map(lambda q: round(q, 2)),
       price=st.floats(0, 10_000, allow_nan=False).map(lambda p: round(p, 2)), vat=vat_rates,
       day=st.integers(0, 700), term=st.integers(0, 60))
def test_mapped_invoice_is_accepted_or_a_named_data_error(procountor, template, name, street, city, zip_code, order,
                                                          notes, row_names, quantity, price, vat, day,
                                                          term) -> None:
    http, context = procountor
    invoice = copy.deepcopy(template["invoice"])
    when = date(2025, 6, 1) + timedelta(days=day)
    invoice.update(receiverCustomerName=name, orderNumber=order, notes=notes, date=when.isoformat(),
                   dueDate=(when + timedelta(days=term)).isoformat(), paymentTerm=term,
                   receiverAddress={"addressline": street, "postalCode": zip_code, "city": city, "country": "Finland"})
    rows = copy.deepcopy(template["rows"])
    for row, row_name in zip(rows, row_names * len(rows), strict=False):
        row.update(description=row_name, quantity=quantity, vatRate=vat)
        row["unitPrice"]["amount"] = price
    companies = load_companies(demo_companies_path())
    try:
        body = map_sales_invoice(invoice, rows, template["customer"], companies["FI"],
                                 known_product_codes=context["codes"], bank_account=context["bank_account"],
                                 fiscal_years=context["fiscal_years"])
    except TransferDataError as error:
        assert error.field, error
        assert error.record == "sales invoice 10002"
        return
    # Written as the Procountor client writes it: money as exact JSON numbers.
    response = http.post("/invoices", content=dumps(body), headers={"Content-Type": "application/json"})
    assert response.status_code in (200, 201), f"the sandbox refused a mapped invoice: {response.text}"

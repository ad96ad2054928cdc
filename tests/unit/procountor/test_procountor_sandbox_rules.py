"""One test per rule the sandbox enforces: each shows the accepted and the refused case."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from stdnum.fi import ytunnus
from stdnum.se import orgnr

from sandbox.procountor.demo import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_FI_API_KEY,
    DEMO_SE_API_KEY,
    fi_business_id,
    se_business_id,
)
from sandbox.procountor.rules import vat_percentages


async def login(http: httpx.AsyncClient, api_key: str = DEMO_FI_API_KEY) -> None:
    token = await http.post(
        "/api/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
            "api_key": api_key,
        },
    )
    http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"


def errors(response: httpx.Response) -> list[tuple[str | None, str]]:
    return [(e.get("field"), e["message"]) for e in response.json()["errors"]]


async def post_invoice(api: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await api.post("/api/invoices", json=body)


def with_party(body: dict[str, Any], **address: Any) -> dict[str, Any]:
    body["counterParty"]["counterPartyAddress"].update(address)
    return body


LIMITS = [
    (lambda b, v: with_party(b, name=v), "counterParty.counterPartyAddress.name", 80),
    (lambda b, v: with_party(b, street=v), "counterParty.counterPartyAddress.street", 80),
    (lambda b, v: with_party(b, city=v), "counterParty.counterPartyAddress.city", 40),
    (lambda b, v: with_party(b, zip=v), "counterParty.counterPartyAddress.zip", 20),
    (lambda b, v: b["counterParty"].update(contactPersonName=v) or b, "counterParty.contactPersonName", 28),
    (lambda b, v: b.update(orderReference=v) or b, "orderReference", 70),
    (lambda b, v: b.update(originalInvoiceNumber=v) or b, "originalInvoiceNumber", 40),
    (lambda b, v: b.update(additionalInformation=v) or b, "additionalInformation", 10000),
    (lambda b, v: b["invoiceRows"][0].update(product=v) or b, "invoiceRows[0].product", 100),
    (lambda b, v: b["invoiceRows"][1].update(comment=v) or b, "invoiceRows[1].comment", 512),
]


@pytest.mark.parametrize(("apply", "field", "limit"), LIMITS, ids=[f for _, f, _ in LIMITS])
async def test_field_limits(
    api: httpx.AsyncClient, invoice_body: Any, apply: Any, field: str, limit: int
) -> None:
    accepted = await post_invoice(api, apply(invoice_body(), "x" * limit))
    assert accepted.status_code == 200, accepted.text
    refused = await post_invoice(api, apply(invoice_body(), "x" * (limit + 1)))
    assert refused.status_code == 400
    assert (field, f"SIZE_MUST_BE_BETWEEN_0_AND_{limit}") in errors(refused)


async def test_product_name_limit_on_products(api: httpx.AsyncClient) -> None:
    product = {
        "type": "SALES",
        "name": "x" * 100,
        "code": "NEW",
        "price": 1,
        "discount": 0,
        "active": True,
        "currency": "EUR",
        "unit": "PIECE",
    }
    assert (await api.post("/api/products", json=product)).status_code == 200
    refused = await api.post("/api/products", json={**product, "name": "x" * 101})
    assert errors(refused) == [("name", "SIZE_MUST_BE_BETWEEN_0_AND_100")]


async def test_characters_outside_windows_1252_refused(api: httpx.AsyncClient, invoice_body: Any) -> None:
    assert (await post_invoice(api, with_party(invoice_body(), name="Åbo Ärende Öy"))).status_code == 200
    refused = await post_invoice(api, with_party(invoice_body(), name="еߙϲ"))
    assert ("counterParty.counterPartyAddress.name", "INVALID_CHARACTERS") in errors(refused)


async def test_finnish_business_id_check_digit(api: httpx.AsyncClient, invoice_body: Any) -> None:
    body = invoice_body()
    body["counterParty"].update(identifier="2901009-3", customerNumber="1009")
    assert (await post_invoice(api, body)).status_code == 200
    body["counterParty"]["identifier"] = "2901009-4"
    assert errors(await post_invoice(api, body)) == [("counterParty.identifier", "ERROR_BRN_CODE")]


async def test_swedish_orgnr(app: Any, invoice_body: Any) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox") as http:
        await login(http, DEMO_SE_API_KEY)
        body = invoice_body(vatStatus=1)
        body["invoiceRows"] = [dict(body["invoiceRows"][0], vatPercent=25)]
        body["counterParty"] = {
            "identifier": se_business_id(2004),
            "customerNumber": "2004",
            "counterPartyAddress": {
                "name": "Dala Design AB",
                "street": "Storgatan 1",
                "zip": "111 22",
                "city": "Stockholm",
                "country": "SWEDEN",
            },
        }
        assert (await http.post("/api/invoices", json=body)).status_code == 200
        body["counterParty"]["identifier"] = "559002-0046"
        assert errors(await http.post("/api/invoices", json=body)) == [
            ("counterParty.identifier", "ERROR_BRN_CODE")
        ]


async def test_closed_fiscal_period(api: httpx.AsyncClient, invoice_body: Any) -> None:
    ok = invoice_body(date="2026-01-02")
    ok["paymentInfo"]["dueDate"] = "2026-01-16"
    assert (await post_invoice(api, ok)).status_code == 200
    closed = invoice_body(date="2025-12-15")
    closed["invoiceRows"] = [dict(r, vatPercent=25.5) for r in closed["invoiceRows"]]
    assert errors(await post_invoice(api, closed)) == [("date", "CLOSED_FISCAL_PERIOD")]
    outside = invoice_body(date="2028-01-05")
    outside["paymentInfo"]["dueDate"] = "2028-01-19"
    assert ("date", "NO_FISCAL_YEAR") in errors(await post_invoice(api, outside))


def test_vat_rates_by_country_and_date() -> None:
    assert Decimal("24") in vat_percentages("FINLAND", date(2024, 8, 31))
    assert Decimal("25.5") in vat_percentages("FINLAND", date(2024, 9, 1))
    assert Decimal("14") in vat_percentages("FINLAND", date(2025, 12, 31))
    assert vat_percentages("FINLAND", date(2026, 1, 1)) == [
        Decimal("25.5"),
        Decimal("13.5"),
        Decimal("10"),
        Decimal("0"),
    ]
    assert vat_percentages("SWEDEN", date(2026, 1, 1)) == [Decimal(25), Decimal(12), Decimal(6), Decimal(0)]


@pytest.mark.parametrize(
    ("percent", "accepted"),
    [(25.5, True), (13.5, True), (10, True), (0, True), (14, False), (24, False), (25, False)],
)
async def test_vat_percent_on_invoice_date(
    api: httpx.AsyncClient, invoice_body: Any, percent: float, accepted: bool
) -> None:
    body = invoice_body()
    body["invoiceRows"][0]["vatPercent"] = percent
    response = await post_invoice(api, body)
    if accepted:
        assert response.status_code == 200
    else:
        assert errors(response) == [("invoiceRows[0].vatPercent", "ERROR_VATSTATUS_VATPERC")]


async def test_due_date_before_bill_date(api: httpx.AsyncClient, invoice_body: Any) -> None:
    body = invoice_body()
    body["paymentInfo"]["dueDate"] = "2026-11-19"
    assert errors(await post_invoice(api, body)) == [("paymentInfo.dueDate", "DUE_DATE_BEFORE_BILL_DATE")]


async def test_channel_rules(api: httpx.AsyncClient, invoice_body: Any) -> None:
    email = invoice_body(invoiceChannel="EMAIL")
    assert errors(await post_invoice(api, email)) == [("counterParty.email", "MUST_NOT_BE_BLANK")]
    email["counterParty"]["email"] = "billing@dyyni.example"
    assert (await post_invoice(api, email)).status_code == 200

    einvoice = invoice_body(invoiceChannel="ELECTRONIC_INVOICE")
    assert set(errors(await post_invoice(api, einvoice))) == {
        ("counterParty.einvoiceAddress.address", "MUST_NOT_BE_BLANK"),
        ("counterParty.einvoiceAddress.operator", "MUST_NOT_BE_BLANK"),
    }
    einvoice["counterParty"]["einvoiceAddress"] = {"address": "003729010038", "operator": "003721291126"}
    assert (await post_invoice(api, einvoice)).status_code == 200

    mail = invoice_body()
    mail["counterParty"]["counterPartyAddress"].pop("street")
    assert errors(await post_invoice(api, mail)) == [
        ("counterParty.counterPartyAddress.street", "MUST_NOT_BE_BLANK")
    ]
    mail["billingAddress"] = {"name": "Aalto", "street": "Postikatu 1", "zip": "00100", "city": "Helsinki"}
    assert (await post_invoice(api, mail)).status_code == 200


async def test_partner_with_same_number_and_other_business_id(api: httpx.AsyncClient) -> None:
    partner = {
        "type": "CUSTOMER",
        "name": "Eräkettu Oy",
        "paymentInfo": {"paymentMethod": "BANK_TRANSFER"},
        "address": {"name": "Eräkettu Oy", "country": "FINLAND"},
        "invoicingInfo": {"customerNumber": "1005", "identifier": fi_business_id(1005)},
    }
    refused = await api.post("/api/businesspartners", json=partner)
    assert refused.status_code == 400
    [(field, message)] = errors(refused)
    assert field == "invoicingInfo.customerNumber"
    assert message.startswith("Could not add Eräkettu Oy to Procountor, because another partner Eskola Energia Oy")
    assert "same number and different VAT number already exists" in message
    partner["invoicingInfo"] = {"customerNumber": "1009", "identifier": "2901009-3"}
    assert (await api.post("/api/businesspartners", json=partner)).status_code == 200
    partner["invoicingInfo"] = {"customerNumber": "1010", "identifier": "2901010-7"}
    assert errors(await api.post("/api/businesspartners", json=partner)) == [
        ("invoicingInfo.identifier", "ERROR_BRN_CODE")
    ]


async def test_invoice_for_known_number_with_other_business_id(
    api: httpx.AsyncClient, invoice_body: Any
) -> None:
    body = invoice_body()
    body["counterParty"].update(customerNumber="1005", identifier="2901005-0")
    [(field, message)] = errors(await post_invoice(api, body))
    assert field == "counterParty.identifier" and "different VAT number" in message


async def test_rows_use_registered_product_codes(api: httpx.AsyncClient, invoice_body: Any) -> None:
    body = invoice_body()
    body["invoiceRows"][0]["productCode"] = "TRAINING"
    assert errors(await post_invoice(api, body)) == [("invoiceRows[0].productCode", "PRODUCT_NOT_FOUND")]
    body["invoiceRows"][0]["productCode"] = "KM-ALLOWANCE"  # travel code valid through 2026
    assert (await post_invoice(api, body)).status_code == 200
    later = invoice_body(date="2027-01-04")
    later["paymentInfo"]["dueDate"] = "2027-01-18"
    later["invoiceRows"][0]["productCode"] = "KM-ALLOWANCE"
    assert errors(await post_invoice(api, later)) == [("invoiceRows[0].productCode", "PRODUCT_NOT_FOUND")]


async def receipt_with_dimensions(
    app: Any, api: httpx.AsyncClient, invoice_body: Any, values: Any
) -> httpx.Response:
    invoice = (await post_invoice(api, invoice_body())).json()
    receipt = (await api.get(f"/api/ledgerreceipts/{invoice['ledgerReceiptId']}")).json()
    entry = receipt["transactions"][0]
    entry["dimensionItemValues"] = values(app.state.store.company("FI"), entry["accountingValue"])
    return await api.put(f"/api/ledgerreceipts/{receipt['id']}", json=receipt)


def project(company: Any, code: str) -> tuple[int, int]:
    dimension = company.find_dimension("Projects")
    return dimension["id"], company.find_dimension_item("Projects", code)["id"]


async def test_dimension_values_reference_active_items(
    app: Any, api: httpx.AsyncClient, invoice_body: Any
) -> None:
    def split(company: Any, amount: float) -> list[dict[str, Any]]:
        (d, a), (_, b) = project(company, "2026001"), project(company, "2026002")
        return [
            {"dimensionId": d, "itemId": a, "value": amount * 0.25},
            {"dimensionId": d, "itemId": b, "value": amount * 0.75},
        ]

    assert (await receipt_with_dimensions(app, api, invoice_body, split)).status_code == 200

    unknown = await receipt_with_dimensions(
        app,
        api,
        invoice_body,
        lambda c, v: [{"dimensionId": project(c, "2026001")[0], "itemId": 999999, "value": v}],
    )
    assert errors(unknown) == [
        (
            "transactions[0].dimensionItemValues",
            "DIMENSION_OR_DIMENSION_ITEM_IDENTIFIERS_DOES_NOT_MATCH_THOSE_STORED_IN_DATABASE",
        )
    ]
    app.state.store.company("FI").find_dimension_item("Projects", "2026004")["status"] = "P"
    closed = await receipt_with_dimensions(
        app,
        api,
        invoice_body,
        lambda c, v: [dict(zip(("dimensionId", "itemId"), project(c, "2026004"), strict=True), value=v)],
    )
    assert (
        errors(closed)[0][1]
        == "DIMENSION_OR_DIMENSION_ITEM_IDENTIFIERS_DOES_NOT_MATCH_THOSE_STORED_IN_DATABASE"
    )


async def test_dimension_values_sum_to_transaction(
    app: Any, api: httpx.AsyncClient, invoice_body: Any
) -> None:
    short = await receipt_with_dimensions(
        app,
        api,
        invoice_body,
        lambda c, v: [
            dict(zip(("dimensionId", "itemId"), project(c, "2026001"), strict=True), value=v + 1)
        ],
    )
    assert errors(short) == [
        ("transactions[0].dimensionItemValues", "DIMENSION_ITEM_VALUES_DO_NOT_SUM_TO_ACCOUNTING_VALUE")
    ]


async def test_ledger_receipt_version_is_checked(api: httpx.AsyncClient, invoice_body: Any) -> None:
    invoice = (await post_invoice(api, invoice_body())).json()
    receipt = (await api.get(f"/api/ledgerreceipts/{invoice['ledgerReceiptId']}")).json()
    assert (await api.put(f"/api/ledgerreceipts/{receipt['id']}", json=receipt)).status_code == 200
    stale = await api.put(f"/api/ledgerreceipts/{receipt['id']}", json=receipt)
    assert errors(stale) == [("version", "VERSION_MISMATCH")]
    del receipt["version"]
    assert errors(await api.put(f"/api/ledgerreceipts/{receipt['id']}", json=receipt)) == [
        ("version", "MUST_NOT_BE_NULL")
    ]


async def test_invoice_update_needs_current_version(api: httpx.AsyncClient, invoice_body: Any) -> None:
    invoice = (await post_invoice(api, invoice_body())).json()
    changed = dict(invoice, notes="checked")
    updated = await api.put(f"/api/invoices/{invoice['id']}", json=changed)
    assert updated.status_code == 200 and updated.json()["version"] > invoice["version"]
    assert errors(await api.put(f"/api/invoices/{invoice['id']}", json=changed)) == [
        ("version", "VERSION_MISMATCH")
    ]


async def upload(api: httpx.AsyncClient, invoice_id: int, name: str, content: bytes) -> httpx.Response:
    meta = {"name": name, "referenceType": "INVOICE", "referenceId": invoice_id, "sendWithInvoice": True}
    return await api.post(
        "/api/attachments",
        files={
            "meta": (None, json.dumps(meta), "application/json"),
            "file": (name, content, "application/octet-stream"),
        },
    )


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("lasku 10001.pdf", b"%PDF-1.4 demo", None),
        ("kuitti.jpg", b"\xff\xd8\xff\xe0 demo", None),
        ("kuva.gif", b"GIF89a demo", None),
        ("taulukko.xlsx", b"PK\x03\x04", None),  # any type: GIF/JPEG/PDF is the integration's own rule
        ("fake.pdf", b"MZ not a pdf", None),  # the type comes from the name; the content is not inspected
        ("lasku#1&2.pdf", b"%PDF-1.4", ("meta.name", "INVALID_FILE_NAME")),
        ("big.pdf", b"%PDF" + b"0" * 10_000_000, ("file", "FILE_SIZE_TOO_BIG")),
    ],
)
async def test_attachments(
    api: httpx.AsyncClient, invoice_body: Any, name: str, content: bytes, problem: tuple[str, str] | None
) -> None:
    invoice = (await post_invoice(api, invoice_body())).json()
    response = await upload(api, invoice["id"], name, content)
    if problem is None:
        assert response.status_code == 200 and response.json()["name"] == name
    else:
        assert errors(response) == [problem]


async def test_state_machine_refuses_wrong_status(api: httpx.AsyncClient, invoice_body: Any) -> None:
    invoice = (await post_invoice(api, invoice_body())).json()
    refused = await api.put(f"/api/invoices/{invoice['id']}/send")
    assert refused.status_code == 403
    assert (await api.put(f"/api/invoices/{invoice['id']}/approve", json={})).status_code == 200
    assert (await api.get(f"/api/invoices/{invoice['id']}")).json()["status"] == "NOT_SENT"
    assert (await api.put(f"/api/invoices/{invoice['id']}/send")).status_code == 200
    assert (await api.get(f"/api/invoices/{invoice['id']}")).json()["status"] == "SENT"
    assert (await api.put(f"/api/invoices/{invoice['id']}/invalidate")).status_code == 403
    assert (await api.put(f"/api/invoices/{invoice['id']}", json=invoice)).status_code in (400, 403)


async def test_paid_is_not_settable(api: httpx.AsyncClient, invoice_body: Any) -> None:
    invoice = (await post_invoice(api, invoice_body())).json()
    ignored = await api.put(f"/api/invoices/{invoice['id']}", json=dict(invoice, status="PAID"))
    assert ignored.json()["status"] == "UNFINISHED"  # status is read-only in PUT
    assert (await api.put(f"/api/invoices/{invoice['id']}/approve", json={})).status_code == 200
    invoice = (await api.get(f"/api/invoices/{invoice['id']}")).json()
    response = await api.put(f"/api/invoices/{invoice['id']}", json=dict(invoice, status="PAID"))
    assert response.status_code == 403  # approved: no longer editable
    paid = await api.put(
        f"/api/invoices/{invoice['id']}/paymentevents/markpaid",
        json={"paymentDate": "2026-11-24", "amount": 2886.5, "currency": "EUR"},
    )
    assert paid.json()["status"] == "MARKED_PAID"
    assert (await api.get(f"/api/invoices/{invoice['id']}")).json()["status"] == "MARKED_PAID"


async def test_page_size_and_batch_limits(api: httpx.AsyncClient) -> None:
    assert (await api.get("/api/invoices", params={"size": 200})).status_code == 200
    assert errors(await api.get("/api/invoices", params={"size": 201})) == [
        ("size", "SIZE_MUST_BE_BETWEEN_1_AND_200")
    ]
    ids = ",".join(str(i) for i in range(1, 201))
    assert (await api.get(f"/api/invoices/{ids}")).status_code == 200
    assert (await api.get(f"/api/invoices/{ids},201")).status_code == 400
    assert (await api.get("/api/invoices/999998,999999")).status_code == 404


async def test_rate_limit() -> None:
    from sandbox.procountor.app import create_app

    app = create_app(seed=None, rate_limit_per_second=5)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox") as http:
        await login(http)
        statuses = [(await http.get("/api/company")).status_code for _ in range(8)]
    assert statuses[:4] == [200] * 4 and 429 in statuses
    assert app.state.sandbox.stats.rate_limited == statuses.count(429)


async def test_auth_required_and_versioned_bases(app: Any, api: httpx.AsyncClient) -> None:
    assert (await api.get("/v2502/api/company/")).json()["name"] == "Kumpula Consulting Oy"
    assert (await api.get("/supported/api/fiscalyears")).status_code == 200
    del api.headers["Authorization"]
    assert errors(await api.get("/api/company")) == [(None, "Unauthorized")]


def test_demo_business_ids_are_valid() -> None:
    from sandbox.procountor.demo import FI_COMPANY, MISMATCH_1005_BUSINESS_ID, SE_COMPANY, fi_business_id

    assert ytunnus.is_valid(FI_COMPANY["businessId"]) and orgnr.is_valid(SE_COMPANY["businessId"])
    assert all(ytunnus.is_valid(fi_business_id(n)) for n in range(1001, 1105))
    assert all(orgnr.is_valid(se_business_id(n)) for n in range(2001, 2005))
    assert ytunnus.is_valid(MISMATCH_1005_BUSINESS_ID) and MISMATCH_1005_BUSINESS_ID != fi_business_id(1005)


async def test_rate_limit_is_a_sliding_second_with_no_saved_up_burst() -> None:
    """20 a second per API client in any one-second window: a full burst after an idle spell, then a steady
    trickle in the same second, must not get through (a token bucket refilling at 20/s let both through)."""
    import asyncio

    from sandbox.procountor.app import create_app

    app = create_app(seed=None, rate_limit_per_second=20)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox") as http:
        await login(http)
        await asyncio.sleep(1.1)
        burst = [(await http.get("/api/company")).status_code for _ in range(20)]
        trickle = []
        for _ in range(8):
            await asyncio.sleep(0.05)
            trickle.append((await http.get("/api/company")).status_code)
    assert burst == [200] * 20
    assert set(trickle) == {429}


async def test_a_person_needs_a_payment_method(api: httpx.AsyncClient) -> None:
    # PersonPaymentInfo requires paymentMethod in the public model (as paymentTermDays and penalInterestRate).
    person = {
        "lastName": "Salo",
        "paymentInfo": {"paymentTermDays": "0", "penalInterestRate": 0},
        "invoicingInfo": {"personNumber": "E9", "language": "FINNISH", "gender": "NOT_APPLICABLE"},
        "registryInfo": {"active": True},
    }
    refused = await api.post("/api/persons", json=person)
    assert refused.status_code == 400
    assert [e["field"] for e in refused.json()["errors"]] == ["paymentInfo.paymentMethod"]
    person["paymentInfo"]["paymentMethod"] = "BANK_TRANSFER"
    assert (await api.post("/api/persons", json=person)).status_code == 200


@pytest.mark.parametrize(("quantity", "price", "field"), [
    (1e300, 10, "invoiceRows[0].quantity"),  # the fuzz benchmark's overflow: a 500 before
    (10, -1e300, "invoiceRows[0].unitPrice"),
    (1e14, 1e14, "invoiceRows[0].unitPrice"),  # each fits, their product does not
])
async def test_amounts_the_books_cannot_hold_are_refused_not_a_500(
        api: httpx.AsyncClient, invoice_body: Any, quantity: float, price: float, field: str) -> None:
    body = invoice_body()
    body["invoiceRows"][0].update(quantity=quantity, unitPrice=price)
    response = await post_invoice(api, body)
    assert response.status_code == 400, response.text
    assert (field, "INVALID_VALUE") in errors(response)


async def test_unknown_paths_and_invalid_enum_values_answer_the_json_error_model(api: httpx.AsyncClient) -> None:
    """As the API does (a third-party client against the sandbox got plain text and 200 here)."""
    for response, status in (
        (await api.get("/api/no-such-thing"), 404),
        (await api.get("/api/invoices", params={"status": "NOT_A_STATUS"}), 400),
        (await api.get("/api/invoices", params={"types": "SALES_INVOICE,SALES_RECEIPT"}), 400),
        (await api.get("/api/businesspartners", params={"type": "EMPLOYEE"}), 400),
        (await api.get("/api/persons", params={"orderById": "UP"}), 400),
        (await api.delete("/api/company"), 405),
    ):
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/json")
        assert [e["status"] for e in response.json()["errors"]] == [status]
    assert errors(await api.get("/api/invoices", params={"status": "BOGUS"})) == [("status", "INVALID_VALUE")]
    assert (await api.get("/api/invoices", params={"status": "UNFINISHED,SENT"})).status_code == 200


async def test_a_person_partner_in_the_search_is_known_by_id(api: httpx.AsyncClient) -> None:
    persons = (await api.get("/api/businesspartners", params={"type": "PERSON"})).json()["results"]
    assert persons
    for listed in persons:
        found = await api.get(f"/api/businesspartners/{listed['id']}")
        assert found.status_code == 200 and found.json()["type"] == "PERSON"


async def test_product_type_is_one_value(api: httpx.AsyncClient) -> None:
    """The reference documents one `type` value for GET /products: a comma list is not a type."""
    assert errors(await api.get("/api/products", params={"type": "SALES,TRAVEL"})) == [("type", "INVALID_VALUE")]
    travel = (await api.get("/api/products", params={"type": "TRAVEL"})).json()["results"]
    assert travel and {p["type"] for p in travel} == {"TRAVEL"}


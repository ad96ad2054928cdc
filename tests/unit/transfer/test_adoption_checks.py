"""Which Procountor invoice a transfer may adopt: pure checks (the integration tests drive them end to end)."""

from __future__ import annotations

from typing import Any

from streams.transfer import adoption_mismatch, same_original_number


def hit(number: str, type_: str = "SALES_INVOICE", status: str = "UNFINISHED", id_: int = 1) -> dict[str, Any]:
    return {"id": id_, "originalInvoiceNumber": number, "type": type_, "status": status}


def test_only_this_number_exactly_of_this_type_and_not_invalidated_counts() -> None:
    found = [hit("100021", id_=1), hit(" 10002", id_=2), hit("10002", "TRAVEL_INVOICE", id_=3),
             hit("10002", status="INVALIDATED", id_=4), hit("10002", id_=5), {"id": 6, "type": "SALES_INVOICE"}]
    assert [f["id"] for f in same_original_number(found, 10002, "SALES_INVOICE")] == [5]
    assert [f["id"] for f in same_original_number(found, "10002", "TRAVEL_INVOICE")] == [3]


def invoice(customer: str = "1001", name: str = "Aalto Analytics Oy", rows: tuple = ((10, 110.0, 0, 25.5),),
            currency: str = "EUR", discount: float = 0) -> dict[str, Any]:
    return {"counterParty": {"customerNumber": customer, "identifier": "3001001-5",
                             "counterPartyAddress": {"name": name}},
            "paymentInfo": {"currency": currency}, "discountPercent": discount,
            "invoiceRows": [{"quantity": q, "unitPrice": p, "discountPercent": d, "vatPercent": v}
                            for q, p, d, v in rows]}


def test_the_integrations_own_invoice_matches() -> None:
    ours = invoice(rows=((10, 110.0, 0, 25.5), (1, 0.1, 0, 25.5), (1, 0.2, 0, 25.5)))
    # Procountor wrote the business id with its own punctuation and kept the rows as sent.
    theirs = invoice(rows=((10, 110, 0, 25.5), (1, 0.1, 0, 25.5), (1, 0.2, 0, 25.5)))
    theirs["counterParty"]["identifier"] = "3001001 5"
    assert adoption_mismatch(theirs, ours) == []


def test_another_customer_currency_or_amount_is_named() -> None:
    ours = invoice()
    assert adoption_mismatch(invoice(customer="1003"), ours) == ["counterparty customerNumber '1003', not '1001'"]
    assert adoption_mismatch(invoice(name="Other Oy"), ours) == [
        "counterparty name 'Other Oy', not 'Aalto Analytics Oy'"]
    assert adoption_mismatch(invoice(currency="SEK"), ours) == ["currency SEK, not EUR"]
    assert adoption_mismatch(invoice(rows=((10, 110.02, 0, 25.5),)), ours) == [
        "net at VAT 25.5 % 1100.20, not 1100.00"]
    assert adoption_mismatch(invoice(rows=((10, 110.0, 0, 14),)), ours) == [
        "net at VAT 14 % 1100.00, not 0.00", "net at VAT 25.5 % 0.00, not 1100.00"]
    assert adoption_mismatch(invoice(discount=10), ours) == ["net at VAT 25.5 % 990.00, not 1100.00"]

"""Invoices of new customers on new product codes, for the find-or-create races (one partner, one product)."""

from __future__ import annotations

import copy
from typing import Any

from sandbox.severa.demo import fi_business_id
from sandbox.severa.store import finnish_reference

AUDIT = ("guid", "createdDateTime", "createdBy", "lastUpdatedDateTime", "lastUpdatedBy")


def race_codes(index: int) -> tuple[str, str]:
    """The codes of invoice `index`'s two rows: six codes in all, each on invoices of every customer (so a
    product races across customers, hence across partitions and workers too)."""
    return f"RACE-W{index % 2}", f"RACE-P{index % 4}"


def race_invoices(store: Any, count: int, customer_numbers: tuple[int, ...]) -> list[dict[str, Any]]:
    """`count` Draft invoices of new customers (`customer_numbers`, in turn), in the FI company: copies of demo
    invoice 10003 (an hours row and a fee row) whose rows carry the codes of `race_codes`."""
    template = next(i for i in store.all("invoices") if i["number"] == 10003)
    model = store.get("customers", template["customer"]["guid"])
    customers = []
    for n, number in enumerate(customer_numbers):
        body = {k: copy.deepcopy(v) for k, v in model.items() if k not in AUDIT}
        customer = store.insert("customers", body | {"number": number, "name": f"Kilpa {number} Oy",
                                                     "vatNumber": fi_business_id(3100000 + 100 * n)})
        for address in store.all("addresses"):
            if (address.get("customer") or {}).get("guid") == model["guid"]:
                store.insert("addresses", {k: copy.deepcopy(v) for k, v in address.items() if k not in AUDIT}
                             | {"customer": {"name": customer["name"], "guid": customer["guid"], "number": number}})
        customers.append(customer)
    draft = store.invoice_status_sub(store.status_by_name("invoicestatuses", "Draft")["guid"])
    rows = sorted(store.find("invoicerows", invoiceGuid=template["guid"]), key=lambda r: r["sortOrder"])
    invoices = []
    for i in range(count):
        customer = customers[i % len(customers)]
        sub = {"name": customer["name"], "guid": customer["guid"], "number": customer["number"]}
        number = store.next_number("invoice")
        body = {k: copy.deepcopy(v) for k, v in template.items() if k not in AUDIT}
        body |= {"number": number, "referenceNumber": finnish_reference(number), "status": draft, "customer": sub,
                 "billingCustomer": sub, "receiverCustomerName": customer["name"],
                 "receiverVatNumber": customer["vatNumber"]}
        invoice = store.insert("invoices", body)
        for row, code in zip(rows, race_codes(i), strict=True):
            store.insert("invoicerows", {k: copy.deepcopy(v) for k, v in row.items() if k not in AUDIT}
                         | {"invoiceGuid": invoice["guid"], "code": [code], "description": f"Kilpa {code}"})
        invoices.append(invoice)
    return invoices

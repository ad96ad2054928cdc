"""Builders of Severa API JSON (as REST API v1 returns it) for the mapping tests."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from foundation.company import CompanySettings, demo_companies_path, load_companies


def guid(kind: str, key: object) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"sevpro-demo:{kind}:{key}"))


def settings(company: str = "FI", **changes: Any) -> CompanySettings:
    """The demo company's settings, with top-level or ``sales_invoices`` changes."""
    base = load_companies(demo_companies_path())[company]
    sales_changes = changes.pop("sales_invoices", {})
    data = base.model_dump()
    data.update(changes)
    data["sales_invoices"] = {**data["sales_invoices"], **sales_changes}
    return CompanySettings.model_validate(data)  # validated, as a settings file would be


def customer(number: int = 1001, **changes: Any) -> dict[str, Any]:
    card: dict[str, Any] = {
        "guid": guid("customer", number),
        "name": "Asiakas Oy",
        "number": number,
        "isActive": True,
        "vatNumber": "2617416-4",
        "email": None,
        "eInvoiceAddress": None,
        "eInvoiceOperator": None,
        "organizationUnitNumber": None,
        "paymentTerm": 14,
        "overdueInterest": 8.0,
        "language": {"code": "fi", "name": "suomi", "englishName": "Finnish"},
        "currency": {"code": "EUR", "name": "Euro", "symbol": "€"},
        "addresses": [
            {
                "guid": guid("address", number),
                "addressline": "Mannerheimintie 1",
                "postalCode": "00100",
                "city": "Helsinki",
                "isPostalAddress": True,
                "isBillingAddress": True,
                "isVisitAddress": False,
                "country": {"guid": guid("country", "FI"), "name": "Finland", "englishName": "Finland"},
            }
        ],
    }
    card.update(changes)
    return card


def invoice(number: int | None = 10002, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "guid": guid("invoice", number),
        "number": number,
        "referenceNumber": "100023",
        "status": {"guid": guid("invoicestatus", "waiting"), "name": "Waiting for transfer to Procountor"},
        "customer": {"guid": guid("customer", 1001), "name": "Asiakas Oy", "number": 1001},
        "billingCustomer": {"guid": guid("customer", 1001), "name": "Asiakas Oy", "number": 1001},
        "projects": [{"guid": guid("project", "P-2026-001"), "name": "Intranet", "number": "P-2026-001"}],
        "date": "2026-11-20",
        "dueDate": "2026-12-04",
        "paymentTerm": 14,
        "overdueInterest": 8.0,
        "ourReference": "Maija",
        "yourReference": "Teppo",
        "currency": {"guid": guid("currency", "EUR"), "name": "Euro", "code": "EUR", "symbol": "€"},
        "currencyRate": 1.0,
        "receiverCustomerName": "Asiakas Oy",
        "receiverContactName": "Teppo Testaaja",
        "receiverContactEmail": None,
        "receiverAddress": {
            "addressline": "Mannerheimintie 1",
            "postalCode": "00100",
            "city": "Helsinki",
            "state": None,
            "country": "Finland",
        },
        "receiverVatNumber": "2617416-4",
        "senderContactName": "Maija Myyjä",
        "isCreditNote": False,
        "reimburseInvoice": None,
        "creditNoteInvoice": None,
        "orderNumber": "PO-77",
        "notes": "Kiitos tilauksesta",
        "freeText1": {"value": "Above rows", "plainText": "Above rows", "allowTags": False},
        "freeText2": {"value": "Below rows", "plainText": "Below rows", "allowTags": False},
        "language": {"name": "suomi", "guid": guid("language", "fi"), "englishName": "Finnish", "code": "fi"},
        "isReverseCharged": False,
    }
    data.update(changes)
    return data


def row(kind: str = "Hours", sort: int = 1, **changes: Any) -> dict[str, Any]:
    """A Severa invoice row; ``kind`` is the rowType (Hours, ProjectFees, TravelExpenses, FlatRate)."""
    defaults: dict[str, dict[str, Any]] = {
        "Hours": {"description": "Development work", "measurementUnit": "h", "code": ["DEV"], "quantity": 7.5,
                  "unitPrice": {"amount": 100.0, "currencyCode": "EUR"}, "category": "Hours"},
        "ProjectFees": {"description": "Annual licence", "measurementUnit": "pcs", "code": ["LIC-ANNUAL"],
                        "quantity": 1, "unitPrice": {"amount": 1200.0, "currencyCode": "EUR"},
                        "category": "ProjectFees"},
        "TravelExpenses": {"description": "Kilometre allowance", "measurementUnit": "km",
                           "code": ["KM-ALLOWANCE"], "quantity": 120,
                           "unitPrice": {"amount": 0.59, "currencyCode": "EUR"}, "category": "Travels"},
        "FlatRate": {"description": "Fixed fee", "measurementUnit": "", "code": None, "quantity": 1,
                     "unitPrice": {"amount": 500.0, "currencyCode": "EUR"}, "category": "ProjectFees"},
    }  # fmt: skip
    data: dict[str, Any] = {
        "guid": guid("invoicerow", f"{kind}-{sort}"),
        "rowType": kind,
        "vatRate": 25.5,
        "sortOrder": sort,
        "costCenter": {"number": "CC-HEL", "name": "Helsinki"},
        "hasInvoiceComment": False,
        **copy.deepcopy(defaults[kind]),
    }
    data.update(changes)
    return data


def rows(country: str = "FI") -> list[dict[str, Any]]:
    """Three rows at the general VAT rate of the company's country (Finland 25.5 %, Sweden 25 %)."""
    vat = {"vatRate": 25.0} if country == "SE" else {}
    return [row("Hours", 1, **vat), row("ProjectFees", 2, **vat), row("TravelExpenses", 3, **vat)]


KNOWN_CODES = {
    "LIC-ANNUAL", "SUPPORT-H", "WORKSHOP", "DEV", "PM", "DESIGN", "KM-ALLOWANCE", "DAILY-FULL", "DAILY-PART",
    "TRAVEL-TICKET", "DEFAULT-PRODUCT", "DEFAULT-WORK", "DEFAULT-TRAVEL",
}  # fmt: skip

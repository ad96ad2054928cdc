"""Procountor registry bodies a sales invoice may need first: products (Severa products and work types)
and the customer's business partner."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from foundation.company import CompanySettings
from streams.mapping.checks import (
    CITY_MAX,
    COMPANY_CURRENCY,
    EMAIL,
    NAME_MAX,
    PRODUCT_CODE_MAX,
    ROW_PRODUCT_MAX,
    SPECIFIER_MAX,
    STREET_MAX,
    ZIP_MAX,
    Errors,
)
from streams.mapping.counter_party import identifier_type, normalise_business_id, postal_address, split_street
from streams.mapping.countries import iso2, procountor_country
from streams.mapping.languages import COMPANY_LANGUAGE, to_procountor_language
from streams.mapping.money import cents
from streams.mapping.rows import RowKind, ordered_rows, row_code, row_kind, row_source
from streams.mapping.severa_models import Customer, parse
from streams.mapping.units import to_procountor_unit


def missing_products(
    rows: list[dict[str, Any]], settings: CompanySettings, known_product_codes: set[str], *, record: str = ""
) -> list[dict[str, Any]]:
    """The Procountor ``POST /products`` bodies the agent must create before posting the invoice.

    Only when ``create_products`` is on, and never for travel expense codes or the default codes (those
    must exist in Procountor; the invoice validation reports them).
    """
    if not settings.create_products:
        return []
    defaults = {
        settings.default_product_code,
        settings.default_work_type_code,
        settings.default_travel_expense_code,
    }
    wanted: dict[str, dict[str, Any]] = {}
    for row in ordered_rows(rows, record or "sales invoice"):
        kind = row_kind(row)
        code = row_code(row)
        if code is None or code in known_product_codes or code in defaults or code in wanted:
            continue
        if kind == "travel_expense":
            continue
        source = row_source(row, kind)
        name = (source.name if source and source.name else None) or code
        wanted[code] = product_to_procountor(
            code,
            name,
            kind,
            unit=to_procountor_unit(row.measurementUnit) or "NO_UNIT",
            currency=COMPANY_CURRENCY[settings.country],
            vat=row.vatRate,
        )
    return list(wanted.values())


def product_to_procountor(
    code: str,
    name: str,
    kind: RowKind,
    *,
    unit: str = "NO_UNIT",
    price: Decimal = Decimal(0),
    vat: Decimal | None = None,
    currency: str = "EUR",
    record: str = "product",
) -> dict[str, Any]:
    """A Procountor ``Product`` create body for a Severa product or work type (both SALES products)."""
    errors = Errors(f"{record} {code}")
    if kind == "travel_expense":
        errors.add(
            "MISSING_PRODUCT_CODE",
            "productCode",
            code,
            f"MISSING_PRODUCT_CODE: travel expense code {code} must exist in Procountor; it is not created",
        )
    checked_code = errors.text("code", code, PRODUCT_CODE_MAX)
    checked_name = errors.text("name", name, ROW_PRODUCT_MAX)
    if not checked_name:
        errors.add("INVALID_FIELD", "name", name, "INVALID_FIELD (name): a product needs a name")
    if errors.items:
        raise errors.items[0]
    body: dict[str, Any] = {
        "type": "SALES",
        "name": checked_name,
        "code": checked_code,
        "unit": unit,
        "price": price,
        "discount": 0,
        "active": True,
        "currency": currency,
    }
    if vat is not None:
        body["vat"] = vat
    return body


def customer_to_business_partner(customer: dict[str, Any], country: str) -> dict[str, Any]:
    """A Procountor ``BusinessPartner`` (CUSTOMER) create body from a Severa customer card.

    ``country`` is the company's country ("FI"/"SE"): the default for an address without a country and
    for currency and language. The postal address (the one with the Postal address checkbox) is required
    (seed); the business ID is validated as on the invoice.
    """
    record = f"customer {customer.get('number') if isinstance(customer, dict) else '?'}"
    parsed = parse(Customer, customer, record=record, prefix="customer")
    errors = Errors(record)
    name = errors.text("name", parsed.name, NAME_MAX)
    if not name:
        errors.add("INVALID_FIELD", "name", None, "INVALID_FIELD (name): the customer has no name")
    if parsed.number is None:
        errors.add("MISSING_CUSTOMER_NUMBER", "invoicingInfo.customerNumber", parsed.name)
    postal = postal_address(parsed)
    address: dict[str, Any] = {"name": name or ""}
    code = country
    if postal is None:
        errors.add(
            "MISSING_ADDRESS",
            "address",
            None,
            "MISSING_ADDRESS (address): the customer has no postal address",
        )
    else:
        raw_country = postal.country.model_dump() if hasattr(postal.country, "model_dump") else postal.country
        if raw_country:
            found = iso2(raw_country)
            if found is None:
                errors.add("UNKNOWN_COUNTRY", "address.country", str(raw_country))
            else:
                code = found
        street, specifier = split_street(postal.addressline)
        for key, value, limit in (
            ("specifier", specifier, SPECIFIER_MAX),
            ("street", street, STREET_MAX),
            ("zip", postal.postalCode, ZIP_MAX),
            ("city", postal.city, CITY_MAX),
        ):
            checked = errors.text(f"address.{key}", value, limit)
            if checked is not None:
                address[key] = checked
            elif key != "specifier":
                errors.add("MISSING_ADDRESS", f"address.{key}", None)
    address["country"] = procountor_country(code)
    invoicing: dict[str, Any] = {}
    if parsed.number is not None:
        invoicing["customerNumber"] = str(parsed.number)
    if parsed.vatNumber and parsed.vatNumber.strip():
        identifier = normalise_business_id(parsed.vatNumber, code)
        if identifier is None:
            errors.add("ERROR_BRN_CODE", "invoicingInfo.identifier", parsed.vatNumber.strip())
        else:
            invoicing["identifier"] = identifier
            kind = identifier_type(identifier, code)
            if kind:
                invoicing["identifierType"] = kind
    if parsed.email and EMAIL.match(parsed.email.strip()):
        invoicing["email"] = parsed.email.strip()
    if parsed.eInvoiceAddress and parsed.eInvoiceAddress.strip():
        invoicing["einvoiceAddress"] = parsed.eInvoiceAddress.strip()
        if parsed.eInvoiceOperator:
            invoicing["einvoiceOperator"] = parsed.eInvoiceOperator.strip()
        if parsed.organizationUnitNumber and code == "FI":
            invoicing["ovt"] = parsed.organizationUnitNumber.strip()
    language = to_procountor_language(parsed.language.model_dump() if parsed.language else None)
    invoicing["language"] = language or COMPANY_LANGUAGE.get(country, "ENGLISH")
    payment: dict[str, Any] = {
        "paymentMethod": "BANK_TRANSFER",
        "currency": (parsed.currency.code if parsed.currency and parsed.currency.code else None)
        or COMPANY_CURRENCY.get(country, "EUR"),
    }
    if parsed.paymentTerm is not None:
        payment["paymentTermDays"] = str(parsed.paymentTerm)  # a string in Procountor's partner model
    if parsed.overdueInterest is not None:
        payment["penalInterestRate"] = cents(parsed.overdueInterest)
    if errors.items:
        raise errors.items[0]
    return {
        "name": name,
        "type": "CUSTOMER",
        "address": address,
        "billingAddress": dict(address),
        "invoicingInfo": invoicing,
        "paymentInfo": payment,
    }

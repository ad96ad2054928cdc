"""Severa sales invoice → Procountor ``POST /invoices`` body: a pure function, no I/O.

Follows the seed's "Technical description" table field by field, with Procountor's documented limits
(``checks``) checked before the API is called, so that the user gets the precise reason at once.
``validate_sales_invoice`` collects every problem; ``map_sales_invoice`` raises the first. The counterparty
and channel are in ``counter_party``, the rows in ``rows``, dimensions in ``dimensions``, products and
partners in ``products``.

Decisions where the sources leave room (each has a test):
- A credit note stays ``SALES_INVOICE`` with negative amounts (Procountor has no credit-note type and no
  link field); the original invoice is named in ``additionalInformation`` and ``notes``.
- An unsupported invoice language is a data error, not a silent fallback to English.
- ``status`` is not sent: new invoices are always UNFINISHED; the agent approves/sends per settings.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from foundation.company import CompanySettings
from streams.mapping.checks import (
    ADDITIONAL_INFORMATION_MAX,
    COMPANY_CURRENCY,
    CURRENCY_RATE_MAX,
    ORDER_REFERENCE_MAX,
    ORIGINAL_INVOICE_NUMBER_MAX,
    PAYMENT_TERM_MAX_DAYS,
    Errors,
    check_fiscal_period,
    record_name,
)
from streams.mapping.counter_party import invoice_channel, map_counter_party, resolve_country
from streams.mapping.errors import TransferDataError
from streams.mapping.languages import COMPANY_LANGUAGE, LABELS, to_procountor_language
from streams.mapping.money import cents
from streams.mapping.rows import map_rows, ordered_rows
from streams.mapping.severa_models import Customer, Invoice, parse
from streams.mapping.vat import sales_vat_status


def validate_sales_invoice(
    invoice: dict[str, Any],
    rows: list[dict[str, Any]],
    customer: dict[str, Any],
    settings: CompanySettings,
    *,
    contact_email: str | None = None,
    known_product_codes: set[str] | None = None,
    bank_account: str | None = None,
    fiscal_years: list[dict[str, Any]] | None = None,
    vat_status: int | None = None,
    original_procountor_invoice_number: int | None = None,
) -> list[TransferDataError]:
    """Every data error that would stop this invoice, in field order; empty when it can be transferred."""
    return _build(
        invoice,
        rows,
        customer,
        settings,
        contact_email=contact_email,
        known_product_codes=known_product_codes,
        bank_account=bank_account,
        fiscal_years=fiscal_years,
        vat_status=vat_status,
        original_procountor_invoice_number=original_procountor_invoice_number,
    )[1]


def map_sales_invoice(
    invoice: dict[str, Any],
    rows: list[dict[str, Any]],
    customer: dict[str, Any],
    settings: CompanySettings,
    *,
    contact_email: str | None = None,
    known_product_codes: set[str] | None = None,
    bank_account: str | None = None,
    fiscal_years: list[dict[str, Any]] | None = None,
    vat_status: int | None = None,
    original_procountor_invoice_number: int | None = None,
) -> dict[str, Any]:
    """The Procountor ``POST /invoices`` body for a Severa sales invoice; raises the first data error.

    ``invoice``: InvoiceOutputModel; ``rows``: its InvoiceRowOutputModels (optionally enriched with codes,
    see severa_models); ``customer``: the billing customer's CustomerModel with its ``addresses``;
    ``contact_email``: the selected customer contact's email; ``known_product_codes``: codes in Procountor's
    product registers (None skips the check); ``bank_account``: the company's IBAN; ``fiscal_years``:
    Procountor's fiscal years (None skips the closed-period pre-check); ``vat_status``: Procountor's VAT
    status code for the sale (environment data); None takes it from the company settings and the customer
    (``vat.sales_vat_status``: a ConfigFailure when they give none).
    """
    body, errors = _build(
        invoice,
        rows,
        customer,
        settings,
        contact_email=contact_email,
        known_product_codes=known_product_codes,
        bank_account=bank_account,
        fiscal_years=fiscal_years,
        vat_status=vat_status,
        original_procountor_invoice_number=original_procountor_invoice_number,
    )
    if errors:
        raise errors[0]
    return body


def _build(
    invoice_data: dict[str, Any],
    rows_data: list[dict[str, Any]],
    customer_data: dict[str, Any],
    settings: CompanySettings,
    *,
    contact_email: str | None,
    known_product_codes: set[str] | None,
    bank_account: str | None,
    fiscal_years: list[dict[str, Any]] | None,
    vat_status: int | None,
    original_procountor_invoice_number: int | None,
) -> tuple[dict[str, Any], list[TransferDataError]]:
    record = record_name(invoice_data)
    if vat_status is None:
        vat_status = sales_vat_status(settings, customer_data).status  # a configuration error before any data error
    try:
        invoice = parse(Invoice, invoice_data, record=record, prefix="invoice")
        customer = parse(Customer, customer_data, record=record, prefix="customer")
        rows = ordered_rows(rows_data, record)
    except TransferDataError as error:
        return {}, [error]
    errors = Errors(record)

    # --- identity and dates
    if invoice.number is None:
        errors.add("MISSING_INVOICE_NUMBER", "originalInvoiceNumber", None)
        original_number = None
    else:
        original_number = errors.text("originalInvoiceNumber", str(invoice.number), ORIGINAL_INVOICE_NUMBER_MAX)
    if fiscal_years is not None:
        check_fiscal_period(invoice.date, fiscal_years, errors)
    term = (invoice.dueDate - invoice.date).days
    if term < 0:
        errors.add("DUE_DATE_BEFORE_BILL_DATE", "paymentInfo.dueDate", invoice.dueDate.isoformat())
    elif term > PAYMENT_TERM_MAX_DAYS:
        errors.add(
            "PAYMENT_TERM_OUT_OF_RANGE",
            "paymentInfo.dueDate",
            invoice.dueDate.isoformat(),
            f"PAYMENT_TERM_OUT_OF_RANGE (paymentInfo.dueDate): payment term {term} days, at most 999",
        )

    language = to_procountor_language(invoice.language.model_dump() if invoice.language else None)
    if language is None:
        if invoice.language and any((invoice.language.code, invoice.language.name, invoice.language.englishName)):
            shown = invoice.language.englishName or invoice.language.name or invoice.language.code
            errors.add("UNSUPPORTED_LANGUAGE", "language", shown)
        language = COMPANY_LANGUAGE[settings.country]
    labels = LABELS.get(language, LABELS["ENGLISH"])

    # --- counterparty
    country_code, country_enum = resolve_country(invoice, customer, settings, errors)
    counter_party = map_counter_party(invoice, customer, country_code, country_enum, errors)
    channel = invoice_channel(invoice, customer, counter_party, settings, country_enum, contact_email, errors)

    # --- payment
    currency = invoice.currency.code if invoice.currency and invoice.currency.code else None
    currency = (currency or COMPANY_CURRENCY[settings.country]).upper()
    # Procountor: the amount of one unit of domestic currency in the foreign currency; 1 when domestic.
    rate = Decimal(1) if currency == COMPANY_CURRENCY[settings.country] else invoice.currencyRate
    if rate is None or not 0 < rate <= CURRENCY_RATE_MAX:
        errors.add(
            "INVALID_FIELD",
            "paymentInfo.currencyRate",
            rate,
            f"INVALID_FIELD (paymentInfo.currencyRate): {rate} is outside 0…1000000",
        )
        rate = rate or Decimal(1)
    payment_info: dict[str, Any] = {
        "paymentMethod": "BANK_TRANSFER",
        "currency": currency,
        "dueDate": invoice.dueDate.isoformat(),
        "currencyRate": rate,
        # "" makes Procountor generate a valid reference; Finvoice e-invoices need one.
        "bankReferenceCode": "",
    }
    if bank_account is not None:
        try:
            payment_info["bankAccount"] = {"accountNumber": IBAN(bank_account).compact}
        except SchwiftyException:
            errors.add("INVALID_BANK_ACCOUNT", "paymentInfo.bankAccount.accountNumber", bank_account)

    penalty = cents(invoice.overdueInterest or Decimal(0))
    if not 0 <= penalty <= 100:
        errors.add(
            "INVALID_FIELD",
            "penaltyPercent",
            penalty,
            f"INVALID_FIELD (penaltyPercent): {penalty} is outside 0…100",
        )

    # --- texts
    order_reference = errors.text("orderReference", invoice.orderNumber, ORDER_REFERENCE_MAX)
    credited = _credited_number(invoice)
    info_parts = [
        _labelled(labels["our"], invoice.ourReference),
        _labelled(labels["your"], invoice.yourReference),
        invoice.notes,
        invoice.freeText1.content() if invoice.freeText1 else None,
        invoice.freeText2.content() if invoice.freeText2 else None,
        f"{labels['credit']} {credited}" if invoice.isCreditNote and credited is not None else None,
    ]
    additional = "\n".join(part.strip() for part in info_parts if part and part.strip()) or None
    additional = errors.text("additionalInformation", additional, ADDITIONAL_INFORMATION_MAX)

    notes = None
    if invoice.isCreditNote:
        notes = f"Severa credit note {invoice.number} for Severa invoice {credited}"
        if original_procountor_invoice_number is not None:
            notes += f" (Procountor invoice {original_procountor_invoice_number})"

    # --- rows
    invoice_rows = map_rows(rows, invoice, settings, known_product_codes, errors)

    body: dict[str, Any] = {
        "type": "SALES_INVOICE",
        "date": invoice.date.isoformat(),
        "counterParty": counter_party,
        "paymentInfo": payment_info,
        "extraInfo": {"accountingByRow": True, "unitPricesIncludeVat": False},
        "discountPercent": 0,
        "invoiceRows": invoice_rows,
        "invoiceChannel": channel,
        "penaltyPercent": penalty,
        "language": language,
    }
    if original_number is not None:
        body["originalInvoiceNumber"] = original_number
    if order_reference is not None:
        body["orderReference"] = order_reference
    if additional is not None:
        body["additionalInformation"] = additional
    if notes is not None:
        body["notes"] = notes
    body["vatStatus"] = vat_status
    if channel == "ELECTRONIC_INVOICE":
        # Since Procountor 22.11 an e-invoice needs the address in billingAddress too.
        body["billingAddress"] = dict(counter_party["counterPartyAddress"])
    return body, errors.items


def _labelled(label: str, value: str | None) -> str | None:
    return f"{label}: {value.strip()}" if value and value.strip() else None


def _credited_number(invoice: Invoice) -> int | str | None:
    # On a credit note Severa links the invoice it reimburses; which of the two links it fills is not
    # documented, so either is read.
    for related in (invoice.reimburseInvoice, invoice.creditNoteInvoice):
        if related is not None and related.number is not None:
            return related.number
    return None

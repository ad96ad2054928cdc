"""Severa sales invoice → Procountor ``POST /invoices`` body: a pure function, no I/O.

Follows the seed's "Technical description" table field by field, with Procountor's documented limits
(procountor-api.md §5.2, §14) checked before the API is called, so that the user gets the precise reason at
once. ``validate_sales_invoice`` collects every problem; ``map_sales_invoice`` raises the first.

Decisions where the sources leave room (each has a test):
- ``counterParty.contactPersonName`` (≤ 28) is *truncated*, not refused: it is the sender's and the
  customer's contact person joined with " / ", informational only, made of people's names the user cannot
  shorten per invoice, and newer Procountor versions accept 70. Refusing would block ordinary invoices.
- Every other over-long text is a data error ``SIZE_MUST_BE_BETWEEN_0_AND_<n>`` naming the field: those
  texts are visible on the invoice or identify it, and silently cutting them changes what the customer sees.
- Channel EMAIL needs ``send_by_email`` *and* an email (the seed's settings text; its table's "or" would
  e-mail invoices the user never chose to e-mail).
- A credit note stays ``SALES_INVOICE`` with negative amounts (Procountor has no credit-note type and no
  link field); the original invoice is named in ``additionalInformation`` and ``notes``.
- An unsupported invoice language or unit is a data error, not a silent fallback to English / ``NO_UNIT``.
- ``status`` is not sent: new invoices are always UNFINISHED; the agent approves/sends per settings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date as Date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from stdnum.fi import ytunnus
from stdnum.se import orgnr
from stdnum.se import vat as se_vat

from foundation.company import CompanySettings
from streams.mapping.countries import iso2, procountor_country
from streams.mapping.errors import TransferDataError, size_code
from streams.mapping.severa_models import Customer, Invoice, InvoiceRow, Ref, parse
from streams.mapping.text import non_cp1252
from streams.mapping.units import to_procountor_unit
from streams.mapping.vat import vat_rates

RowKind = Literal["product", "work_type", "travel_expense"]

# Procountor limits (procountor-api.md §5.2 and §14).
CONTACT_PERSON_MAX = 28
NAME_MAX = 80
STREET_MAX = 80
SPECIFIER_MAX = 80
CITY_MAX = 40
ZIP_MAX = 20
ORIGINAL_INVOICE_NUMBER_MAX = 40
ORDER_REFERENCE_MAX = 70
ADDITIONAL_INFORMATION_MAX = 10_000
NOTES_MAX = 10_000
ROW_PRODUCT_MAX = 100
PRODUCT_CODE_MAX = 40
ROW_COMMENT_MAX = 512
PAYMENT_TERM_MAX_DAYS = 999
CURRENCY_RATE_MAX = 1_000_000

LANGUAGES = ("ENGLISH", "FINNISH", "SWEDISH", "ESTONIAN", "NORWEGIAN", "DANISH")

_COMPANY_CURRENCY = {"FI": "EUR", "SE": "SEK"}
_COMPANY_LANGUAGE = {"FI": "FINNISH", "SE": "SWEDISH"}

_LANGUAGE_ALIASES: dict[str, str] = {
    **dict.fromkeys(["en", "eng", "english", "englanti", "engelska"], "ENGLISH"),
    **dict.fromkeys(["fi", "fin", "finnish", "suomi", "finska"], "FINNISH"),
    **dict.fromkeys(["sv", "swe", "swedish", "svenska", "ruotsi"], "SWEDISH"),
    **dict.fromkeys(["et", "est", "estonian", "eesti", "viro", "estniska"], "ESTONIAN"),
    **dict.fromkeys(["no", "nb", "nn", "nor", "norwegian", "norsk", "norja", "norska"], "NORWEGIAN"),
    **dict.fromkeys(["da", "dan", "danish", "dansk", "tanska", "danska"], "DANISH"),
}

# Labels inside additionalInformation, in the invoice's language (English for the others).
_LABELS: dict[str, dict[str, str]] = {
    "FINNISH": {"our": "Viitteemme", "your": "Viitteenne", "credit": "Hyvityslasku laskulle"},
    "SWEDISH": {"our": "Vår referens", "your": "Er referens", "credit": "Kreditfaktura för faktura"},
    "ENGLISH": {"our": "Our reference", "your": "Your reference", "credit": "Credit note for invoice"},
}

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# --------------------------------------------------------------------------------------------- helpers


class _Errors:
    """Collects data errors for one record; each names the Procountor field and the value."""

    def __init__(self, record: str) -> None:
        self.record = record
        self.items: list[TransferDataError] = []

    def add(self, code: str, field: str | None, value: Any = None, message: str | None = None) -> None:
        self.items.append(TransferDataError(code, record=self.record, field=field, value=value, message=message))

    def text(self, field: str, value: str | None, limit: int | None = None) -> str | None:
        """Check a text for Procountor's character set and length; returns it stripped (None if empty)."""
        if value is None:
            return None
        value = value.strip()
        if not value:
            return None
        bad = non_cp1252(value)
        if bad:
            self.add(
                "INVALID_CHARACTERS",
                field,
                value,
                f"INVALID_CHARACTERS ({field}): {', '.join(repr(c) for c in bad)} not allowed",
            )
        if limit is not None and len(value) > limit:
            self.add(size_code(limit), field, value)
        return value


def record_name(invoice: Mapping[str, Any]) -> str:
    """How the transfer log names a Severa sales invoice: by number, else by guid."""
    number = invoice.get("number") if isinstance(invoice, Mapping) else None
    if number is not None:
        return f"sales invoice {number}"
    return f"sales invoice {invoice.get('guid') if isinstance(invoice, Mapping) else '?'}"


def to_procountor_language(language: Mapping[str, Any] | str | None) -> str | None:
    """Procountor's language enum for Severa's invoice language (code like ``fi-FI`` or a name)."""
    if language is None:
        return None
    values = [language] if isinstance(language, str) else [language.get(k) for k in ("code", "englishName", "name")]
    for value in values:
        if not isinstance(value, str) or not value.strip():
            continue
        text = value.strip().casefold()
        if text.upper() in LANGUAGES:
            return text.upper()
        for key in (text, re.split(r"[-_]", text)[0]):
            if key in _LANGUAGE_ALIASES:
                return _LANGUAGE_ALIASES[key]
    return None


def normalise_business_id(value: str, country: str) -> str | None:
    """The business ID in Procountor's format for ``country`` (FI Y-tunnus, SE orgnr), None if invalid.

    Severa keeps it in ``vatNumber``, so the VAT form (FI12345678, SE556036079301) is accepted too. Other
    countries' identifiers pass unchanged: the seed only names Finnish and Swedish business IDs.
    """
    text = value.strip()
    if country == "FI":
        return ytunnus.format(text) if ytunnus.is_valid(text) else None
    if country == "SE":
        if orgnr.is_valid(text):
            return orgnr.format(text)
        if se_vat.is_valid(text):
            return orgnr.format(se_vat.compact(text).removeprefix("SE")[:10])
        return None
    return text


def _money(value: float | None) -> float:
    return float(value) if value is not None else 0.0


def _scale2(value: float) -> float:
    return float(Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def row_kind(row: InvoiceRow) -> RowKind:
    """Which register a row's code belongs to, from Severa's row type (or category)."""
    kind = (row.rowType or row.category or "").casefold()
    if kind in ("hours",):
        return "work_type"
    if kind in ("travelexpenses", "travels"):
        return "travel_expense"
    return "product"


def _row_source(row: InvoiceRow, kind: RowKind) -> Ref | None:
    if kind == "work_type":
        return row.workType
    if kind == "travel_expense":
        return row.travelExpense or row.travelExpenseType
    return row.product


def row_code(row: InvoiceRow) -> str | None:
    """The product / work type / travel expense code of a Severa invoice row, None if it has none."""
    candidates: list[str | None] = [row.productCode]
    source = _row_source(row, row_kind(row))
    candidates.append(source.code if source else None)
    if isinstance(row.code, str):
        candidates.append(row.code)
    elif row.code:
        # A grouped row may list several codes; Procountor's row has one, so the first one stands.
        candidates.extend(row.code)
    for candidate in candidates:
        if candidate and candidate.strip():
            return candidate.strip()
    return None


def default_code(kind: RowKind, settings: CompanySettings) -> str:
    return {
        "product": settings.default_product_code,
        "work_type": settings.default_work_type_code,
        "travel_expense": settings.default_travel_expense_code,
    }[kind]


def _ordered_rows(rows: list[dict[str, Any]], record: str) -> list[InvoiceRow]:
    parsed = [parse(InvoiceRow, row, record=record, prefix=f"rows[{i}]") for i, row in enumerate(rows)]
    # Procountor's row index follows Severa's sort order; a stable sort keeps the input order on ties.
    order = sorted(range(len(parsed)), key=lambda i: (parsed[i].sortOrder is None, parsed[i].sortOrder or 0))
    return [parsed[i] for i in order]


def _resolve_country(
    invoice: Invoice, customer: Customer, settings: CompanySettings, errors: _Errors
) -> tuple[str, str]:
    """(ISO code, Procountor enum) of the counterparty: invoice address, else the customer's, else ours."""
    raw: Any = invoice.receiverAddress.country if invoice.receiverAddress else None
    if not raw:
        postal = _postal_address(customer)
        raw = postal.country if postal else None
        if hasattr(raw, "model_dump"):
            raw = raw.model_dump()
    code: str
    if not raw:
        code = settings.country
    else:
        found = iso2(raw)
        if found is None:
            shown = raw if isinstance(raw, str) else (raw.get("englishName") or raw.get("name"))
            errors.add("UNKNOWN_COUNTRY", "counterParty.counterPartyAddress.country", shown)
            code = settings.country
        else:
            code = found
    return code, procountor_country(code)


def _postal_address(customer: Customer) -> Any:
    for address in customer.addresses:
        if address.isPostalAddress:
            return address
    return None


def _split_street(addressline: str | None) -> tuple[str | None, str | None]:
    # Severa's address line may span lines; Procountor has street + specifier (c/o, floor...).
    if not addressline:
        return None, None
    lines = [line.strip() for line in addressline.replace("\r", "\n").split("\n") if line.strip()]
    if not lines:
        return None, None
    return lines[-1] if len(lines) > 1 else lines[0], ", ".join(lines[:-1]) or None


def _check_fiscal_period(when: Date, fiscal_years: Iterable[Mapping[str, Any]], errors: _Errors) -> None:
    """Pre-check CLOSED_FISCAL_PERIOD against Procountor's GET /fiscalyears answer."""
    day = when.isoformat()
    for year in fiscal_years:
        if not (str(year.get("startDate", "")) <= day <= str(year.get("endDate", ""))):
            continue
        if year.get("isOpen") is False:
            errors.add("CLOSED_FISCAL_PERIOD", "date", day)
            return
        for period in year.get("trackingPeriods") or []:
            if str(period.get("startDate", "")) <= day <= str(period.get("endDate", "")):
                if str(period.get("status", "")).upper() == "CLOSED":
                    errors.add("CLOSED_FISCAL_PERIOD", "date", day)
                return
        return
    errors.add(
        "CLOSED_FISCAL_PERIOD",
        "date",
        day,
        f"CLOSED_FISCAL_PERIOD (date): no fiscal year in Procountor covers {day}",
    )


# --------------------------------------------------------------------------------------------- mapping


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
    vat_status: int | None = 1,
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
    vat_status: int | None = 1,
    original_procountor_invoice_number: int | None = None,
) -> dict[str, Any]:
    """The Procountor ``POST /invoices`` body for a Severa sales invoice; raises the first data error.

    ``invoice``: InvoiceOutputModel; ``rows``: its InvoiceRowOutputModels (optionally enriched with codes,
    see severa_models); ``customer``: the billing customer's CustomerModel with its ``addresses``;
    ``contact_email``: the selected customer contact's email; ``known_product_codes``: codes in Procountor's
    product registers (None skips the check); ``bank_account``: the company's IBAN; ``fiscal_years``:
    Procountor's fiscal years (None skips the closed-period pre-check); ``vat_status``: Procountor's VAT
    status code for the sale (environment data, 1 = domestic in the demo; None omits it).
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
    try:
        invoice = parse(Invoice, invoice_data, record=record, prefix="invoice")
        customer = parse(Customer, customer_data, record=record, prefix="customer")
        rows = _ordered_rows(rows_data, record)
    except TransferDataError as error:
        return {}, [error]
    errors = _Errors(record)

    # --- identity and dates
    if invoice.number is None:
        errors.add("MISSING_INVOICE_NUMBER", "originalInvoiceNumber", None)
        original_number = None
    else:
        original_number = errors.text("originalInvoiceNumber", str(invoice.number), ORIGINAL_INVOICE_NUMBER_MAX)
    if fiscal_years is not None:
        _check_fiscal_period(invoice.date, fiscal_years, errors)
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
        language = _COMPANY_LANGUAGE[settings.country]
    labels = _LABELS.get(language, _LABELS["ENGLISH"])

    # --- counterparty
    country_code, country_enum = _resolve_country(invoice, customer, settings, errors)
    counter_party = _counter_party(invoice, customer, country_code, country_enum, errors)
    channel = _invoice_channel(invoice, customer, counter_party, settings, country_enum, contact_email, errors)

    # --- payment
    currency = invoice.currency.code if invoice.currency and invoice.currency.code else None
    currency = (currency or _COMPANY_CURRENCY[settings.country]).upper()
    # Procountor: the amount of one unit of domestic currency in the foreign currency; 1 when domestic.
    rate = 1.0 if currency == _COMPANY_CURRENCY[settings.country] else invoice.currencyRate
    if rate is None or not 0 < rate <= CURRENCY_RATE_MAX:
        errors.add(
            "INVALID_FIELD",
            "paymentInfo.currencyRate",
            rate,
            f"INVALID_FIELD (paymentInfo.currencyRate): {rate} is outside 0…1000000",
        )
        rate = rate or 1.0
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

    penalty = _scale2(invoice.overdueInterest or 0.0)
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
    invoice_rows = _invoice_rows(rows, invoice, settings, known_product_codes, errors)

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
    if vat_status is not None:
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


def _counter_party(
    invoice: Invoice, customer: Customer, country_code: str, country_enum: str, errors: _Errors
) -> dict[str, Any]:
    party: dict[str, Any] = {}
    contacts = [c.strip() for c in (invoice.senderContactName, invoice.receiverContactName) if c and c.strip()]
    if contacts:
        joined = errors.text("counterParty.contactPersonName", " / ".join(contacts)) or ""
        # Truncated by decision (module docstring): informational, and people's names.
        party["contactPersonName"] = joined[:CONTACT_PERSON_MAX].rstrip()

    raw_id = invoice.receiverVatNumber or customer.vatNumber
    if raw_id and raw_id.strip():
        identifier = normalise_business_id(raw_id, country_code)
        if identifier is None:
            errors.add("ERROR_BRN_CODE", "counterParty.identifier", raw_id.strip())
        else:
            party["identifier"] = errors.text("counterParty.identifier", identifier, 25)

    if customer.number is None:
        errors.add("MISSING_CUSTOMER_NUMBER", "counterParty.customerNumber", customer.name)
    else:
        party["customerNumber"] = str(customer.number)

    address_source = invoice.receiverAddress
    name = invoice.receiverCustomerName or customer.name
    addressline, zip_code, city = (
        (address_source.addressline, address_source.postalCode, address_source.city)
        if address_source
        else (None, None, None)
    )
    if not any(value and value.strip() for value in (addressline, zip_code, city)):
        # The seed takes the address from the invoice; without one, the customer's postal address.
        postal = _postal_address(customer)
        if postal is not None:
            addressline, zip_code, city = postal.addressline, postal.postalCode, postal.city
    street, specifier = _split_street(addressline)
    address: dict[str, Any] = {"country": country_enum}
    fields = (
        ("name", name, NAME_MAX),
        ("specifier", specifier, SPECIFIER_MAX),
        ("street", street, STREET_MAX),
        ("zip", zip_code, ZIP_MAX),
        ("city", city, CITY_MAX),
    )
    for key, value, limit in fields:
        checked = errors.text(f"counterParty.counterPartyAddress.{key}", value, limit)
        if checked is not None:
            address[key] = checked
    if "name" not in address:
        errors.add("MISSING_ADDRESS", "counterParty.counterPartyAddress.name", None)
    party["counterPartyAddress"] = address
    return party


def _invoice_channel(
    invoice: Invoice,
    customer: Customer,
    party: dict[str, Any],
    settings: CompanySettings,
    country_enum: str,
    contact_email: str | None,
    errors: _Errors,
) -> str:
    """The seed's channel rule: e-invoice data → ELECTRONIC_INVOICE; send-by-email + email → EMAIL; MAIL."""
    address = party["counterPartyAddress"]

    def require_address(channel: str) -> None:
        for key in ("street", "zip", "city"):
            if key not in address:
                errors.add(
                    "MISSING_ADDRESS",
                    f"counterParty.counterPartyAddress.{key}",
                    None,
                    f"MISSING_ADDRESS (counterParty.counterPartyAddress.{key}): required for {channel}",
                )

    # The selected contact's email first, then the invoice's receiver contact, then the customer card.
    emails = [e.strip() for e in (contact_email, invoice.receiverContactEmail, customer.email) if e and e.strip()]
    email = emails[0] if emails else None

    if customer.eInvoiceAddress and customer.eInvoiceAddress.strip():
        einvoice: dict[str, Any] = {
            "address": errors.text("counterParty.einvoiceAddress.address", customer.eInvoiceAddress)
        }
        operator = errors.text("counterParty.einvoiceAddress.operator", customer.eInvoiceOperator)
        if operator:
            einvoice["operator"] = operator
        elif country_enum == "FINLAND":
            errors.add("MISSING_EINVOICE_OPERATOR", "counterParty.einvoiceAddress.operator", None)
        ovt = errors.text("counterParty.einvoiceAddress.ediId", customer.organizationUnitNumber)
        if ovt and country_enum == "FINLAND":
            # OVT (ediId) is allowed for Finnish counterparties only (OVT_NOT_ALLOWED otherwise).
            einvoice["ediId"] = ovt
        party["einvoiceAddress"] = einvoice
        if email and _EMAIL.match(email):
            party["email"] = email
        require_address("ELECTRONIC_INVOICE")
        return "ELECTRONIC_INVOICE"

    if settings.sales_invoices.send_by_email and email:
        if not _EMAIL.match(email):
            errors.add("INVALID_EMAIL", "counterParty.email", email)
        party["email"] = errors.text("counterParty.email", email, 80)
        return "EMAIL"

    if email and _EMAIL.match(email):
        party["email"] = email
    require_address("MAIL")
    return "MAIL"


def _invoice_rows(
    rows: list[InvoiceRow],
    invoice: Invoice,
    settings: CompanySettings,
    known: set[str] | None,
    errors: _Errors,
) -> list[dict[str, Any]]:
    if not rows:
        errors.add("INVALID_FIELD", "invoiceRows", None, "INVALID_FIELD (invoiceRows): the invoice has no rows")
        return []
    # A credit note is a negative invoice in Procountor. Severa's credit rows are negative already; should
    # they arrive positive, the sign goes on every quantity, so that the document still credits.
    total = sum(row.quantity * _money(row.unitPrice.amount if row.unitPrice else None) for row in rows)
    flip = invoice.isCreditNote and total > 0
    mapped: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        path = f"invoiceRows[{index}]"
        kind = row_kind(row)
        code = row_code(row)
        if code is None:
            code = default_code(kind, settings)
            if known is not None and code not in known:
                errors.add("MISSING_DEFAULT_CODE", f"{path}.productCode", code)
        elif known is not None and code not in known:
            # Travel codes are never created: they change yearly and must come from Procountor (seed).
            if kind == "travel_expense" or not settings.create_products:
                errors.add("MISSING_PRODUCT_CODE", f"{path}.productCode", code)
        code = errors.text(f"{path}.productCode", code, PRODUCT_CODE_MAX)

        product = errors.text(f"{path}.product", row.description, ROW_PRODUCT_MAX)
        if product is None:
            errors.add(
                "INVALID_FIELD",
                f"{path}.product",
                None,
                f"INVALID_FIELD ({path}.product): the row has no description",
            )
        unit = to_procountor_unit(row.measurementUnit)
        if unit is None:
            errors.add("UNKNOWN_UNIT", f"{path}.unit", row.measurementUnit)
        if row.vatRate is None:
            errors.add(
                "INVALID_FIELD",
                f"{path}.vatPercent",
                None,
                f"INVALID_FIELD ({path}.vatPercent): the row has no VAT rate",
            )
        elif not 0 <= row.vatRate <= 100:
            errors.add(
                "INVALID_FIELD",
                f"{path}.vatPercent",
                row.vatRate,
                f"INVALID_FIELD ({path}.vatPercent): {row.vatRate} is outside 0…100",
            )
        elif row.vatRate not in (allowed := vat_rates(settings.country, invoice.date)):
            errors.add(
                "ERROR_VATSTATUS_VATPERC",
                f"{path}.vatPercent",
                row.vatRate,
                f"ERROR_VATSTATUS_VATPERC ({path}.vatPercent): {row.vatRate} % is not a {settings.country} VAT "
                f"rate on {invoice.date} (in force: {', '.join(f'{r:g} %' for r in allowed)})",
            )
        comment = errors.text(f"{path}.comment", row.comment or row.invoiceRowComment, ROW_COMMENT_MAX)
        quantity = -row.quantity if flip else row.quantity
        item: dict[str, Any] = {
            "productCode": code,
            "product": product or "",
            "quantity": quantity,
            "unit": unit or "NO_UNIT",
            "unitPrice": _money(row.unitPrice.amount if row.unitPrice else None),
            "discountPercent": 0,
            "vatPercent": row.vatRate if row.vatRate is not None else 0,
        }
        if comment is not None:
            item["comment"] = comment
        mapped.append(item)
    return mapped


# ------------------------------------------------------------------------------------------ dimensions


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
    ordered = _ordered_rows(rows, record)
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


# ------------------------------------------------------------------------- products and partners


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
    for row in _ordered_rows(rows, record or "sales invoice"):
        kind = row_kind(row)
        code = row_code(row)
        if code is None or code in known_product_codes or code in defaults or code in wanted:
            continue
        if kind == "travel_expense":
            continue
        source = _row_source(row, kind)
        name = (source.name if source and source.name else None) or code
        wanted[code] = product_to_procountor(
            code,
            name,
            kind,
            unit=to_procountor_unit(row.measurementUnit) or "NO_UNIT",
            currency=_COMPANY_CURRENCY[settings.country],
            vat=row.vatRate,
        )
    return list(wanted.values())


def product_to_procountor(
    code: str,
    name: str,
    kind: RowKind,
    *,
    unit: str = "NO_UNIT",
    price: float = 0.0,
    vat: float | None = None,
    currency: str = "EUR",
    record: str = "product",
) -> dict[str, Any]:
    """A Procountor ``Product`` create body for a Severa product or work type (both SALES products)."""
    errors = _Errors(f"{record} {code}")
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
    errors = _Errors(record)
    name = errors.text("name", parsed.name, NAME_MAX)
    if not name:
        errors.add("INVALID_FIELD", "name", None, "INVALID_FIELD (name): the customer has no name")
    if parsed.number is None:
        errors.add("MISSING_CUSTOMER_NUMBER", "invoicingInfo.customerNumber", parsed.name)
    postal = _postal_address(parsed)
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
        street, specifier = _split_street(postal.addressline)
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
    if parsed.email and _EMAIL.match(parsed.email.strip()):
        invoicing["email"] = parsed.email.strip()
    if parsed.eInvoiceAddress and parsed.eInvoiceAddress.strip():
        invoicing["einvoiceAddress"] = parsed.eInvoiceAddress.strip()
        if parsed.eInvoiceOperator:
            invoicing["einvoiceOperator"] = parsed.eInvoiceOperator.strip()
        if parsed.organizationUnitNumber and code == "FI":
            invoicing["ovt"] = parsed.organizationUnitNumber.strip()
    language = to_procountor_language(parsed.language.model_dump() if parsed.language else None)
    invoicing["language"] = language or _COMPANY_LANGUAGE.get(country, "ENGLISH")
    payment: dict[str, Any] = {
        "paymentMethod": "BANK_TRANSFER",
        "currency": (parsed.currency.code if parsed.currency and parsed.currency.code else None)
        or _COMPANY_CURRENCY.get(country, "EUR"),
    }
    if parsed.paymentTerm is not None:
        payment["paymentTermDays"] = str(parsed.paymentTerm)  # a string in Procountor's partner model
    if parsed.overdueInterest is not None:
        payment["penalInterestRate"] = _scale2(parsed.overdueInterest)
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

"""The Procountor counterparty of a sales invoice (name, address, business ID, contact) and its invoice
channel, per the seed's "Technical description" table.

Decisions where the sources leave room (each has a test):
- ``counterParty.contactPersonName`` (≤ 28) is *truncated*, not refused: it is the sender's and the
  customer's contact person joined with " / ", informational only, made of people's names the user cannot
  shorten per invoice, and newer Procountor versions accept 70. Refusing would block ordinary invoices.
- Channel EMAIL needs ``send_by_email`` *and* an email (the seed's settings text; its table's "or" would
  e-mail invoices the user never chose to e-mail).
"""

from __future__ import annotations

import re
from typing import Any

from stdnum.fi import hetu, ytunnus
from stdnum.se import orgnr, personnummer
from stdnum.se import vat as se_vat

from foundation.company import CompanySettings
from streams.mapping.checks import (
    CITY_MAX,
    CONTACT_PERSON_MAX,
    EMAIL,
    NAME_MAX,
    SPECIFIER_MAX,
    STREET_MAX,
    ZIP_MAX,
    Errors,
)
from streams.mapping.countries import iso2, procountor_country
from streams.mapping.severa_models import Customer, Invoice

# Procountor's identifier types of a private person (BusinessIdentifier.brnType, parentCompanyIdType):
# HETU the Finnish henkilötunnus, PN the Swedish personnummer. Business IDs keep being sent without a type.
PERSONAL_ID_TYPES = {"FI": "HETU", "SE": "PN"}


def personal_identifier(value: str, country: str) -> str | None:
    """A private customer's personal code in its standard form (FI ``DDMMYYCZZZQ``, SE ``YYYYMMDD-NNNN``),
    None if ``value`` is not one. The Swedish form has the century so that it reads the same however typed."""
    text = value.strip()
    if country == "FI" and hetu.is_valid(text):
        return hetu.compact(text)
    if country == "SE" and personnummer.is_valid(text):
        digits = re.sub(r"\D", "", personnummer.compact(text))
        if len(digits) == 10:
            digits = str(personnummer.get_birth_date(text).year)[:2] + digits
        return f"{digits[:8]}-{digits[8:]}"
    return None


def identifier_type(identifier: str, country: str) -> str | None:
    """The identifierType Procountor expects for ``identifier`` (a normalised one): HETU or PN for a personal
    code, None for a business ID."""
    return PERSONAL_ID_TYPES[country] if personal_identifier(identifier, country) else None


def normalise_business_id(value: str, country: str) -> str | None:
    """The customer's identifier in Procountor's format for ``country`` (FI Y-tunnus or henkilötunnus, SE orgnr
    or personnummer), None if invalid.

    Severa keeps it in ``vatNumber``, so the VAT form (FI12345678, SE556036079301) is accepted too. A private
    customer has a personal code there instead (the seed: "Business ID or national identification number").
    Other countries' identifiers pass unchanged: the seed only names Finnish and Swedish business IDs.
    """
    text = value.strip()
    personal = personal_identifier(text, country)
    if personal:
        return personal
    if country == "FI":
        return ytunnus.format(text) if ytunnus.is_valid(text) else None
    if country == "SE":
        if orgnr.is_valid(text):
            return orgnr.format(text)
        if se_vat.is_valid(text):
            return orgnr.format(se_vat.compact(text).removeprefix("SE")[:10])
        return None
    return text


def resolve_country(invoice: Invoice, customer: Customer, settings: CompanySettings, errors: Errors) -> tuple[str, str]:
    """(ISO code, Procountor enum) of the counterparty: invoice address, else the customer's, else ours."""
    raw: Any = invoice.receiverAddress.country if invoice.receiverAddress else None
    if not raw:
        postal = postal_address(customer)
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


def postal_address(customer: Customer) -> Any:
    for address in customer.addresses:
        if address.isPostalAddress:
            return address
    return None


def split_street(addressline: str | None) -> tuple[str | None, str | None]:
    # Severa's address line may span lines; Procountor has street + specifier (c/o, floor...).
    if not addressline:
        return None, None
    lines = [line.strip() for line in addressline.replace("\r", "\n").split("\n") if line.strip()]
    if not lines:
        return None, None
    return lines[-1] if len(lines) > 1 else lines[0], ", ".join(lines[:-1]) or None


def map_counter_party(
    invoice: Invoice, customer: Customer, country_code: str, country_enum: str, errors: Errors
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
        postal = postal_address(customer)
        if postal is not None:
            addressline, zip_code, city = postal.addressline, postal.postalCode, postal.city
    street, specifier = split_street(addressline)
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


def invoice_channel(
    invoice: Invoice,
    customer: Customer,
    party: dict[str, Any],
    settings: CompanySettings,
    country_enum: str,
    contact_email: str | None,
    errors: Errors,
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
        if email and EMAIL.match(email):
            party["email"] = email
        require_address("ELECTRONIC_INVOICE")
        return "ELECTRONIC_INVOICE"

    if settings.sales_invoices.send_by_email and email:
        if not EMAIL.match(email):
            errors.add("INVALID_EMAIL", "counterParty.email", email)
        party["email"] = errors.text("counterParty.email", email, 80)
        return "EMAIL"

    if email and EMAIL.match(email):
        party["email"] = email
    require_address("MAIL")
    return "MAIL"

"""Validation rules of the Procountor sandbox, each returning the errors Procountor would return.

Error codes: `SIZE_MUST_BE_BETWEEN_0_AND_<n>`, `ERROR_BRN_CODE`, `CLOSED_FISCAL_PERIOD`,
`DUE_DATE_BEFORE_BILL_DATE`, `ERROR_VATSTATUS_VATPERC` and
`DIMENSION_OR_DIMENSION_ITEM_IDENTIFIERS_DOES_NOT_MATCH_THOSE_STORED_IN_DATABASE` are the real ones (see the
reference §4.2). The real validation table is not public, so the remaining codes are the sandbox's own,
named in the same Bean-Validation style: `MUST_NOT_BE_NULL`, `MUST_NOT_BE_BLANK`, `INVALID_VALUE`,
`INVALID_CHARACTERS` (outside Windows-1252), `NO_FISCAL_YEAR`, `PRODUCT_NOT_FOUND`,
`DIMENSION_ITEM_VALUES_DO_NOT_SUM_TO_ACCOUNTING_VALUE`, `INVALID_BANK_ACCOUNT`, `INVALID_FILE_TYPE`,
`INVALID_FILE_NAME`, `FILE_SIZE_TOO_BIG`, `VERSION_MISMATCH`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from schwifty import IBAN
from stdnum.fi import alv as fi_vat
from stdnum.fi import hetu, ytunnus
from stdnum.se import orgnr, personnummer
from stdnum.se import vat as se_vat

from .store import Company

# A number the books cannot hold is refused as an invalid value (the public description gives no bound; money
# columns of accounting systems hold 13 integer digits and 2 decimals, and beyond 10^15 the amounts' arithmetic
# leaves Decimal's precision): never a 500.
AMOUNT_LIMIT = Decimal(10) ** 15


@dataclass(frozen=True)
class FieldError:
    field: str | None
    message: str
    status: int = 400

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body


INVOICE_TYPES = {
    "SALES_INVOICE",
    "SALES_ORDER",
    "PURCHASE_INVOICE",
    "PURCHASE_ORDER",
    "TRAVEL_INVOICE",
    "BILL_OF_CHARGES",
}
SALES_TYPES = {"SALES_INVOICE", "SALES_ORDER"}
PURCHASE_TYPES = {"PURCHASE_INVOICE", "PURCHASE_ORDER"}
TRAVEL_TYPES = {"TRAVEL_INVOICE", "BILL_OF_CHARGES"}
WRITABLE_CHANNELS = {"EMAIL", "MAIL", "ELECTRONIC_INVOICE", "NO_SENDING"}
LANGUAGES = {"ENGLISH", "FINNISH", "SWEDISH", "ESTONIAN", "NORWEGIAN", "DANISH"}
PAYMENT_METHODS = {
    "BANK_TRANSFER",
    "DIRECT_PAYMENT",
    "CLEARING",
    "CREDIT_CARD_CHARGE",
    "FOREIGN_PAYMENT",
    "OTHER",
    "CASH",
    "DOMESTIC_PAYMENT_PLUSGIRO",
    "DOMESTIC_PAYMENT_BANKGIRO",
    "DOMESTIC_PAYMENT_CREDITOR",
    "NETS",
}
PARTNER_TYPES = {"CUSTOMER", "SUPPLIER", "PERSON"}
PRODUCT_TYPES = {"SALES", "PURCHASE", "TRAVEL"}
UNITS = {
    "CM",
    "LOT",
    "GRAM",
    "HOUR",
    "PERSON",
    "LINEAR_METER",
    "KILOGRAM",
    "MONTH",
    "KILOMETER",
    "PIECE",
    "KILOWATT_HOUR",
    "LITER",
    "BOX",
    "METER",
    "SQUARE_METER",
    "CUBIC_METER",
    "SALE_UNIT",
    "MINUTE",
    "MILLIMETER",
    "PARCEL",
    "BOTTLE",
    "CAN",
    "BAG",
    "DAY",
    "ROLL",
    "PAGE",
    "SACK",
    "SERIES",
    "TUBE",
    "TON",
    "YEAR",
    "WEEK",
    "FULL_DAY",
    "HALF_DAY",
    "HECTARE",
    "NO_UNIT",
}
COUNTRIES = {
    "FINLAND",
    "SWEDEN",
    "ALAND_ISLANDS",
    "NORWAY",
    "DENMARK",
    "ESTONIA",
    "LATVIA",
    "LITHUANIA",
    "GERMANY",
    "FRANCE",
    "NETHERLANDS",
    "BELGIUM",
    "SPAIN",
    "ITALY",
    "POLAND",
    "AUSTRIA",
    "SWITZERLAND",
    "ICELAND",
    "IRELAND",
    "UNITED_KINGDOM_OF_GREAT_BRITAIN_AND_NORTHERN_IRELAND",
    "UNITED_STATES_OF_AMERICA",
}
ATTACHMENT_MAX_BYTES = 10_000_000

# Address limits are the same on counterparty, billing and delivery addresses (reference §14).
ADDRESS_LIMITS = {"name": 80, "specifier": 80, "street": 80, "zip": 20, "city": 40, "subdivision": 35}


def vat_percentages(country: str, day: date) -> list[Decimal]:
    """VAT rates in force for a company's country on a day (Finland raised 24→25.5 and cut 14→13.5)."""
    if country == "FINLAND":
        general = Decimal("25.5") if day >= date(2024, 9, 1) else Decimal("24")
        reduced = Decimal("13.5") if day >= date(2026, 1, 1) else Decimal("14")
        return [general, reduced, Decimal("10"), Decimal("0")]
    if country == "SWEDEN":
        return [Decimal("25"), Decimal("12"), Decimal("6"), Decimal("0")]
    return [Decimal("0")]


def business_id_valid(identifier: str, country: str) -> bool:
    """Finnish Y-tunnus / FI VAT number / henkilötunnus, Swedish orgnr / SE VAT number / personnummer; others:
    non-blank. CounterParty.identifier is "Business ID or national identification number" (the OpenAPI)."""
    value = identifier.strip()
    if country in {"FINLAND", "ALAND_ISLANDS"}:
        return (ytunnus.is_valid(value) or hetu.is_valid(value)
                or (value.upper().startswith("FI") and fi_vat.is_valid(value)))
    if country == "SWEDEN":
        return (orgnr.is_valid(value) or personnummer.is_valid(value)
                or (value.upper().startswith("SE") and se_vat.is_valid(value)))
    return bool(value)


def normalized_business_id(identifier: str | None) -> str:
    return re.sub(r"[^0-9A-Z]", "", (identifier or "").upper()).removeprefix("FI").removeprefix("SE")


class Checker:
    """Collects field errors while walking a request body."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def add(self, field: str | None, message: str, status: int = 400) -> None:
        self.errors.append(FieldError(field, message, status))

    def text(self, value: Any, path: str, limit: int, *, required: bool = False) -> None:
        if value is None or value == "":
            if required:
                self.add(path, "MUST_NOT_BE_NULL")
            return
        if not isinstance(value, str):
            self.add(path, "INVALID_VALUE")
            return
        if len(value) > limit:
            self.add(path, f"SIZE_MUST_BE_BETWEEN_0_AND_{limit}")
        try:
            value.encode("cp1252")
        except UnicodeEncodeError:
            self.add(path, "INVALID_CHARACTERS")

    def enum(self, value: Any, path: str, allowed: set[str], *, required: bool = False) -> None:
        if value is None:
            if required:
                self.add(path, "MUST_NOT_BE_NULL")
        elif value not in allowed:
            self.add(path, "INVALID_VALUE")

    def day(self, value: Any, path: str, *, required: bool = False) -> date | None:
        if value is None:
            if required:
                self.add(path, "MUST_NOT_BE_NULL")
            return None
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.add(path, "INVALID_VALUE")
            return None

    def number(self, value: Any, path: str, *, required: bool = False) -> Decimal | None:
        if value is None:
            if required:
                self.add(path, "MUST_NOT_BE_NULL")
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            self.add(path, "INVALID_VALUE")
            return None
        try:
            number = Decimal(str(value))
        except ArithmeticError:
            self.add(path, "INVALID_VALUE")
            return None
        if not number.is_finite() or abs(number) >= AMOUNT_LIMIT:
            self.add(path, "INVALID_VALUE")
            return None
        return number

    def address(self, address: Any, path: str, *, name_required: bool) -> None:
        if address is None:
            return
        if not isinstance(address, dict):
            self.add(path, "INVALID_VALUE")
            return
        if not address and not name_required:
            return  # `{}` suppresses a billing/delivery address
        for key, limit in ADDRESS_LIMITS.items():
            self.text(address.get(key), f"{path}.{key}", limit, required=key == "name")
        self.enum(address.get("country"), f"{path}.country", COUNTRIES)


def check_open_period(check: Checker, company: Company, day: date | None, path: str) -> None:
    """A date must fall in an open fiscal year and a non-closed tracking period."""
    if day is None:
        return
    year, period = company.fiscal_period_for(day)
    if year is None:
        check.add(path, "NO_FISCAL_YEAR")
    elif not year["isOpen"] or (period is not None and period["status"] == "CLOSED"):
        check.add(path, "CLOSED_FISCAL_PERIOD")


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def validate_invoice(company: Company, body: Any, *, today: date) -> list[FieldError]:
    """All violations of an Invoice body for POST/PUT, in the order Procountor would list them."""
    check = Checker()
    if not isinstance(body, dict):
        check.add(None, "INVALID_VALUE")
        return check.errors
    inv_type = body.get("type")
    check.enum(inv_type, "type", INVOICE_TYPES, required=True)
    invoice_date = check.day(body.get("date"), "date", required=True)
    check_open_period(check, company, invoice_date, "date")
    check.enum(body.get("invoiceChannel"), "invoiceChannel", WRITABLE_CHANNELS, required=True)
    if inv_type in SALES_TYPES:
        check.enum(body.get("language"), "language", LANGUAGES, required=True)
    if inv_type not in TRAVEL_TYPES:
        if body.get("vatStatus") is None:
            check.add("vatStatus", "MUST_NOT_BE_NULL")
        elif body["vatStatus"] not in {s["vatStatus"] for s in company.vat_statuses}:
            check.add("vatStatus", "INVALID_VALUE")
    check.text(body.get("orderReference"), "orderReference", 70)
    check.text(body.get("originalInvoiceNumber"), "originalInvoiceNumber", 40)
    check.text(body.get("additionalInformation"), "additionalInformation", 10000)
    check.text(body.get("notes"), "notes", 10000)
    check.text(body.get("deliveryInstructions"), "deliveryInstructions", 255)
    discount = check.number(body.get("discountPercent"), "discountPercent", required=True)
    if discount is not None and not Decimal(0) <= discount <= Decimal(100):
        check.add("discountPercent", "INVALID_VALUE")
    extra = body.get("extraInfo")
    if not isinstance(extra, dict):
        check.add("extraInfo", "MUST_NOT_BE_NULL")
    else:
        for key in ("accountingByRow", "unitPricesIncludeVat"):
            if not isinstance(extra.get(key), bool):
                check.add(f"extraInfo.{key}", "MUST_NOT_BE_NULL")

    counter_party = body.get("counterParty")
    if not isinstance(counter_party, dict):
        check.add("counterParty", "MUST_NOT_BE_NULL")
        counter_party = {}
    address = counter_party.get("counterPartyAddress")
    if not isinstance(address, dict):
        check.add("counterParty.counterPartyAddress", "MUST_NOT_BE_NULL")
        address = {}
    else:
        check.address(address, "counterParty.counterPartyAddress", name_required=True)
    check.text(counter_party.get("contactPersonName"), "counterParty.contactPersonName", 28)
    check.text(counter_party.get("customerNumber"), "counterParty.customerNumber", 40)
    check.text(counter_party.get("email"), "counterParty.email", 80)
    if counter_party.get("email") and "@" not in str(counter_party["email"]):
        check.add("counterParty.email", "MUST_BE_A_WELL_FORMED_EMAIL_ADDRESS")
    identifier = counter_party.get("identifier")
    if identifier not in (None, "") and inv_type in SALES_TYPES | PURCHASE_TYPES:
        country = address.get("country") or company.country
        if not isinstance(identifier, str) or not business_id_valid(identifier, country):
            check.add("counterParty.identifier", "ERROR_BRN_CODE")
    billing = body.get("billingAddress")
    check.address(billing, "billingAddress", name_required=False)
    check.address(body.get("deliveryAddress"), "deliveryAddress", name_required=False)
    check_channel(check, body, counter_party, address, billing if isinstance(billing, dict) else None)

    payment = body.get("paymentInfo")
    if not isinstance(payment, dict):
        check.add("paymentInfo", "MUST_NOT_BE_NULL")
    else:
        check.enum(payment.get("paymentMethod"), "paymentInfo.paymentMethod", PAYMENT_METHODS, required=True)
        if blank(payment.get("currency")):
            check.add("paymentInfo.currency", "MUST_NOT_BE_NULL")
        rate = check.number(payment.get("currencyRate"), "paymentInfo.currencyRate", required=True)
        if rate is not None and not Decimal(0) < rate <= Decimal(1000000):
            check.add("paymentInfo.currencyRate", "INVALID_VALUE")
        due = check.day(payment.get("dueDate"), "paymentInfo.dueDate", required=True)
        if due and invoice_date:
            if due < invoice_date:
                check.add("paymentInfo.dueDate", "DUE_DATE_BEFORE_BILL_DATE")
            elif (due - invoice_date).days > 999:
                check.add("paymentInfo.dueDate", "INVALID_VALUE")
        account = (payment.get("bankAccount") or {}).get("accountNumber")
        if account and inv_type in SALES_TYPES:
            # The invoice takes an IBAN; the company's accounts list it in `iban` (`accountNumber` is the BBAN).
            own = {a["iban"] for a in company.bank_accounts if a.get("status", "ACTIVE") == "ACTIVE"}
            if not iban_valid(account) or account not in own:
                check.add("paymentInfo.bankAccount.accountNumber", "INVALID_BANK_ACCOUNT")

    rows = body.get("invoiceRows")
    if not isinstance(rows, list) or not rows:
        check.add("invoiceRows", "MUST_NOT_BE_NULL")
        rows = []
    allowed_vat = vat_percentages(company.country, invoice_date or today)
    domestic = {s["vatStatus"] for s in company.vat_statuses if s.get("domestic")}
    for index, row in enumerate(rows):
        check_row(
            check,
            company,
            row,
            f"invoiceRows[{index}]",
            invoice_date,
            allowed_vat,
            body.get("vatStatus"),
            domestic,
        )
    return check.errors


def check_channel(
    check: Checker,
    body: dict[str, Any],
    counter_party: dict[str, Any],
    address: dict[str, Any],
    billing: dict[str, Any] | None,
) -> None:
    """What each invoice channel needs to be deliverable (reference §5.2 `invoiceChannel`)."""
    channel = body.get("invoiceChannel")
    postal = ("street", "zip", "city")
    if channel == "EMAIL" and blank(counter_party.get("email")):
        check.add("counterParty.email", "MUST_NOT_BE_BLANK")
    elif channel == "MAIL":
        has_billing = billing is not None and all(not blank(billing.get(k)) for k in postal)
        if not has_billing:
            for key in postal:
                if blank(address.get(key)):
                    check.add(f"counterParty.counterPartyAddress.{key}", "MUST_NOT_BE_BLANK")
    elif channel == "ELECTRONIC_INVOICE" and body.get("type") == "SALES_INVOICE":
        for key in postal:
            if blank(address.get(key)):
                check.add(f"counterParty.counterPartyAddress.{key}", "MUST_NOT_BE_BLANK")
            if billing and blank(billing.get(key)):
                check.add(f"billingAddress.{key}", "MUST_NOT_BE_BLANK")
        einvoice = counter_party.get("einvoiceAddress") or {}
        if blank(einvoice.get("address")):
            check.add("counterParty.einvoiceAddress.address", "MUST_NOT_BE_BLANK")
        if (address.get("country") or "FINLAND") == "FINLAND" and blank(einvoice.get("operator")):
            check.add("counterParty.einvoiceAddress.operator", "MUST_NOT_BE_BLANK")


def check_row(
    check: Checker,
    company: Company,
    row: Any,
    path: str,
    invoice_date: date | None,
    allowed_vat: list[Decimal],
    vat_status: Any,
    domestic: set[int],
) -> None:
    if not isinstance(row, dict):
        check.add(path, "INVALID_VALUE")
        return
    check.text(row.get("product"), f"{path}.product", 100, required=True)
    check.text(row.get("productCode"), f"{path}.productCode", 40)
    for key in ("comment", "headerText", "explanationText"):
        check.text(row.get(key), f"{path}.{key}", 512)
    quantity = check.number(row.get("quantity"), f"{path}.quantity", required=True)
    price = check.number(row.get("unitPrice"), f"{path}.unitPrice", required=True)
    if quantity is not None and price is not None and abs(quantity * price) >= AMOUNT_LIMIT:
        check.add(f"{path}.unitPrice", "INVALID_VALUE")  # the row's amount would not fit either
    check.number(row.get("discountPercent"), f"{path}.discountPercent", required=True)
    check.enum(row.get("unit"), f"{path}.unit", UNITS, required=True)
    vat = check.number(row.get("vatPercent"), f"{path}.vatPercent", required=True)
    if vat is not None:
        row_status = row.get("vatStatus", vat_status)
        if vat not in allowed_vat or (row_status is not None and row_status not in domestic and vat != 0):
            check.add(f"{path}.vatPercent", "ERROR_VATSTATUS_VATPERC")
    code = row.get("productCode")
    if code:
        product = next(
            (p for p in company.products.values() if p.get("code") == code and p.get("active", True)), None
        )
        if product is None:
            check.add(f"{path}.productCode", "PRODUCT_NOT_FOUND")
        elif product["type"] == "TRAVEL" and invoice_date is not None:
            start, end = product.get("startDate"), product.get("endDate")
            if (start and invoice_date < date.fromisoformat(start)) or (
                end and invoice_date > date.fromisoformat(end)
            ):
                check.add(f"{path}.productCode", "PRODUCT_NOT_FOUND")
    if row.get("productId") is not None and row["productId"] not in company.products:
        check.add(f"{path}.productId", "PRODUCT_NOT_FOUND")


def iban_valid(value: str) -> bool:
    try:
        IBAN(value)
    except ValueError:
        return False
    return True


def validate_partner(company: Company, body: Any) -> list[FieldError]:
    check = Checker()
    if not isinstance(body, dict):
        check.add(None, "INVALID_VALUE")
        return check.errors
    check.text(body.get("name"), "name", 80, required=True)
    check.enum(body.get("type"), "type", {"CUSTOMER", "SUPPLIER"}, required=True)
    if body.get("type") == "CUSTOMER" and not isinstance(body.get("address"), dict):
        check.add("address", "MUST_NOT_BE_NULL")
    check.address(body.get("address"), "address", name_required=True)
    check.address(body.get("billingAddress"), "billingAddress", name_required=False)
    check.address(body.get("deliveryAddress"), "deliveryAddress", name_required=False)
    payment = body.get("paymentInfo")
    if not isinstance(payment, dict):
        check.add("paymentInfo", "MUST_NOT_BE_NULL")
    else:
        check.enum(
            payment.get("paymentMethod"),
            "paymentInfo.paymentMethod",
            PAYMENT_METHODS | {"DIRECT_DEBIT"},
            required=True,
        )
    info = body.get("invoicingInfo") or {}
    check.text(info.get("customerNumber"), "invoicingInfo.customerNumber", 40)
    identifier = info.get("identifier")
    if identifier:
        country = (body.get("address") or {}).get("country") or company.country
        if not isinstance(identifier, str) or not business_id_valid(identifier, country):
            check.add("invoicingInfo.identifier", "ERROR_BRN_CODE")
    return check.errors


def partner_clash(
    company: Company, customer_number: str | None, identifier: str | None, name: str
) -> FieldError | None:
    """Same customer number, different business ID: refused (the registry would hold two different firms)."""
    if not customer_number:
        return None
    existing = company.find_partner(customer_number=customer_number)
    if existing is None:
        return None
    theirs = normalized_business_id(existing.get("invoicingInfo", {}).get("identifier"))
    ours = normalized_business_id(identifier)
    if theirs and ours and theirs != ours:
        return FieldError(
            "invoicingInfo.customerNumber",
            f"Could not add {name} to Procountor, because another partner {existing['name']} with the same "
            "number and different VAT number already exists there.",
        )
    return None


def validate_product(body: Any) -> list[FieldError]:
    check = Checker()
    if not isinstance(body, dict):
        check.add(None, "INVALID_VALUE")
        return check.errors
    check.enum(body.get("type"), "type", PRODUCT_TYPES, required=True)
    check.text(body.get("name"), "name", 100, required=True)
    check.text(body.get("code"), "code", 40)
    check.number(body.get("price"), "price", required=True)
    discount = check.number(body.get("discount"), "discount", required=True)
    if discount is not None and not Decimal(0) <= discount <= Decimal(100):
        check.add("discount", "INVALID_VALUE")
    if not isinstance(body.get("active"), bool):
        check.add("active", "MUST_NOT_BE_NULL")
    if blank(body.get("currency")):
        check.add("currency", "MUST_NOT_BE_NULL")
    if body.get("unit") not in (None, "") and body["unit"] not in UNITS | LEGACY_UNITS:
        check.add("unit", "INVALID_VALUE")
    if body.get("type") != "TRAVEL" and (body.get("startDate") or body.get("endDate")):
        check.add("startDate", "INVALID_VALUE")
    return check.errors


LEGACY_UNITS = {"kpl", "h", "pv", "km", "kk", "erä", "tunti"}


def validate_dimension_values(company: Company, transactions: list[dict[str, Any]]) -> list[FieldError]:
    """Dimension items must exist and be active; per dimension, values sum to the transaction's amount."""
    check = Checker()
    for index, transaction in enumerate(transactions):
        path = f"transactions[{index}].dimensionItemValues"
        values = transaction.get("dimensionItemValues") or []
        sums: dict[int, Decimal] = {}
        seen: set[tuple[int, int]] = set()
        for value in values:
            dimension = company.dimensions.get(value.get("dimensionId"))
            item = next(
                (i for i in (dimension or {}).get("items", []) if i["id"] == value.get("itemId")), None
            )
            pair = (value.get("dimensionId"), value.get("itemId"))
            if item is None or item.get("status") == "P" or pair in seen:
                check.add(
                    path, "DIMENSION_OR_DIMENSION_ITEM_IDENTIFIERS_DOES_NOT_MATCH_THOSE_STORED_IN_DATABASE"
                )
                break
            seen.add(pair)
            amount = Decimal(str(value.get("value", 0)))
            if amount != amount.quantize(Decimal("0.01")):
                check.add(f"{path}.value", "INVALID_VALUE")
            sums[value["dimensionId"]] = sums.get(value["dimensionId"], Decimal(0)) + amount
        else:
            total = Decimal(str(transaction.get("accountingValue", 0))).quantize(Decimal("0.01"))
            if any(s.quantize(Decimal("0.01")) != total for s in sums.values()):
                check.add(path, "DIMENSION_ITEM_VALUES_DO_NOT_SUM_TO_ACCOUNTING_VALUE")
    return check.errors


FILE_NAME = re.compile(r"^[\w\- .()]+$")


def validate_attachment_file(name: str, content: bytes) -> list[FieldError]:
    """Any type (Procountor derives the MIME type from the name's extension), at most 10 000 000 bytes, no
    special characters in the name. The GIF/JPEG/PDF rule is the Severa integration's own, not Procountor's."""
    check = Checker()
    if not FILE_NAME.match(name) or name.startswith("."):
        check.add("meta.name", "INVALID_FILE_NAME")
    if len(content) > ATTACHMENT_MAX_BYTES:
        check.add("file", "FILE_SIZE_TOO_BIG")
    return check.errors

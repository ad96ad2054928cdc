"""Property: any Severa invoice maps to a body within Procountor's documented limits and enums, or raises
a TransferDataError naming the record and the field.

The limits and enums below are restated from procountor-api.md (§5.2, §14), independently of the mapping
code, so that a wrong constant in the mapping fails here.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from mapping_builders import KNOWN_CODES, customer, invoice
from mapping_builders import settings as company_settings
from schwifty import IBAN

from streams.mapping import TransferDataError, map_sales_invoice, validate_sales_invoice

CHANNELS = {"EMAIL", "MAIL", "ELECTRONIC_INVOICE", "NO_SENDING"}  # EDIFACT, PAPER_INVOICE not writable
LANGUAGE_ENUM = {"ENGLISH", "FINNISH", "SWEDISH", "ESTONIAN", "NORWEGIAN", "DANISH"}
UNIT_ENUM = {
    "CM", "LOT", "GRAM", "HOUR", "PERSON", "LINEAR_METER", "KILOGRAM", "MONTH", "KILOMETER", "PIECE",
    "KILOWATT_HOUR", "LITER", "BOX", "METER", "SQUARE_METER", "CUBIC_METER", "SALE_UNIT", "MINUTE", "MILLIMETER",
    "PARCEL", "BOTTLE", "CAN", "BAG", "DAY", "ROLL", "PAGE", "SACK", "SERIES", "TUBE", "TON", "YEAR", "WEEK",
    "FULL_DAY", "HECTARE", "NO_UNIT",
}  # fmt: skip
ADDRESS_LIMITS = {"name": 80, "specifier": 80, "street": 80, "zip": 20, "city": 40}

# Mostly Windows-1252 letters, sometimes a character outside it.
_letters = st.sampled_from(list("abcdefghijklmnopqrstuvwxyzÄÖÅäöå -.,/€'&") + ["✓", "Ŕ", "\u2028"])
_common = st.sampled_from(list("abcdefghijklmnopqrstuvwxyz ÄÖäö-"))


def texts(max_size: int, *, rare_long: int | None = None) -> st.SearchStrategy[str | None]:
    plain = st.text(_common, min_size=0, max_size=max_size)
    choices = [st.none(), plain, st.text(_letters, max_size=max_size)]
    if rare_long:
        # Around the limit; built by repetition because hypothesis draws at most a few thousand characters.
        choices.append(st.builds(lambda c, n: c * n, _common, st.integers(rare_long - 2, rare_long + 2)))
    return st.one_of(*choices)


units = st.sampled_from(["h", "H", "kpl", "pcs", "km", "pv", "day", "kk", "", None, "furlong", "st", "t", "erä"])
codes = st.one_of(st.none(), st.sampled_from(sorted(KNOWN_CODES) + ["TRAINING", "HW-LAPTOP", "KM-2025", ""]),
                  st.text(_common, min_size=38, max_size=42))  # fmt: skip
row_types = st.sampled_from(["Hours", "ProjectFees", "TravelExpenses", "FlatRate", None])


@st.composite
def severa_rows(draw):
    count = draw(st.integers(min_value=0, max_value=5))
    result = []
    for index in range(count):
        code = draw(codes)
        result.append({
            "guid": f"row-{index}",
            "rowType": draw(row_types),
            "description": draw(st.one_of(texts(60, rare_long=100), st.text(_common, min_size=95, max_size=105))),
            "quantity": draw(st.floats(min_value=-1000, max_value=1000, allow_nan=False)),
            "unitPrice": {"amount": draw(st.floats(min_value=-10_000, max_value=10_000, allow_nan=False))},
            "measurementUnit": draw(units),
            "vatRate": draw(st.sampled_from([25.5, 24.0, 14.0, 10.0, 0.0, 25.0, None, 101.0])),
            "sortOrder": draw(st.one_of(st.none(), st.integers(0, 10))),
            "code": None if code is None else [code],
            "comment": draw(texts(40, rare_long=512)),
        })  # fmt: skip
    return result


@st.composite
def severa_invoices(draw):
    day = draw(st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31)))
    term = draw(st.one_of(st.integers(0, 60), st.integers(-3, 1003)))
    address = {
        "addressline": draw(texts(40, rare_long=80)),
        "postalCode": draw(st.one_of(st.none(), st.from_regex(r"\A[0-9]{5}\Z"), st.text(_common, max_size=22))),
        "city": draw(texts(20, rare_long=40)),
        "country": draw(st.sampled_from([None, "Finland", "Suomi", "Norway", "Atlantis", "", "Finland"])),
    }  # fmt: skip
    return invoice(
        number=draw(st.integers(0, 9).map(lambda i: None if i == 0 else 10000 + i)),
        date=day.isoformat(),
        dueDate=(day + timedelta(days=term)).isoformat(),
        overdueInterest=draw(st.one_of(st.none(), st.floats(min_value=0, max_value=30, allow_nan=False))),
        ourReference=draw(texts(30)),
        yourReference=draw(texts(30)),
        notes=draw(texts(200, rare_long=10_000)),
        orderNumber=draw(texts(30, rare_long=70)),
        receiverCustomerName=draw(st.one_of(texts(40, rare_long=80), st.just("Asiakas Oy"))),
        receiverContactName=draw(texts(30)),
        senderContactName=draw(texts(30)),
        receiverContactEmail=draw(st.sampled_from([None, "a@b.fi", "bad-email", ""])),
        receiverAddress=draw(st.one_of(st.none(), st.just(address))),
        receiverVatNumber=draw(st.sampled_from([None, "2617416-4", "FI26174164", "2617416-5", "", None, None])),
        language=draw(st.sampled_from([None, {"code": "fi"}, {"code": "sv-SE"}, {"code": "en"}, {"code": "de"},
                                       {"name": "Dansk"}, None, {"code": "fi"}])),
        isCreditNote=draw(st.booleans()),
        reimburseInvoice={"guid": "g", "number": 10001},
    )  # fmt: skip


@st.composite
def severa_customers(draw):
    return customer(
        number=draw(st.integers(0, 9).map(lambda i: None if i == 0 else 1000 + i)),
        email=draw(st.sampled_from([None, "laskut@asiakas.fi", "nope"])),
        eInvoiceAddress=draw(st.sampled_from([None, "003726174164"])),
        eInvoiceOperator=draw(st.sampled_from([None, "003721291126"])),
        addresses=draw(st.sampled_from([customer()["addresses"], []])),
    )


# --- valid Severa data: every value within Severa's own range and the integration's requirements

_valid_text = st.text(st.sampled_from(list("abcdefghijklmnopqrstuvwxyz ÄÖÅäöå-.,/€'&0123456789")), max_size=60)


def _bounded(max_size: int) -> st.SearchStrategy[str]:
    return st.text(_common, min_size=1, max_size=max_size).filter(str.strip)


@st.composite
def valid_rows(draw, company="FI"):
    result = []
    for index in range(draw(st.integers(min_value=1, max_value=6))):
        result.append({
            "guid": f"row-{index}",
            "rowType": draw(st.sampled_from(["Hours", "ProjectFees", "TravelExpenses", "FlatRate"])),
            "description": draw(st.one_of(_bounded(100), st.builds(lambda c: c * 100, _common.filter(str.strip)))),
            "quantity": draw(st.floats(min_value=-1000, max_value=1000, allow_nan=False)),
            "unitPrice": {"amount": draw(st.floats(min_value=0, max_value=10_000, allow_nan=False))},
            "measurementUnit": draw(st.sampled_from(["h", "kpl", "pcs", "km", "pv", "kk", "", None, "st", "erä"])),
            # VAT rates in force from 2026 (valid_invoices are dated 2026-2027)
            "vatRate": draw(st.sampled_from([25.5, 13.5, 10.0, 0.0] if company == "FI" else [25.0, 12.0, 6.0, 0.0])),
            "sortOrder": draw(st.one_of(st.none(), st.integers(0, 10))),
            "code": draw(st.sampled_from([None, [], [""], ["DEV"], ["LIC-ANNUAL"], ["KM-ALLOWANCE"], ["PM"]])),
            "comment": draw(st.one_of(st.none(), _valid_text)),
        })  # fmt: skip
    for item in result:  # a travel row's code must be a travel code; the others may be any known code
        if item["rowType"] == "TravelExpenses" and item["code"] not in (None, [], [""]):
            item["code"] = ["KM-ALLOWANCE"]
        elif item["code"] == ["KM-ALLOWANCE"]:
            item["code"] = ["TRAINING"]  # unknown, created because create_products is on
    return result


@st.composite
def valid_invoices(draw, company):
    day = draw(st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31)))
    country, business_id = draw(st.sampled_from(
        [("Finland", "2617416-4"), ("Suomi", "FI26174164"), (None, None)] if company == "FI"
        else [("Sweden", "556036-0793"), ("Sverige", "SE556036079301"), (None, None)]
    ))  # fmt: skip
    address = {"addressline": draw(_bounded(80)), "postalCode": draw(st.from_regex(r"\A[0-9]{3} ?[0-9]{2}\Z")),
               "city": draw(_bounded(40)), "country": country}  # fmt: skip
    return invoice(
        number=draw(st.integers(1, 2**31 - 1)),
        date=day.isoformat(),
        dueDate=(day + timedelta(days=draw(st.integers(0, 999)))).isoformat(),
        overdueInterest=draw(st.floats(min_value=0, max_value=100, allow_nan=False)),
        ourReference=draw(st.one_of(st.none(), _valid_text)),
        yourReference=draw(st.one_of(st.none(), _valid_text)),
        notes=draw(st.one_of(st.none(), _valid_text)),
        freeText1=draw(st.one_of(st.none(), st.builds(lambda v: {"value": v}, _valid_text))),
        freeText2=draw(st.one_of(st.none(), st.builds(lambda v: {"plainText": v}, _valid_text))),
        orderNumber=draw(st.one_of(st.none(), st.text(_common, max_size=70))),
        receiverCustomerName=draw(_bounded(80)),
        receiverContactName=draw(st.one_of(st.none(), _valid_text)),
        senderContactName=draw(st.one_of(st.none(), _valid_text)),
        receiverContactEmail=draw(st.sampled_from([None, "a@b.fi", ""])),
        receiverAddress=address,
        receiverVatNumber=business_id,
        language=draw(st.sampled_from([None, {"code": "fi"}, {"code": "sv-SE"}, {"code": "en"}, {"name": "Dansk"},
                                       {"englishName": "Estonian"}, {"code": "nb"}])),
        isCreditNote=draw(st.booleans()),
        reimburseInvoice={"guid": "g", "number": 10001},
    )  # fmt: skip


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    company=st.sampled_from(["FI", "SE"]),
    send_by_email=st.booleans(),
    cust_email=st.sampled_from([None, "laskut@asiakas.fi"]),
    einvoice=st.booleans(),
)
def test_any_valid_invoice_maps_within_procountor_limits(data, company, send_by_email, cust_email, einvoice):
    inv = data.draw(valid_invoices(company))
    rws = data.draw(valid_rows(company))
    cust = customer(vatNumber=None, email=cust_email, eInvoiceAddress="003726174164" if einvoice else None,
                    eInvoiceOperator="003721291126" if einvoice else None)  # fmt: skip
    sett = company_settings(company, sales_invoices={"send_by_email": send_by_email})
    bank = "FI2112345600000785" if company == "FI" else "SE4550000000058398257466"
    body = map_sales_invoice(inv, rws, cust, sett, known_product_codes=KNOWN_CODES, bank_account=bank)
    assert_procountor_valid(body)
    expected = "ELECTRONIC_INVOICE" if einvoice else (
        "EMAIL" if send_by_email and (cust_email or inv["receiverContactEmail"]) else "MAIL")  # fmt: skip
    assert body["invoiceChannel"] == expected
    assert len(body["invoiceRows"]) == len(rws)
    if inv["isCreditNote"]:
        assert sum(r["quantity"] * r["unitPrice"] for r in body["invoiceRows"]) <= 0


# --- checks restated from the reference


def check_text(value, limit, where):
    assert isinstance(value, str), where
    assert len(value) <= limit, f"{where}: {len(value)} > {limit}"
    value.encode("cp1252")  # Procountor's character set


def assert_procountor_valid(body):
    assert body["type"] == "SALES_INVOICE"
    assert "status" not in body
    assert body["invoiceChannel"] in CHANNELS
    assert body["language"] in LANGUAGE_ENUM
    party = body["counterParty"]
    address = party["counterPartyAddress"]
    assert address.get("name"), "counterPartyAddress.name is required"
    for key, limit in ADDRESS_LIMITS.items():
        if key in address:
            check_text(address[key], limit, f"counterPartyAddress.{key}")
    assert address["country"].isupper() and " " not in address["country"]
    if "contactPersonName" in party:
        check_text(party["contactPersonName"], 28, "contactPersonName")
    for key, limit in (("originalInvoiceNumber", 40), ("orderReference", 70), ("additionalInformation", 10_000),
                       ("notes", 10_000)):  # fmt: skip
        if key in body:
            check_text(body[key], limit, key)
    due = date.fromisoformat(body["paymentInfo"]["dueDate"]) - date.fromisoformat(body["date"])
    assert 0 <= due.days <= 999
    assert Decimal(str(body["penaltyPercent"])).as_tuple().exponent >= -2
    assert 0 < body["paymentInfo"]["currencyRate"] <= 1_000_000
    assert body["paymentInfo"]["paymentMethod"] == "BANK_TRANSFER" and body["paymentInfo"]["currency"]
    if "bankAccount" in body["paymentInfo"]:
        IBAN(body["paymentInfo"]["bankAccount"]["accountNumber"])
    assert 0 <= body["discountPercent"] <= 100
    assert body["extraInfo"]["accountingByRow"] in (True, False)
    channel = body["invoiceChannel"]
    if channel == "EMAIL":
        assert party.get("email") and "@" in party["email"]
    if channel in ("MAIL", "ELECTRONIC_INVOICE"):
        assert all(address.get(key) for key in ("street", "zip", "city"))
    if channel == "ELECTRONIC_INVOICE":
        assert all(body["billingAddress"].get(key) for key in ("street", "zip", "city"))
        assert party["einvoiceAddress"]["address"]
        if address["country"] == "FINLAND":
            assert party["einvoiceAddress"]["operator"]
    assert body["invoiceRows"], "at least one row"
    for index, row in enumerate(body["invoiceRows"]):
        assert row["product"], f"invoiceRows[{index}].product is required"
        check_text(row["product"], 100, f"invoiceRows[{index}].product")
        check_text(row["productCode"], 40, f"invoiceRows[{index}].productCode")
        if "comment" in row:
            check_text(row["comment"], 512, f"invoiceRows[{index}].comment")
        assert row["unit"] in UNIT_ENUM
        assert 0 <= row["vatPercent"] <= 100 and 0 <= row["discountPercent"] <= 100
        # Numbers, not strings; money is an exact Decimal (written as a JSON number by the client).
        assert isinstance(row["quantity"], Decimal | int) and isinstance(row["unitPrice"], Decimal | int)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    inv=severa_invoices(),
    rws=severa_rows(),
    cust=severa_customers(),
    company=st.sampled_from(["FI", "SE"]),
    send_by_email=st.booleans(),
    create_products=st.booleans(),
    bank=st.sampled_from([None, "FI2112345600000785", "FI2112345600000786", "SE4550000000058398257466"]),
)
def test_any_invoice_maps_within_limits_or_names_the_field(
    inv, rws, cust, company, send_by_email, create_products, bank
):
    sett = company_settings(company, create_products=create_products,
                            sales_invoices={"send_by_email": send_by_email})  # fmt: skip
    kwargs = {"known_product_codes": KNOWN_CODES, "bank_account": bank}
    errors = validate_sales_invoice(inv, rws, cust, sett, **kwargs)
    try:
        body = map_sales_invoice(inv, rws, cust, sett, **kwargs)
    except TransferDataError as error:
        event(f"refused: {error.code}")
        assert errors and error.code == errors[0].code and error.field == errors[0].field
        for each in errors:
            assert each.code and each.field and each.solution
            assert each.record == (
                f"sales invoice {inv['number']}" if inv["number"] else f"sales invoice {inv['guid']}"
            )
            assert set(each.to_dict()) == {"code", "kind", "record", "field", "value", "message", "solution"}
        return
    event(f"mapped: {body['invoiceChannel']}")
    assert errors == []
    assert_procountor_valid(body)
    if inv["isCreditNote"]:
        assert sum(r["quantity"] * r["unitPrice"] for r in body["invoiceRows"]) <= 0

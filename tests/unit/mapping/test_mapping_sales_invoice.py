"""The seed's "Technical description" table, row by row, and the channel rules."""

from __future__ import annotations

from decimal import Decimal

import pytest
from mapping_builders import KNOWN_CODES, customer, invoice, row, rows, settings

from streams.mapping import TransferDataError, map_sales_invoice, validate_sales_invoice
from streams.mapping.errors import SOLUTIONS
from streams.mapping.languages import to_procountor_language

IBAN_FI = "FI2112345600000785"


def body(inv=None, rws=None, cust=None, sett=None, **kw):
    kw.setdefault("known_product_codes", KNOWN_CODES)
    return map_sales_invoice(
        inv or invoice(), rws if rws is not None else rows(sett.country if sett else "FI"), cust or customer(),
        sett or settings(), **kw
    )


def errors(inv=None, rws=None, cust=None, sett=None, **kw):
    kw.setdefault("known_product_codes", KNOWN_CODES)
    return validate_sales_invoice(
        inv or invoice(), rws if rws is not None else rows(sett.country if sett else "FI"), cust or customer(),
        sett or settings(), **kw
    )


def only(errs, code):
    found = [e for e in errs if e.code == code]
    assert found, f"no {code} in {[e.code for e in errs]}"
    return found


# --- counterParty -----------------------------------------------------------------------------------


def test_contact_person_joins_billing_and_customer_contact():
    assert body()["counterParty"]["contactPersonName"] == "Maija Myyjä / Teppo Testaaja"


def test_contact_person_at_28_kept_and_longer_truncated_to_28():
    exact = invoice(senderContactName="A" * 10, receiverContactName="B" * 15)  # 10 + 3 + 15 = 28
    assert body(exact)["counterParty"]["contactPersonName"] == "A" * 10 + " / " + "B" * 15
    longer = invoice(senderContactName="A" * 10, receiverContactName="B" * 16)
    name = body(longer)["counterParty"]["contactPersonName"]
    assert len(name) == 28 and name == ("A" * 10 + " / " + "B" * 16)[:28]
    assert errors(longer) == []


def test_contact_person_single_and_absent():
    assert body(invoice(senderContactName=None))["counterParty"]["contactPersonName"] == "Teppo Testaaja"
    party = body(invoice(senderContactName=None, receiverContactName=" "))["counterParty"]
    assert "contactPersonName" not in party


def test_identifier_is_the_business_id_from_the_invoice_normalised():
    assert body(invoice(receiverVatNumber="FI26174164"))["counterParty"]["identifier"] == "2617416-4"
    # The invoice's business ID wins over the customer card's.
    assert (
        body(invoice(receiverVatNumber="2617416-4"), cust=customer(vatNumber="0000000-0"))["counterParty"]["identifier"]
        == "2617416-4"
    )


def test_identifier_falls_back_to_customer_card():
    assert body(invoice(receiverVatNumber=None))["counterParty"]["identifier"] == "2617416-4"


def test_invalid_finnish_business_id_is_error_brn_code_with_seed_solution():
    errs = only(errors(invoice(receiverVatNumber="2617416-5")), "ERROR_BRN_CODE")
    assert errs[0].field == "counterParty.identifier"
    assert errs[0].value == "2617416-5"
    assert errs[0].record == "sales invoice 10002"
    assert errs[0].solution == SOLUTIONS["ERROR_BRN_CODE"]
    with pytest.raises(TransferDataError) as raised:
        body(invoice(receiverVatNumber="2617416-5"))
    assert raised.value.code == "ERROR_BRN_CODE"


def test_swedish_business_id_validated_by_customer_country():
    se_address = {"addressline": "Drottninggatan 1", "postalCode": "111 51", "city": "Stockholm",
                  "country": "Sweden"}  # fmt: skip
    ok = invoice(receiverVatNumber="SE556036079301", receiverAddress=se_address)
    party = body(ok, sett=settings("SE"))["counterParty"]
    assert party["identifier"] == "556036-0793"
    assert party["counterPartyAddress"]["country"] == "SWEDEN"
    # A valid Finnish Y-tunnus is not a valid Swedish orgnr.
    bad = invoice(receiverVatNumber="2617416-4", receiverAddress=se_address)
    assert only(errors(bad, sett=settings("SE")), "ERROR_BRN_CODE")


def test_missing_business_id_is_allowed():
    party = body(invoice(receiverVatNumber=None), cust=customer(vatNumber=None))["counterParty"]
    assert "identifier" not in party


def test_customer_number_from_the_customer_card():
    assert body(cust=customer(number=1007))["counterParty"]["customerNumber"] == "1007"
    err = only(errors(cust=customer(number=None)), "MISSING_CUSTOMER_NUMBER")[0]
    assert err.field == "counterParty.customerNumber"


def test_counterparty_address_from_the_invoice():
    address = body()["counterParty"]["counterPartyAddress"]
    assert address == {"name": "Asiakas Oy", "street": "Mannerheimintie 1", "zip": "00100",
                       "city": "Helsinki", "country": "FINLAND"}  # fmt: skip


def test_address_without_country_uses_the_company_country():
    inv = invoice(receiverAddress={"addressline": "Katu 1", "postalCode": "00100", "city": "Helsinki"})
    assert body(inv)["counterParty"]["counterPartyAddress"]["country"] == "FINLAND"


def test_unknown_country_is_a_data_error():
    inv = invoice(receiverAddress={"addressline": "K 1", "postalCode": "1", "city": "X", "country": "Atlantis"})
    err = only(errors(inv), "UNKNOWN_COUNTRY")[0]
    assert err.field == "counterParty.counterPartyAddress.country" and err.value == "Atlantis"


def test_invoice_without_address_falls_back_to_customer_postal_address():
    address = body(invoice(receiverAddress=None))["counterParty"]["counterPartyAddress"]
    assert (address["street"], address["zip"], address["city"]) == ("Mannerheimintie 1", "00100", "Helsinki")


def test_multiline_address_line_goes_to_specifier_and_street():
    inv = invoice(receiverAddress={"addressline": "c/o Talo\nKatu 5", "postalCode": "00100", "city": "Hki"})
    address = body(inv)["counterParty"]["counterPartyAddress"]
    assert address["specifier"] == "c/o Talo" and address["street"] == "Katu 5"


@pytest.mark.parametrize(
    ("key", "severa_key", "limit"),
    [("name", "receiverCustomerName", 80), ("street", "addressline", 80), ("city", "city", 40),
     ("zip", "postalCode", 20)],
)  # fmt: skip
def test_address_limits_at_the_boundary(key, severa_key, limit):
    def with_value(value):
        if severa_key == "receiverCustomerName":
            return invoice(receiverCustomerName=value)
        address = dict(invoice()["receiverAddress"])
        address[severa_key] = value
        return invoice(receiverAddress=address)

    assert body(with_value("x" * limit))["counterParty"]["counterPartyAddress"][key] == "x" * limit
    err = only(errors(with_value("x" * (limit + 1))), f"SIZE_MUST_BE_BETWEEN_0_AND_{limit}")[0]
    assert err.field == f"counterParty.counterPartyAddress.{key}"
    assert err.value == "x" * (limit + 1)


# --- invoice header ---------------------------------------------------------------------------------


def test_type_is_sales_invoice_and_status_is_not_sent():
    result = body()
    assert result["type"] == "SALES_INVOICE"
    assert "status" not in result


def test_original_invoice_number_is_severa_number():
    assert body(invoice(10034))["originalInvoiceNumber"] == "10034"


def test_invoice_without_number_is_refused():
    err = only(errors(invoice(None)), "MISSING_INVOICE_NUMBER")[0]
    assert err.field == "originalInvoiceNumber"


def test_date_and_due_date():
    result = body()
    assert result["date"] == "2026-11-20"
    assert result["paymentInfo"]["dueDate"] == "2026-12-04"


def test_order_reference_limit_70():
    assert body(invoice(orderNumber="o" * 70))["orderReference"] == "o" * 70
    err = only(errors(invoice(orderNumber="o" * 71)), "SIZE_MUST_BE_BETWEEN_0_AND_70")[0]
    assert err.field == "orderReference"
    assert "orderReference" not in body(invoice(orderNumber=None))


def test_additional_information_has_references_notes_and_free_texts_in_order():
    info = body()["additionalInformation"]
    assert info.split("\n") == ["Viitteemme: Maija", "Viitteenne: Teppo", "Kiitos tilauksesta", "Above rows",
                                "Below rows"]  # fmt: skip


def test_additional_information_labels_follow_the_language():
    english = invoice(language={"code": "en-GB", "name": "English"})
    assert body(english)["additionalInformation"].startswith("Our reference: Maija\nYour reference: Teppo")


def test_additional_information_limit_10000():
    fits = invoice(ourReference=None, yourReference=None, freeText1=None, freeText2=None, notes="n" * 10_000)
    assert len(body(fits)["additionalInformation"]) == 10_000
    over = invoice(ourReference=None, yourReference=None, freeText1=None, freeText2=None, notes="n" * 10_001)
    assert only(errors(over), "SIZE_MUST_BE_BETWEEN_0_AND_10000")[0].field == "additionalInformation"


def test_no_additional_information_when_all_empty():
    inv = invoice(ourReference=None, yourReference="", notes=None, freeText1=None, freeText2={"value": " "})
    assert "additionalInformation" not in body(inv)


@pytest.mark.parametrize(("days", "code"), [(0, None), (999, None), (1000, "PAYMENT_TERM_OUT_OF_RANGE"),
                                             (-1, "DUE_DATE_BEFORE_BILL_DATE")])  # fmt: skip
def test_payment_term_between_0_and_999_days(days, code):
    from datetime import date, timedelta

    due = (date(2026, 11, 20) + timedelta(days=days)).isoformat()
    errs = errors(invoice(dueDate=due))
    if code is None:
        assert errs == []
    else:
        assert only(errs, code)[0].field == "paymentInfo.dueDate"


def test_penalty_percent_at_scale_2():
    assert body(invoice(overdueInterest=7.456))["penaltyPercent"] == Decimal("7.46")
    assert body(invoice(overdueInterest=None))["penaltyPercent"] == 0.0


def test_currency_and_rate():
    assert body()["paymentInfo"]["currency"] == "EUR" and body()["paymentInfo"]["currencyRate"] == 1.0
    usd = invoice(currency={"guid": "x", "code": "USD"}, currencyRate=1.08)
    assert body(usd)["paymentInfo"]["currency"] == "USD" and body(usd)["paymentInfo"]["currencyRate"] == Decimal("1.08")
    assert only(errors(invoice(currency={"guid": "x", "code": "USD"}, currencyRate=0)), "INVALID_FIELD")


def test_bank_account_validated_as_iban():
    assert body(bank_account="FI21 1234 5600 0007 85")["paymentInfo"]["bankAccount"] == {"accountNumber": IBAN_FI}
    err = only(errors(bank_account="FI2112345600000786"), "INVALID_BANK_ACCOUNT")[0]
    assert err.field == "paymentInfo.bankAccount.accountNumber"
    assert "bankAccount" not in body()["paymentInfo"]


def test_payment_method_and_generated_reference():
    info = body()["paymentInfo"]
    assert info["paymentMethod"] == "BANK_TRANSFER" and info["bankReferenceCode"] == ""


def test_extra_info_accounting_by_row_for_dimensions():
    assert body()["extraInfo"] == {"accountingByRow": True, "unitPricesIncludeVat": False}
    assert body()["vatStatus"] == 1 and body(vat_status=9)["vatStatus"] == 9  # 1: the settings' default


# --- language ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "expected"),
    [({"code": "fi"}, "FINNISH"), ({"code": "fi-FI"}, "FINNISH"), ({"code": "sv-SE"}, "SWEDISH"),
     ({"code": "en-US"}, "ENGLISH"), ({"code": "et"}, "ESTONIAN"), ({"code": "nb-NO"}, "NORWEGIAN"),
     ({"code": "da"}, "DANISH"), ({"name": "suomi"}, "FINNISH"), ({"englishName": "Swedish"}, "SWEDISH"),
     ({"name": "Dansk"}, "DANISH"), ("norsk", "NORWEGIAN"), ({"code": "de-DE"}, None), (None, None)],
)  # fmt: skip
def test_language_mapping(language, expected):
    assert to_procountor_language(language) == expected


def test_unsupported_language_is_a_data_error_and_missing_uses_company_language():
    err = only(errors(invoice(language={"code": "de-DE", "englishName": "German"})), "UNSUPPORTED_LANGUAGE")[0]
    assert err.field == "language" and err.value == "German"
    assert body(invoice(language=None))["language"] == "FINNISH"
    se = invoice(language=None, receiverVatNumber=None)
    assert body(se, cust=customer(vatNumber=None), sett=settings("SE"))["language"] == "SWEDISH"


# --- invoice channel --------------------------------------------------------------------------------


def test_channel_electronic_invoice_when_customer_has_einvoice_data():
    cust = customer(eInvoiceAddress="003726174164", eInvoiceOperator="003721291126",
                    organizationUnitNumber="003726174164")  # fmt: skip
    result = body(cust=cust)
    assert result["invoiceChannel"] == "ELECTRONIC_INVOICE"
    assert result["counterParty"]["einvoiceAddress"] == {
        "address": "003726174164", "operator": "003721291126", "ediId": "003726174164"
    }  # fmt: skip
    assert result["billingAddress"] == result["counterParty"]["counterPartyAddress"]


def test_einvoice_wins_over_email_even_with_send_by_email():
    cust = customer(eInvoiceAddress="003726174164", eInvoiceOperator="OP", email="a@b.fi")
    assert body(cust=cust)["invoiceChannel"] == "ELECTRONIC_INVOICE"


def test_einvoice_without_operator_in_finland_is_an_error():
    err = only(errors(cust=customer(eInvoiceAddress="003726174164")), "MISSING_EINVOICE_OPERATOR")[0]
    assert err.field == "counterParty.einvoiceAddress.operator"


def test_einvoice_needs_street_zip_city():
    cust = customer(eInvoiceAddress="003726174164", eInvoiceOperator="OP", addresses=[])
    inv = invoice(receiverAddress={"addressline": "Katu 1", "postalCode": None, "city": "Hki"})
    err = only(errors(inv, cust=cust), "MISSING_ADDRESS")
    assert [e.field for e in err] == ["counterParty.counterPartyAddress.zip"]


def test_channel_email_from_selected_contact_first():
    result = body(contact_email="contact@asiakas.fi", cust=customer(email="card@asiakas.fi"))
    assert result["invoiceChannel"] == "EMAIL"
    assert result["counterParty"]["email"] == "contact@asiakas.fi"


def test_channel_email_from_invoice_receiver_contact_then_customer_card():
    result = body(invoice(receiverContactEmail="receiver@asiakas.fi"), cust=customer(email="card@asiakas.fi"))
    assert result["counterParty"]["email"] == "receiver@asiakas.fi"
    result = body(cust=customer(email="card@asiakas.fi"))
    assert result["invoiceChannel"] == "EMAIL" and result["counterParty"]["email"] == "card@asiakas.fi"


def test_channel_mail_when_send_by_email_is_off_even_with_email():
    sett = settings(sales_invoices={"send_by_email": False})
    result = body(cust=customer(email="card@asiakas.fi"), sett=sett)
    assert result["invoiceChannel"] == "MAIL"
    assert result["counterParty"]["email"] == "card@asiakas.fi"  # kept where present


def test_channel_mail_when_no_email_anywhere():
    assert body()["invoiceChannel"] == "MAIL"


def test_invalid_email_for_email_channel_is_an_error():
    err = only(errors(cust=customer(email="not-an-email")), "INVALID_EMAIL")[0]
    assert err.field == "counterParty.email" and err.value == "not-an-email"


@pytest.mark.parametrize("missing", ["addressline", "postalCode", "city"])
def test_mail_needs_street_zip_city(missing):
    address = dict(invoice()["receiverAddress"])
    address[missing] = None
    field = {"addressline": "street", "postalCode": "zip", "city": "city"}[missing]
    errs = only(errors(invoice(receiverAddress=address)), "MISSING_ADDRESS")
    assert [e.field for e in errs] == [f"counterParty.counterPartyAddress.{field}"]
    assert errs[0].solution == SOLUTIONS["MISSING_ADDRESS"]


def test_email_channel_does_not_need_postal_address():
    inv = invoice(receiverAddress={"country": "Finland"})
    assert body(inv, cust=customer(email="a@b.fi", addresses=[]))["invoiceChannel"] == "EMAIL"


# --- rows -------------------------------------------------------------------------------------------


def test_rows_map_code_name_quantity_unit_price_vat():
    first, second, third = body()["invoiceRows"]
    assert first == {"productCode": "DEV", "product": "Development work", "quantity": 7.5, "unit": "HOUR",
                     "unitPrice": 100.0, "discountPercent": 0, "vatPercent": 25.5}  # fmt: skip
    assert (second["productCode"], second["unit"]) == ("LIC-ANNUAL", "PIECE")
    assert (third["productCode"], third["unit"], third["unitPrice"]) == ("KM-ALLOWANCE", "KILOMETER", Decimal("0.59"))


def test_rows_follow_severa_sort_order():
    result = body(rws=[row("ProjectFees", 2), row("Hours", 1)])
    assert [r["productCode"] for r in result["invoiceRows"]] == ["DEV", "LIC-ANNUAL"]


def test_code_from_enriched_source_item():
    enriched = row("Hours", 1, code=None, workType={"guid": "g", "name": "Design", "code": "DESIGN"})
    assert body(rws=[enriched])["invoiceRows"][0]["productCode"] == "DESIGN"
    explicit = row("Hours", 1, productCode="PM")
    assert body(rws=[explicit])["invoiceRows"][0]["productCode"] == "PM"


@pytest.mark.parametrize(
    ("kind", "default"),
    [("Hours", "DEFAULT-WORK"), ("ProjectFees", "DEFAULT-PRODUCT"), ("TravelExpenses", "DEFAULT-TRAVEL"),
     ("FlatRate", "DEFAULT-PRODUCT")],
)  # fmt: skip
def test_codeless_rows_use_the_default_of_their_kind(kind, default):
    assert body(rws=[row(kind, 1, code=None)])["invoiceRows"][0]["productCode"] == default
    assert body(rws=[row(kind, 1, code=[""])])["invoiceRows"][0]["productCode"] == default


def test_default_code_missing_from_procountor_is_an_error():
    err = only(errors(rws=[row("Hours", 1, code=None)], known_product_codes={"DEV"}), "MISSING_DEFAULT_CODE")[0]
    assert err.field == "invoiceRows[0].productCode" and err.value == "DEFAULT-WORK"


def test_unknown_code_allowed_when_products_are_created():
    assert errors(rws=[row("Hours", 1, code=["TRAINING"])]) == []
    sett = settings(create_products=False)
    err = only(errors(rws=[row("Hours", 1, code=["TRAINING"])], sett=sett), "MISSING_PRODUCT_CODE")[0]
    assert err.field == "invoiceRows[0].productCode" and err.value == "TRAINING"


def test_unknown_travel_code_is_an_error_even_when_products_are_created():
    err = only(errors(rws=[row("TravelExpenses", 1, code=["KM-2025"])]), "MISSING_PRODUCT_CODE")[0]
    assert err.value == "KM-2025"


def test_no_code_check_without_known_codes():
    assert errors(rws=[row("TravelExpenses", 1, code=["KM-2025"])], known_product_codes=None) == []


def test_product_name_limit_100_names_the_row():
    ok = [row("Hours", 1), row("ProjectFees", 2, description="p" * 100)]
    assert body(rws=ok)["invoiceRows"][1]["product"] == "p" * 100
    bad = [row("Hours", 1), row("ProjectFees", 2), row("ProjectFees", 3, description="p" * 130)]
    err = only(errors(rws=bad), "SIZE_MUST_BE_BETWEEN_0_AND_100")[0]
    assert err.field == "invoiceRows[2].product"
    assert err.solution == SOLUTIONS["SIZE_MUST_BE_BETWEEN_0_AND_100"]
    with pytest.raises(TransferDataError) as raised:
        body(rws=bad)
    assert raised.value.field == "invoiceRows[2].product"


def test_row_comment_limit_512():
    assert body(rws=[row("Hours", 1, comment="c" * 512)])["invoiceRows"][0]["comment"] == "c" * 512
    err = only(errors(rws=[row("Hours", 1, comment="c" * 513)]), "SIZE_MUST_BE_BETWEEN_0_AND_512")[0]
    assert err.field == "invoiceRows[0].comment"


def test_product_code_limit_40():
    assert body(rws=[row("Hours", 1, code=["C" * 40])])["invoiceRows"][0]["productCode"] == "C" * 40
    err = only(errors(rws=[row("Hours", 1, code=["C" * 41])]), "SIZE_MUST_BE_BETWEEN_0_AND_40")[0]
    assert err.field == "invoiceRows[0].productCode"


def test_unknown_unit_is_an_error_and_empty_unit_is_no_unit():
    err = only(errors(rws=[row("Hours", 1, measurementUnit="furlong")]), "UNKNOWN_UNIT")[0]
    assert err.field == "invoiceRows[0].unit" and err.value == "furlong"
    assert body(rws=[row("FlatRate", 1)])["invoiceRows"][0]["unit"] == "NO_UNIT"


def test_row_without_vat_rate_or_description_is_an_error():
    assert only(errors(rws=[row("Hours", 1, vatRate=None)]), "INVALID_FIELD")[0].field == "invoiceRows[0].vatPercent"
    assert only(errors(rws=[row("Hours", 1, description=" ")]), "INVALID_FIELD")[0].field == "invoiceRows[0].product"


def test_invoice_without_rows_is_an_error():
    assert only(errors(rws=[]), "INVALID_FIELD")[0].field == "invoiceRows"


def test_characters_outside_windows_1252_are_refused_with_the_field():
    err = only(errors(rws=[row("Hours", 1, description="Kehitys ✓")]), "INVALID_CHARACTERS")[0]
    assert err.field == "invoiceRows[0].product"
    # Finnish and Swedish letters and the euro sign are in Windows-1252.
    assert errors(rws=[row("Hours", 1, description="Äö å € työ")]) == []


# --- credit notes -----------------------------------------------------------------------------------


def credit_note(**changes):
    return invoice(10012, isCreditNote=True, reimburseInvoice={"guid": "g", "number": 10001}, **changes)


def test_credit_note_is_a_negative_sales_invoice_referencing_the_original():
    negative = [row("Hours", 1, quantity=-7.5), row("ProjectFees", 2, quantity=-1)]
    result = body(credit_note(), rws=negative, original_procountor_invoice_number=5)
    assert result["type"] == "SALES_INVOICE"
    assert [r["quantity"] for r in result["invoiceRows"]] == [-7.5, -1]
    assert result["additionalInformation"].endswith("Hyvityslasku laskulle 10001")
    assert result["notes"] == "Severa credit note 10012 for Severa invoice 10001 (Procountor invoice 5)"
    assert result["originalInvoiceNumber"] == "10012"


def test_credit_note_with_positive_rows_gets_negative_quantities():
    result = body(credit_note(), rws=[row("Hours", 1), row("ProjectFees", 2)])
    total = sum(r["quantity"] * r["unitPrice"] for r in result["invoiceRows"])
    assert total < 0
    assert [r["quantity"] for r in result["invoiceRows"]] == [-7.5, -1]


def test_ordinary_invoice_keeps_signs():
    result = body(rws=[row("Hours", 1), row("ProjectFees", 2, quantity=-1, description="Discount")])
    assert [r["quantity"] for r in result["invoiceRows"]] == [7.5, -1]
    assert "notes" not in result


# --- fiscal periods and input errors ----------------------------------------------------------------

FISCAL_YEARS = [
    {"id": 3, "startDate": "2027-01-01", "endDate": "2027-12-31", "isOpen": True, "trackingPeriods": []},
    {"id": 2, "startDate": "2026-01-01", "endDate": "2026-12-31", "isOpen": True,
     "trackingPeriods": [{"id": 21, "startDate": "2026-01-01", "endDate": "2026-01-31", "status": "CLOSED"},
                         {"id": 22, "startDate": "2026-02-01", "endDate": "2026-12-31", "status": "OPEN"}]},
    {"id": 1, "startDate": "2025-01-01", "endDate": "2025-12-31", "isOpen": False, "trackingPeriods": []},
]  # fmt: skip


@pytest.mark.parametrize(
    ("day", "closed"),
    [("2025-12-15", True), ("2026-01-31", True), ("2026-02-01", False), ("2027-06-01", False),
     ("2024-06-01", True)],
)  # fmt: skip
def test_closed_fiscal_period_pre_check(day, closed):
    errs = errors(invoice(date=day, dueDate=day), fiscal_years=FISCAL_YEARS)
    codes = [e.code for e in errs]
    assert ("CLOSED_FISCAL_PERIOD" in codes) is closed
    if closed:
        err = only(errs, "CLOSED_FISCAL_PERIOD")[0]
        assert err.field == "date" and err.solution == SOLUTIONS["CLOSED_FISCAL_PERIOD"]


def test_missing_or_mistyped_severa_field_names_record_and_field():
    broken = invoice()
    del broken["date"]
    [err] = errors(broken)
    assert (err.code, err.record, err.field) == ("INVALID_FIELD", "sales invoice 10002", "invoice.date")
    [err] = errors(rws=[row("Hours", 1, quantity="lots")])
    assert err.field == "rows[0].quantity" and err.value == "lots"


def test_all_errors_are_collected_and_map_raises_the_first():
    bad = invoice(receiverVatNumber="123", orderNumber="o" * 71)
    errs = errors(bad, rws=[row("Hours", 1, description="x" * 101)])
    assert [e.code for e in errs] == ["ERROR_BRN_CODE", "SIZE_MUST_BE_BETWEEN_0_AND_70",
                                      "SIZE_MUST_BE_BETWEEN_0_AND_100"]  # fmt: skip
    with pytest.raises(TransferDataError) as raised:
        body(bad, rws=[row("Hours", 1, description="x" * 101)])
    assert raised.value.code == "ERROR_BRN_CODE"


def test_mapping_does_not_mutate_its_inputs():
    import copy

    inv, rws, cust = invoice(), rows(), customer()
    before = copy.deepcopy((inv, rws, cust))
    body(inv, rws, cust)
    assert (inv, rws, cust) == before

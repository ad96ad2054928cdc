"""Private customers: a Finnish henkilötunnus or a Swedish personnummer is the customer's identifier (the seed's
"Business ID or national identification number"), with the identifierType Procountor expects on the business
partner (HETU, PN: the brnType enum of procountor-api.md §7), and never in clear in errors, events or logs."""

from __future__ import annotations

import pytest
import structlog
from mapping_builders import KNOWN_CODES, customer, invoice, rows, settings

from foundation.logs import configure, redact_text
from foundation.privacy import masked_error
from streams.mapping import (
    TransferDataError,
    customer_to_business_partner,
    map_sales_invoice,
    validate_sales_invoice,
)

HETU = "131052-308T"  # the example of the Finnish Digital and Population Data Services Agency
PERSONNUMMER = "19811218-9876"  # Skatteverket's example
SE_ADDRESS = {"addressline": "Kungsgatan 2", "postalCode": "111 43", "city": "Stockholm", "isPostalAddress": True,
              "country": {"name": "Sverige", "englishName": "Sweden"}}  # fmt: skip


def se_customer(number: int = 2101, **changes):
    changes.setdefault("vatNumber", PERSONNUMMER)
    return customer(number, name="Sven Svensson", language={"code": "sv"}, currency={"code": "SEK"},
                    addresses=[SE_ADDRESS], **changes)


def sales_body(inv, cust, company="FI"):
    return map_sales_invoice(inv, rows(company), cust, settings(company), known_product_codes=KNOWN_CODES)


def test_finnish_personal_identity_code_is_the_counterparty_identifier():
    person = customer(1101, name="Maija Meikäläinen", vatNumber=HETU)
    party = sales_body(invoice(receiverVatNumber=None), person)["counterParty"]
    assert party["identifier"] == HETU
    # Lower-case check character as typed: the standard form.
    party = sales_body(invoice(receiverVatNumber="131052-308t"), person)["counterParty"]
    assert party["identifier"] == HETU


@pytest.mark.parametrize("typed", ["19811218-9876", "811218-9876", "8112189876", "198112189876"])
def test_swedish_personal_number_is_the_counterparty_identifier_in_one_form(typed):
    se_invoice = invoice(receiverVatNumber=typed, receiverAddress={**SE_ADDRESS, "country": "Sweden"})
    party = sales_body(se_invoice, se_customer(), "SE")["counterParty"]
    assert party["identifier"] == PERSONNUMMER


def test_business_partner_of_a_private_customer_carries_the_identifier_type():
    fi = customer_to_business_partner(customer(1101, name="Maija Meikäläinen", vatNumber=HETU), "FI")
    assert fi["invoicingInfo"]["identifier"] == HETU and fi["invoicingInfo"]["identifierType"] == "HETU"
    se = customer_to_business_partner(se_customer(vatNumber="811218-9876"), "SE")
    assert se["invoicingInfo"]["identifier"] == PERSONNUMMER and se["invoicingInfo"]["identifierType"] == "PN"


def test_business_partner_of_a_company_has_no_identifier_type():
    partner = customer_to_business_partner(customer(1009), "FI")
    assert partner["invoicingInfo"]["identifier"] == "2617416-4" and "identifierType" not in partner["invoicingInfo"]


def test_a_swedish_company_number_is_not_taken_for_a_personal_number():
    partner = customer_to_business_partner(se_customer(vatNumber="556036-0793"), "SE")
    assert partner["invoicingInfo"]["identifier"] == "556036-0793"
    assert "identifierType" not in partner["invoicingInfo"]


def test_a_personal_code_of_the_other_country_is_still_refused():
    # A henkilötunnus on a Swedish customer is not a Swedish identifier: the seed's ERROR_BRN_CODE.
    errs = validate_sales_invoice(invoice(receiverVatNumber=HETU, receiverAddress={**SE_ADDRESS, "country": "Sweden"}),
                                  rows("SE"), se_customer(), settings("SE"), known_product_codes=KNOWN_CODES)
    assert "ERROR_BRN_CODE" in [e.code for e in errs]


def test_a_mistyped_personal_code_is_refused_and_the_event_does_not_carry_it():
    typo = "131052-308X"  # wrong check character
    with pytest.raises(TransferDataError) as raised:
        sales_body(invoice(receiverVatNumber=typo), customer(1101, vatNumber=typo))
    error = raised.value
    assert error.code == "ERROR_BRN_CODE" and error.field == "counterParty.identifier"
    event = error.to_dict()
    assert typo not in str(event) and "131052" not in str(event)
    assert event["record"] == "sales invoice 10002" and event["value"] == "******-****"


def test_read_models_mask_a_personal_code_in_errors_published_before():
    old = {"code": "ERROR_BRN_CODE", "field": "counterParty.identifier", "value": "811218-9876",
           "message": "ERROR_BRN_CODE (counterParty.identifier): 811218-9876", "solution": "Correct it."}
    shown = masked_error(old)
    assert "9876" not in str(shown) and shown["solution"] == "Correct it."


def test_business_ids_invoice_numbers_and_ibans_are_not_masked():
    text = "sales invoice 10002 of 2617416-4, orgnr 556036-0793, FI2112345600000785, phone 0401234567"
    assert redact_text(text) == text


def test_exception_texts_and_log_lines_do_not_carry_a_personal_code(capsys):
    assert PERSONNUMMER not in redact_text(f"HTTPStatusError: 400 identifier {PERSONNUMMER} refused")
    configure()
    try:
        structlog.get_logger("test").warning("partner search", identifier=HETU, note=f"for {HETU}", number=1101)
    finally:
        structlog.reset_defaults()
    line = capsys.readouterr().out
    assert "partner search" in line and "1101" in line
    assert HETU not in line and "131052" not in line

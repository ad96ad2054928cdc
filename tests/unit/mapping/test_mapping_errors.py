"""The error catalogue and the classification of Procountor's API errors."""

from __future__ import annotations

import pytest

from streams.mapping.errors import (
    SOLUTIONS,
    TransferDataError,
    classify_procountor_error,
    registry_mismatch,
    solution_for,
)

SEED = {
    "CLOSED_FISCAL_PERIOD": "The invoice is attempted to be transferred to a closed fiscal period. Check the "
    "invoice date in Severa and the fiscal period in Procountor and try the invoice transfer again.",
    "ERROR_BRN_CODE": "The customer's business ID on the invoice is in an incorrect format. Correct the "
    "business ID on Severa's customer card and try the invoice transfer again.",
    "SIZE_MUST_BE_BETWEEN_0_AND_100": "The invoice contains rows where the maximum character count has been "
    "exceeded. Check the field-specific restrictions in the table above and correct the information on the "
    "invoice.",
    "REGISTRY_MISMATCH": "The customer cannot be transferred if a customer with the same name and customer "
    "number but a different business ID is found in Procountor. Check the formatting of the business ID and "
    "correct the information to match between the systems.",
}


@pytest.mark.parametrize("code", sorted(SEED))
def test_seed_solutions_are_verbatim(code):
    assert SOLUTIONS[code] == SEED[code]


def test_every_catalogue_solution_says_what_to_do():
    for code, text in SOLUTIONS.items():
        assert len(text) > 40, code
        assert text.endswith("."), code


def test_other_size_codes_name_their_limit():
    assert "(80)" in solution_for("SIZE_MUST_BE_BETWEEN_0_AND_80")
    assert solution_for("SIZE_MUST_BE_BETWEEN_0_AND_100") == SEED["SIZE_MUST_BE_BETWEEN_0_AND_100"]
    assert solution_for("SOMETHING_NEW") == SOLUTIONS["UNKNOWN"]


def test_transfer_data_error_to_dict_matches_the_event_schema():
    error = TransferDataError(
        "SIZE_MUST_BE_BETWEEN_0_AND_100", record="sales invoice 10008", field="invoiceRows[2].product",
        value="x" * 130,
    )  # fmt: skip
    data = error.to_dict()
    assert set(data) == {"code", "kind", "record", "field", "value", "message", "solution"}
    assert data["kind"] == "data" and data["record"] == "sales invoice 10008"
    assert data["field"] == "invoiceRows[2].product" and data["value"] == "x" * 130
    assert "130 characters, at most 100" in data["message"]
    assert data["solution"] == SEED["SIZE_MUST_BE_BETWEEN_0_AND_100"]
    assert all(v is None or isinstance(v, str) for v in data.values())
    assert str(error).startswith("sales invoice 10008: ")


def test_to_dict_stringifies_and_shortens_values():
    assert TransferDataError("INVALID_FIELD", record="r", field="f", value=12.5).to_dict()["value"] == "12.5"
    assert TransferDataError("INVALID_FIELD", record="r", field="f").to_dict()["value"] is None
    long = TransferDataError("INVALID_FIELD", record="r", field="f", value="y" * 20_000).to_dict()["value"]
    assert len(long) == 500


def test_registry_mismatch_uses_the_seed_message():
    error = registry_mismatch("Kallio Oy", 1005, record="sales invoice 10005")
    assert error.code == "REGISTRY_MISMATCH" and error.field == "counterParty.identifier"
    assert error.message == (
        "Could not add Kallio Oy to Procountor, because another partner Kallio Oy with the same number and "
        "different VAT number already exists there."
    )
    assert error.solution == SEED["REGISTRY_MISMATCH"]


@pytest.mark.parametrize(
    ("code", "field", "message", "status", "kind", "solution_code"),
    [
        ("CLOSED_FISCAL_PERIOD", "date", "CLOSED_FISCAL_PERIOD", 400, "data", "CLOSED_FISCAL_PERIOD"),
        ("ERROR_BRN_CODE", "counterParty.identifier", "ERROR_BRN_CODE", 400, "data", "ERROR_BRN_CODE"),
        ("SIZE_MUST_BE_BETWEEN_0_AND_100", "invoiceRows[2].product", "", 400, "data",
         "SIZE_MUST_BE_BETWEEN_0_AND_100"),
        ("UNABLE_TO_GET_CONNECTION", None, "UNABLE_TO_GET_CONNECTION", 400, "transient", "TRANSIENT"),
        ("", None, "500 Internal Server Error nginx", 500, "transient", "TRANSIENT"),
        ("", None, "API Timeout", None, "transient", "TRANSIENT"),
        ("", None, "rate", 429, "transient", "TRANSIENT"),
        ("Unauthorized", None, "Unauthorized", 401, "transient", "UNAUTHORIZED"),
        ("", "deliveryAddress.country", "Value of the 'deliveryAddress.country' cannot be blank.", 400,
         "data", "MISSING_ADDRESS"),
        ("MUST_NOT_BE_BLANK", "counterParty.counterPartyAddress.street", "", 400, "data", "MISSING_ADDRESS"),
        ("MUST_NOT_BE_BLANK", "counterParty.einvoiceAddress.operator", "", 400, "data",
         "MISSING_EINVOICE_OPERATOR"),
        ("MUST_NOT_BE_BLANK", "counterParty.email", "", 400, "data", "INVALID_EMAIL"),
        ("PRODUCT_NOT_FOUND", "invoiceRows[0].productCode", "", 400, "data", "MISSING_PRODUCT_CODE"),
        ("NO_FISCAL_YEAR", "date", "", 400, "data", "CLOSED_FISCAL_PERIOD"),
        ("FILE_SIZE_TOO_BIG", None, "", 400, "data", "BAD_ATTACHMENT"),
        ("OVT_NOT_ALLOWED", "counterParty.einvoiceAddress.ediId", "", 400, "data",
         "INVALID_EINVOICE_ADDRESS"),
        ("INVALID_BANK_ACCOUNT", "paymentInfo.bankAccount.accountNumber", "", 400, "data",
         "INVALID_BANK_ACCOUNT"),
        ("DIMENSION_OR_DIMENSION_ITEM_IDENTIFIERS_DOES_NOT_MATCH_THOSE_STORED_IN_DATABASE",
         "transactions[0].dimensionItemValues", "", 400, "data", "DIMENSION_MISMATCH"),
        ("ERROR_VATSTATUS_VATPERC", "invoiceRows[3].vatStatus", "", 400, "data", "ERROR_VATSTATUS_VATPERC"),
        ("", None, "Could not add X to Procountor, because another partner X with the same number and "
         "different VAT number already exists there.", 400, "data", "REGISTRY_MISMATCH"),
        ("SOME_NEW_VALIDATION_CODE", "x", "", 400, "data", "UNKNOWN"),
    ],
)  # fmt: skip
def test_classify_procountor_error(code, field, message, status, kind, solution_code):
    got_kind, solution = classify_procountor_error(code, field, message, status=status)
    assert got_kind == kind
    assert solution == SOLUTIONS[solution_code]


def test_classify_without_status_keyword():
    assert classify_procountor_error("ERROR_BRN_CODE", "counterParty.identifier", "ERROR_BRN_CODE") == (
        "data", SEED["ERROR_BRN_CODE"]
    )  # fmt: skip

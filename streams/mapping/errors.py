"""Data errors of a transfer, in the user's terms, and the classification of Procountor's API errors.

A data error names the record (``sales invoice 10008``), the Procountor field path
(``invoiceRows[2].product``), the offending value and what the user should fix. It is recorded in the
transfer log and left until the source changes; a transient error is retried. The solution texts for the
seed's four common error situations are quoted verbatim from the seed; the others are written in the same
voice (what happened, where to fix it in Severa, then "try the invoice transfer again").
"""

from __future__ import annotations

import re
from typing import Any, Literal

from foundation.i18n import translate
from foundation.privacy import mask_personal_codes

ErrorKind = Literal["data", "transient"]

# The seed's own solution texts ("Common error situations"), verbatim.
_SEED_CLOSED_FISCAL_PERIOD = (
    "The invoice is attempted to be transferred to a closed fiscal period. Check the invoice date in Severa "
    "and the fiscal period in Procountor and try the invoice transfer again."
)
_SEED_ERROR_BRN_CODE = (
    "The customer's business ID on the invoice is in an incorrect format. Correct the business ID on "
    "Severa's customer card and try the invoice transfer again."
)
_SEED_SIZE_100 = (
    "The invoice contains rows where the maximum character count has been exceeded. Check the "
    "field-specific restrictions in the table above and correct the information on the invoice."
)
_SEED_REGISTRY_MISMATCH = (
    "The customer cannot be transferred if a customer with the same name and customer number but a "
    "different business ID is found in Procountor. Check the formatting of the business ID and correct the "
    "information to match between the systems."
)

# Prefix of every solution that needs an edit of the invoice itself: the seed's general guideline.
_TO_DRAFT = "Move the invoice to draft status in Severa, "

SOLUTIONS: dict[str, str] = {
    "CLOSED_FISCAL_PERIOD": _SEED_CLOSED_FISCAL_PERIOD,
    "ERROR_BRN_CODE": _SEED_ERROR_BRN_CODE,
    "SIZE_MUST_BE_BETWEEN_0_AND_100": _SEED_SIZE_100,
    "REGISTRY_MISMATCH": _SEED_REGISTRY_MISMATCH,
    "MISSING_CUSTOMER": (
        "The customer was not found in Procountor's customer registry and customer creation is not enabled. "
        "Add the customer to Procountor with the same customer number as in Severa, or enable customer "
        "creation in the integration settings, and try the invoice transfer again."
    ),
    "MISSING_CUSTOMER_NUMBER": (
        "The customer has no customer number in Severa. Customers are matched to Procountor's business "
        "partners by customer number only. Add the customer number on Severa's customer card and try the "
        "invoice transfer again."
    ),
    "MISSING_PRODUCT_CODE": (
        "The invoice contains a product, work type or travel expense code that was not found in Procountor's "
        "product registry. Check that the codes match between the systems (travel expense codes change "
        "yearly and must be updated to Severa), or enable product creation in the integration settings, and "
        "try the invoice transfer again."
    ),
    "MISSING_DEFAULT_CODE": (
        "The default code defined in the integration settings was not found in Procountor's product "
        "registry. Add the default code to Procountor's product registry (travel expense defaults to the "
        "travel expense registry) or change the default code in the settings, and try the invoice transfer "
        "again."
    ),
    "MISSING_ADDRESS": (
        "The customer's address information is incomplete. Fill in the street address, postal code, city and "
        "country on Severa's customer card, select the Postal address checkbox for the address, and try "
        "the invoice transfer again."
    ),
    "MISSING_SALES_ACCOUNT": (
        "The invoice row's sales account was not found in Procountor's chart of accounts, or is not active "
        "there. Sales account numbers must match between the systems: add the account to Procountor's chart of "
        "accounts (or activate it), or correct the sales account of the product, work type or travel expense "
        "in Severa, and try the invoice transfer again."
    ),
    "MISSING_EINVOICE_OPERATOR": (
        "The customer has an e-invoice address but no e-invoice operator. Fill in the operator on Severa's "
        "customer card and try the invoice transfer again."
    ),
    "INVALID_EINVOICE_ADDRESS": (
        "The customer's e-invoice information is not accepted by Procountor (the OVT identifier is only "
        "allowed for Finnish companies). Correct the e-invoice address, operator and OVT on Severa's "
        "customer card and try the invoice transfer again."
    ),
    "INVALID_EMAIL": (
        "The email address used for sending the invoice is not valid. Correct the email address of the "
        "customer contact or on Severa's customer card and try the invoice transfer again."
    ),
    "MISSING_INVOICE_NUMBER": (
        "The invoice has no invoice number in Severa. Select the Invoice number setting for the invoice "
        "status from which invoices are transferred, and try the invoice transfer again."
    ),
    "INVALID_BANK_ACCOUNT": (
        "The company's bank account is not a valid IBAN. Edit the bank account number to IBAN format in "
        "Severa (Settings > Organization > Bank accounts) and try the invoice transfer again."
    ),
    "DUE_DATE_BEFORE_BILL_DATE": (
        _TO_DRAFT + "correct the due date so that it is on or after the invoice date, and try the invoice "
        "transfer again."
    ),
    "PAYMENT_TERM_OUT_OF_RANGE": (
        _TO_DRAFT + "correct the due date: the payment term can be between 0-999 days. Then try the invoice "
        "transfer again."
    ),
    "UNSUPPORTED_LANGUAGE": (
        _TO_DRAFT + "change the invoice language to English, Finnish, Swedish, Estonian, Norwegian or Danish "
        "(the languages Procountor supports), and try the invoice transfer again."
    ),
    "MISSING_QUANTITY": (
        _TO_DRAFT + "fill in the quantity of the row named in the error, and try the invoice transfer again. "
        "The integration never sends a row without its quantity."
    ),
    "MISSING_PRICE": (
        _TO_DRAFT + "fill in the unit price of the row named in the error (0 if the row is free of charge), and "
        "try the invoice transfer again. The integration never takes a missing price for 0."
    ),
    "UNKNOWN_UNIT": (
        _TO_DRAFT + "change the unit of the invoice row to a unit Procountor knows (for example h, pcs, km, "
        "day, month), and try the invoice transfer again."
    ),
    "UNKNOWN_COUNTRY": (
        "The country of the customer's address is not recognised. Select the country from the list on "
        "Severa's customer card and try the invoice transfer again."
    ),
    "INVALID_CHARACTERS": (
        "The invoice contains special characters that Procountor does not accept (only the Windows-1252 "
        "character set is allowed). " + _TO_DRAFT + "remove the characters from the field named in the "
        "error, and try the invoice transfer again."
    ),
    "BAD_ATTACHMENT": (
        "The attachment cannot be transferred. Sales and travel invoice attachments must be in GIF, JPEG or "
        "PDF format and at most 10 MB. Replace the attachment in Severa and try the invoice transfer again."
    ),
    "INVALID_FIELD": (_TO_DRAFT + "correct the field named in the error, and try the invoice transfer again."),
    "DIMENSION_MISMATCH": (
        "The dimension or dimension item was not found in Procountor. Check that the dimension names in the "
        "integration settings match Procountor's dimensions exactly and that the item is not closed, and try "
        "the invoice transfer again."
    ),
    "ERROR_VATSTATUS_VATPERC": (
        "The VAT rate of an invoice row is not in use in Procountor for this kind of sale. Check the VAT "
        "rate of the row (and the customer's VAT settings) in Severa against Procountor's VAT settings, and "
        "try the invoice transfer again."
    ),
    "ERROR_LEDGERACCOUNT_VATPERCENTAGE_COMBINATION": (
        "A sales account is not in Procountor's chart of accounts or does not allow the row's VAT rate. "
        "Check that the sales account numbers in Severa match Procountor's, and try the invoice "
        "transfer again."
    ),
    "TRANSIENT": (
        "Procountor could not be reached or did not answer in time. The transfer is retried automatically; "
        "no action is needed unless the error persists."
    ),
    "UNAUTHORIZED": (
        "Procountor refused the API credentials. Check the API key in the integration settings (and that the "
        "API user still has all rights); the transfer is retried automatically."
    ),
    "ALREADY_TRANSFERRED": (
        "The invoice was transferred to Procountor already and has been changed since. A transferred invoice is "
        "corrected with a credit note in Severa: credit the invoice in Severa and make a new one; both are "
        "transferred. The invoice in Procountor was left as it is."
    ),
    "DUPLICATE_ORIGINAL_NUMBER": (
        "Procountor has an invoice with this invoice's number as its original invoice number that this "
        "integration did not write (another customer or other amounts). Check that invoice in Procountor: if it "
        "was entered by hand, invalidate it (or correct its original invoice number), then transfer the invoice "
        "again."
    ),
    "SEVERA_UNAUTHORIZED": (
        "Severa refused the integration's API client. Check the client id and secret (SEVPRO_SEVERA_CLIENT_ID, "
        "SEVPRO_SEVERA_CLIENT_SECRET) and that the API client is still active in Severa's settings; the "
        "transfer is retried automatically."
    ),
    "SEVERA_FORBIDDEN": (
        "Severa refused a request for want of an API scope, add-on or right (the message names it). Grant the "
        "integration's API client the scope in Severa's settings; the transfer is retried automatically."
    ),
    "VAT_STATUS_NOT_CONFIGURED": (
        "The company's settings give no Procountor VAT status for this sale, or give one the Procountor "
        "environment does not have (the message names the company, the setting and the customer's Severa VAT "
        "code). Set sales_invoices.vat_status, or add the code to sales_invoices.vat_status_by_severa_vat_code, "
        "with a sales VAT status of the environment (Procountor: GET /vats/default); the transfer is retried "
        "automatically."
    ),
    "BANK_ACCOUNT_NOT_FOUND": (
        "The company's bank account for sales invoices was not found among its Procountor bank accounts (the "
        "message names the company and the setting). Set bank_account_iban (and bank_account_currency) in the "
        "company's integration settings to an active account of the Procountor environment, or mark one "
        "account 'default for invoices' in Procountor; the transfer is retried automatically."
    ),
    "PAYMENT_STATUS_NOT_FOUND": (
        "Severa has no invoice status with the name the company's payment settings give (the message names the "
        "company and the setting). Create the status in Severa, or set payments.paid_status (or "
        "payments.partly_paid_status) to an existing status; the payment is written back automatically."
    ),
    "MISSING_PAYMENT_DATE": (
        "Procountor shows the invoice paid but gives no payment date, so Severa was not updated. Check the "
        "invoice's payments in Procountor; the payment is written back when Procountor shows its date."
    ),
    "SEVERA_INVOICE_NOT_FOUND": (
        "The Severa invoice that was transferred to this Procountor invoice no longer exists in Severa, so the "
        "payment could not be recorded there. Record the payment in Severa by hand if the invoice was replaced."
    ),
    "UNKNOWN": (
        "Procountor refused the invoice. Check the error message and its content. If the error requires "
        "corrections to the invoice, move the invoice to draft status in Severa, make the necessary "
        "corrections and try the transfer again."
    ),
}

_SIZE_CODE = re.compile(r"^SIZE_MUST_BE_BETWEEN_(\d+)_AND_(\d+)$")


def size_code(maximum: int) -> str:
    """The error code Procountor uses for a string longer than ``maximum``."""
    return f"SIZE_MUST_BE_BETWEEN_0_AND_{maximum}"


def solution_for(code: str) -> str:
    """The user-facing fix for ``code``; every SIZE_MUST_BE_BETWEEN_* code gets a text naming its limit."""
    if code in SOLUTIONS:
        return SOLUTIONS[code]
    size = _SIZE_CODE.match(code)
    if size:
        return SIZE_SOLUTION.format(maximum=size.group(2))
    return SOLUTIONS["UNKNOWN"]


SIZE_SOLUTION = (
    "The invoice contains a field whose maximum character count ({maximum}) has been exceeded. Check the field "
    "named in the error and correct the information on the invoice."
)


def solution_text(code: str | None, solution: str | None, language: str | None = None) -> str:
    """A stored (English) solution in `language` (default: the current one); a text the catalogue does not know
    (written before its wording changed) stays as it is."""
    if not solution:
        return ""
    size = _SIZE_CODE.match(code or "")
    if size and solution == SIZE_SOLUTION.format(maximum=size.group(2)):
        return translate(SIZE_SOLUTION, language).format(maximum=size.group(2))
    return translate(solution, language)


class ConfigFailure(Exception):
    """The integration's configuration is refused or incomplete (credentials, scopes, API key; a company setting the
    record needs), not the record's data: fixed in the settings, retried on the next cycle. `field` names the
    company setting, where one is to blame."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field


class TransferDataError(Exception):
    """A record that cannot be transferred until the user fixes its data in the source system."""

    kind: ErrorKind = "data"

    def __init__(
        self,
        code: str,
        *,
        record: str,
        field: str | None,
        value: Any = None,
        message: str | None = None,
        solution: str | None = None,
    ) -> None:
        self.code = code
        self.record = record
        self.field = field
        self.value = value
        self.message = message or _default_message(code, field, value)
        self.solution = solution or solution_for(code)
        super().__init__(f"{record}: {self.message}")

    def to_dict(self) -> dict[str, str | None]:
        """The TransferError event record (schemas/transfer_error.avsc): every value a string or None; a
        private customer's personal identity code masked wherever it is named."""
        return {
            "code": self.code,
            "kind": self.kind,
            "record": self.record,
            "field": self.field,
            "value": None if self.value is None else mask_personal_codes(_short(str(self.value))),
            "message": mask_personal_codes(self.message),
            "solution": self.solution,
        }

    def __repr__(self) -> str:
        return f"TransferDataError({self.code!r}, record={self.record!r}, field={self.field!r})"


def _short(text: str, limit: int = 500) -> str:
    # A 10 000-character free text would bloat every event that carries the error; the field names it.
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _default_message(code: str, field: str | None, value: Any) -> str:
    where = f" ({field})" if field else ""
    size = _SIZE_CODE.match(code)
    if size and value is not None:
        return f"{code}{where}: {len(str(value))} characters, at most {size.group(2)} allowed"
    return f"{code}{where}"


def registry_mismatch(customer_name: str, customer_number: str | int, *, record: str) -> TransferDataError:
    """The partner clash: Procountor has this customer number with a different business ID."""
    return TransferDataError(
        "REGISTRY_MISMATCH",
        record=record,
        field="counterParty.identifier",
        value=customer_number,
        message=(
            f"Could not add {customer_name} to Procountor, because another partner {customer_name} with the "
            "same number and different VAT number already exists there."
        ),
    )


# Codes Procountor (or our sandbox of it) returns whose fix is one already in the catalogue.
_SAME_FIX = {
    "PRODUCT_NOT_FOUND": "MISSING_PRODUCT_CODE",
    "NO_FISCAL_YEAR": "CLOSED_FISCAL_PERIOD",
    "INVALID_FILE_TYPE": "BAD_ATTACHMENT",
    "INVALID_FILE_NAME": "BAD_ATTACHMENT",
    "FILE_SIZE_TOO_BIG": "BAD_ATTACHMENT",
    "FILE SIZE TOO BIG": "BAD_ATTACHMENT",
    "MUST_BE_A_WELL_FORMED_EMAIL_ADDRESS": "INVALID_EMAIL",
    "OVT_NOT_ALLOWED": "INVALID_EINVOICE_ADDRESS",
    "INVALID_OVT": "INVALID_EINVOICE_ADDRESS",
}
_BLANK = {"MUST_NOT_BE_BLANK", "MUST_NOT_BE_NULL", "MUST_NOT_BE_EMPTY"}

_TRANSIENT_CODES = {
    "UNABLE_TO_GET_CONNECTION", "API_TIMEOUT", "TIMEOUT", "INTERNAL_SERVER_ERROR", "TRANSIENT",
}  # fmt: skip
_TRANSIENT_WORDS = (
    "timeout",
    "timed out",
    "internal server error",
    "service unavailable",
    "bad gateway",
    "gateway time",
    "too many requests",
    "unable to get connection",
    "connection reset",
)
_DIMENSION_CODES = {"DIMENSION_OR_DIMENSION_ITEM_IDENTIFIERS_DOES_NOT_MATCH_THOSE_STORED_IN_DATABASE"}


def classify_procountor_error(
    code: str, field: str | None, message: str, *, status: int | None = None
) -> tuple[ErrorKind, str]:
    """Turn one Procountor API error (``errors[].message`` as ``code``, ``.field``) into (kind, solution).

    Transient: gateway/server failures, throttling and expired tokens, which a bounded retry may cure. Data:
    everything Procountor validated and refused, which only a change in the source data cures. An unknown
    validation code is data, not transient: retrying a refused body only repeats the refusal.
    """
    upper = (code or "").strip().upper()
    text = f"{code} {message}".lower()
    if status is not None and (status >= 500 or status == 429):
        return "transient", SOLUTIONS["TRANSIENT"]
    if status == 401 or upper == "UNAUTHORIZED":
        return "transient", SOLUTIONS["UNAUTHORIZED"]
    if upper in _TRANSIENT_CODES or any(word in text for word in _TRANSIENT_WORDS):
        return "transient", SOLUTIONS["TRANSIENT"]
    if "same number and different vat number" in text:
        return "data", SOLUTIONS["REGISTRY_MISMATCH"]
    if upper in _DIMENSION_CODES:
        return "data", SOLUTIONS["DIMENSION_MISMATCH"]
    if upper in _SAME_FIX:
        return "data", SOLUTIONS[_SAME_FIX[upper]]
    blank = upper in _BLANK or "cannot be blank" in text
    where = (field or "").lower()
    if blank and "address" in where and "einvoice" not in where:
        return "data", SOLUTIONS["MISSING_ADDRESS"]
    if blank and "einvoiceaddress.operator" in where:
        return "data", SOLUTIONS["MISSING_EINVOICE_OPERATOR"]
    if blank and where.endswith("email"):
        return "data", SOLUTIONS["INVALID_EMAIL"]
    if upper == "INVALID_BANK_ACCOUNT" or (upper == "INVALID_VALUE" and "bankaccount" in where):
        return "data", SOLUTIONS["INVALID_BANK_ACCOUNT"]
    if upper == "INVALID_VALUE" and where == "paymentinfo.duedate":
        return "data", SOLUTIONS["PAYMENT_TERM_OUT_OF_RANGE"]
    return "data", solution_for(upper)

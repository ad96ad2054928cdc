"""Severa travel reimbursement → Procountor travel invoice (``TRAVEL_INVOICE``): pure functions, no I/O.

Sources: the seed ("Travel reimbursement transfer settings", points 7 and 8 of "Settings in Severa",
"Attachments of travel reimbursements"), severa-api.md §5.10–5.11 and procountor-api.md §5.6, §8, §11.

Decisions where the sources leave room (each has a test):
- The traveller is a Procountor *person* matched by person number = Severa employee number (user ``code``);
  the invoice links it with ``partnerId`` and names it in ``counterParty``.
- Rows are Severa's project travel expenses, each with the TRAVEL product of its travel expense code valid
  on the reimbursement date (codes change yearly); a travel expense without a code takes the default travel
  expense code. Travel codes are never created: a code missing in Procountor is a data error.
- Amounts are what the employee paid: ``unitCost`` including purchase VAT, so ``unitPricesIncludeVat`` is
  true and ``vatPercent`` is the expense's purchase VAT rate (0 for allowances and kilometres).
- Dimensions per travel expense line: the project (its number), the expense's cost center (its identifier),
  the user's business unit (its name) — each per its toggle in ``travel_reimbursements``.
- ``invoiceChannel`` is ``NO_SENDING`` (a travel invoice is paid to the employee, never sent) and the
  employee's IBAN goes to ``paymentInfo.bankAccount``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from foundation.company import CompanySettings
from foundation.privacy import mask_iban
from foundation.types import Json
from streams.mapping.checks import Errors, check_fiscal_period
from streams.mapping.errors import TransferDataError
from streams.mapping.money import exact
from streams.mapping.units import to_procountor_unit

ORIGINAL_INVOICE_NUMBER_MAX = 40
ROW_PRODUCT_MAX = 100
ROW_COMMENT_MAX = 512
NAME_MAX = 80
PERSON_NUMBER_MAX = 40
DEPARTURE_MAX = ARRIVAL_MAX = 40
PURPOSE_MAX = 255

_CURRENCY = {"FI": "EUR", "SE": "SEK"}
_LANGUAGE = {"FI": "FINNISH", "SE": "SWEDISH"}

# Solutions in the seed's voice: what happened, where to fix it in Severa, then try the transfer again.
SOLUTIONS: dict[str, str] = {
    "MISSING_EMPLOYEE_NUMBER": (
        "Travel reimbursements cannot be transferred to Procountor without the user's personal information. "
        "Fill in the employee number (code) and bank account of user {user} in Severa (Settings > User "
        "management), ensure the same employee number is defined in Procountor, and try the travel "
        "reimbursement transfer again."
    ),
    "MISSING_BANK_ACCOUNT": (
        "Travel reimbursements cannot be transferred to Procountor without the user's personal information. "
        "Fill in the employee number (code) and bank account of user {user} in Severa (Settings > User "
        "management); the bank account must be in IBAN format. Then try the travel reimbursement transfer "
        "again."
    ),
    "MISSING_AMOUNT": (
        "A travel expense line has no quantity or unit cost in Severa, and the integration never takes a missing "
        "amount for 0. Fill it in on the travel reimbursement in Severa and try the travel reimbursement "
        "transfer again."
    ),
    "MISSING_PERSON": (
        "No person with employee number {code} was found in Procountor's person register and updating "
        "persons is not enabled. Ensure the same employee number as user {user} has in Severa is defined in "
        "Procountor, or select in the integration settings that Severa's users are updated in Procountor's "
        "personal register, and try the travel reimbursement transfer again."
    ),
    "MISSING_TRAVEL_PRODUCT": (
        "The travel expense code was not found in Procountor's travel expense registry for the date of the "
        "travel reimbursement. Travel expense codes change yearly: check the new codes in Procountor, update "
        "them to Severa's travel expense types (or check the default code for travel expenses in the "
        "integration settings), and try the travel reimbursement transfer again."
    ),
    "UNKNOWN_UNIT": (
        "The unit of a travel expense is not one Procountor knows. Correct the unit of the travel expense "
        "type in Severa (for example km, day, pcs) and try the travel reimbursement transfer again."
    ),
    "ERROR_VATSTATUS_VATPERC": (
        "The purchase VAT rate of a travel expense is not in use in Procountor. Check the purchase VAT rate of "
        "the travel expense and its travel expense type in Severa against Procountor's VAT settings (VAT "
        "rates change by law), and try the travel reimbursement transfer again."
    ),
    "INVALID_FIELD": (
        "Move the travel reimbursement back to an editable status in Severa, correct the field named in the "
        "error, and try the travel reimbursement transfer again."
    ),
}


def record_name(reimbursement: Mapping[str, Any]) -> str:
    """How the transfer log names a travel reimbursement: by number, else by guid."""
    number = reimbursement.get("number")
    return f"travel reimbursement {number if number is not None else reimbursement.get('guid')}"


def user_label(user: Mapping[str, Any]) -> str:
    """A user as the error messages name them: employee number and name, whichever are known."""
    name = " ".join(str(user.get(k) or "").strip() for k in ("firstName", "lastName")).strip()
    code = str(user.get("code") or "").strip()
    return f"{code} ({name})" if code and name else code or name or str(user.get("guid"))


def _error(error_code: str, record: str, field: str, value: Any, message: str, **names: str) -> TransferDataError:
    return TransferDataError(error_code, record=record, field=field, value=value, message=message,
                             solution=SOLUTIONS[error_code].format(**names))


def employee(user: Mapping[str, Any], *, record: str) -> tuple[str, str]:
    """(employee number, IBAN in compact form) of the travelling user; raises a data error naming the user."""
    label = user_label(user)
    code = str(user.get("code") or "").strip()
    if not code:
        raise _error("MISSING_EMPLOYEE_NUMBER", record, "user.code", None,
                     f"user {label} has no employee number (code) in Severa", user=label)
    if len(code) > PERSON_NUMBER_MAX:
        raise _error("MISSING_EMPLOYEE_NUMBER", record, "user.code", code,
                     f"the employee number of user {label} is longer than {PERSON_NUMBER_MAX} characters",
                     user=label)
    account = str(user.get("bankAccountNumber") or "").strip()
    if not account:
        raise _error("MISSING_BANK_ACCOUNT", record, "user.bankAccountNumber", None,
                     f"user {label} has no bank account in Severa", user=label)
    try:
        iban = IBAN(account).compact
    except SchwiftyException:
        raise _error("MISSING_BANK_ACCOUNT", record, "user.bankAccountNumber", mask_iban(account),
                     f"the bank account of user {label} is not a valid IBAN", user=label) from None
    return code, iban


def missing_person(user: Mapping[str, Any], code: str, *, record: str) -> TransferDataError:
    label = user_label(user)
    return _error("MISSING_PERSON", record, "invoicingInfo.personNumber", code,
                  f"user {label} has no person in Procountor's person register (person number {code})",
                  user=label, code=code)


def person_body(user: Mapping[str, Any], code: str, iban: str, settings: CompanySettings,
                current: Mapping[str, Any] | None = None) -> Json:
    """The Procountor Person for a Severa user: ``current`` (for PUT) with the fields Severa owns replaced."""
    body: Json = {k: v for k, v in (current or {}).items()}
    first = str(user.get("firstName") or "").strip()[:NAME_MAX]
    last = str(user.get("lastName") or "").strip()[:NAME_MAX] or code
    body.update(firstName=first, lastName=last)
    payment = dict(body.get("paymentInfo") or {"paymentTermDays": "0", "penalInterestRate": 0})
    payment.update(paymentMethod="BANK_TRANSFER", accountNumber=iban)
    body["paymentInfo"] = payment
    invoicing = dict(body.get("invoicingInfo") or {"language": _LANGUAGE[settings.country],
                                                  "gender": "NOT_APPLICABLE"})
    invoicing["personNumber"] = code
    body["invoicingInfo"] = invoicing
    registry = dict(body.get("registryInfo") or {})
    registry["active"] = True
    if user.get("email"):
        registry["email"] = str(user["email"])[:80]
    body["registryInfo"] = registry
    return body


def person_differs(person: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """Whether the fields Severa owns differ between Procountor's person and the one wanted."""
    def owned(p: Mapping[str, Any]) -> tuple[Any, ...]:
        return (p.get("firstName"), p.get("lastName"), (p.get("paymentInfo") or {}).get("accountNumber"),
                (p.get("invoicingInfo") or {}).get("personNumber"), (p.get("registryInfo") or {}).get("active"),
                (p.get("registryInfo") or {}).get("email"))
    return owned(person) != owned(wanted)


def reimbursement_date(reimbursement: Mapping[str, Any]) -> date:
    """The reimbursement's date; a data error naming the field when it has none, or not a date."""
    value = reimbursement.get("date")
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise TransferDataError("INVALID_FIELD", record=f"travel reimbursement {reimbursement.get('number')}",
                                field="date", value=value, message=f"the date {value!r} is not a date",
                                solution="Give the travel reimbursement its date in Severa; it is transferred "
                                         "again when it changes.") from None


def expense_code(expense: Mapping[str, Any], settings: CompanySettings) -> str:
    """The travel expense code of a project travel expense; the default travel expense code if it has none."""
    code = str((expense.get("travelExpense") or {}).get("code") or "").strip()
    return code or settings.default_travel_expense_code


def ordered_expenses(expenses: list[Json]) -> list[Json]:
    """Rows in the order of the travel: by event date, then as Severa listed them."""
    return sorted(expenses, key=lambda e: str(e.get("eventDate") or ""))


def _amount(money: Any) -> Decimal | None:
    if isinstance(money, Mapping):
        value = money.get("amount")
        return None if value is None else exact(value)
    return None


def map_travel_invoice(reimbursement: Json, expenses: list[Json], user: Json, person: Json,
                       products: Mapping[str, Json], settings: CompanySettings, *,
                       fiscal_years: list[Json] | None = None,
                       vat_percentages: set[float] | None = None) -> Json:
    """The Procountor ``POST /invoices`` body of a travel invoice; raises the first data error.

    ``expenses``: the reimbursement's ProjectTravelExpenseOutputModels; ``user``: the traveller's
    UserOutputModel; ``person``: the Procountor person (its ``id`` is the ``partnerId``); ``products``:
    TRAVEL product per travel expense code, valid on the reimbursement date (a code absent here is missing
    from Procountor); ``fiscal_years``: Procountor's (None skips the closed-period pre-check).
    """
    record = record_name(reimbursement)
    errors = Errors(record)
    code, iban = employee(user, record=record)
    when = reimbursement_date(reimbursement)
    if fiscal_years is not None:
        check_fiscal_period(when, fiscal_years, errors)
    if errors.items:
        raise errors.items[0]  # CLOSED_FISCAL_PERIOD, with the seed's own solution (it names travel too)
    number = reimbursement.get("number")
    if number is None:
        raise TransferDataError("INVALID_FIELD", record=record, field="originalInvoiceNumber", value=None,
                                message="the travel reimbursement has no number",
                                solution=SOLUTIONS["INVALID_FIELD"])
    if not expenses:
        raise TransferDataError("INVALID_FIELD", record=record, field="invoiceRows", value=None,
                                message="the travel reimbursement has no travel expenses",
                                solution=SOLUTIONS["INVALID_FIELD"])
    rows = [_row(i, expense, products, settings, errors) for i, expense in enumerate(ordered_expenses(expenses))]
    for i, row in enumerate(rows):
        if vat_percentages is not None and row["vatPercent"] not in vat_percentages:
            errors.add("ERROR_VATSTATUS_VATPERC", f"invoiceRows[{i}].vatPercent", row["vatPercent"],
                       f"ERROR_VATSTATUS_VATPERC (invoiceRows[{i}].vatPercent): {row['vatPercent']:g} % is not in "
                       f"use in Procountor (in use: {', '.join(f'{v:g}' for v in sorted(vat_percentages))})")
    name = " ".join(p for p in (person.get("firstName"), person.get("lastName")) if p) or user_label(user)
    days = sorted(str(e.get("eventDate"))[:10] for e in expenses if e.get("eventDate"))
    title = reimbursement.get("title") or f"Travel reimbursement {number}"
    travel: Json = {"purpose": errors.text("travelInformationItems[0].purpose", str(title), PURPOSE_MAX)}
    if days:
        travel.update(departure=days[0], arrival=days[-1])
    currency = (reimbursement.get("totalExpenses") or {}).get("currencyCode") or _CURRENCY[settings.country]
    body: Json = {
        "type": "TRAVEL_INVOICE",
        "partnerId": person["id"],
        "date": when.isoformat(),
        "counterParty": {"counterPartyAddress": {"name": errors.text("counterParty.counterPartyAddress.name",
                                                                     name, NAME_MAX)}},
        "paymentInfo": {"paymentMethod": "BANK_TRANSFER", "currency": currency, "dueDate": when.isoformat(),
                        "currencyRate": 1, "bankAccount": {"accountNumber": iban}},
        "extraInfo": {"accountingByRow": True, "unitPricesIncludeVat": True},
        "discountPercent": 0,
        "invoiceChannel": "NO_SENDING",
        "originalInvoiceNumber": errors.text("originalInvoiceNumber", str(number), ORIGINAL_INVOICE_NUMBER_MAX),
        "invoiceRows": rows,
        "travelInformationItems": [travel],
        "notes": f"Severa travel reimbursement {number}, employee number {code}",
    }
    if errors.items:
        first = errors.items[0]
        if first.code in SOLUTIONS:
            first.solution = SOLUTIONS[first.code]
        raise first
    return body


def _row(index: int, expense: Json, products: Mapping[str, Json], settings: CompanySettings,
         errors: Errors) -> Json:
    path = f"invoiceRows[{index}]"
    code = expense_code(expense, settings)
    product = products.get(code)
    if product is None:
        errors.items.append(TransferDataError(
            "MISSING_TRAVEL_PRODUCT", record=errors.record, field=f"{path}.productCode", value=code,
            message=f"no TRAVEL product with code {code!r} valid on the reimbursement date in Procountor",
            solution=SOLUTIONS["MISSING_TRAVEL_PRODUCT"]))
        product = {}
    severa_unit = expense.get("measurementUnit")
    unit = to_procountor_unit(severa_unit) if severa_unit else (product.get("unit") or "NO_UNIT")
    if unit is None:
        errors.add("UNKNOWN_UNIT", f"{path}.unit", severa_unit)
        unit = "NO_UNIT"
    travel_expense = expense.get("travelExpense") or {}
    label = product.get("name") or travel_expense.get("name") or code
    # A missing amount is the user's to fill in Severa: a 0 would reimburse the line with nothing.
    quantity = None if expense.get("quantity") is None else exact(expense["quantity"])
    price = _amount(expense.get("unitCost"))
    for field, value, what in (("quantity", quantity, "quantity"), ("unitPrice", price, "unit cost")):
        if value is None:
            errors.items.append(TransferDataError(
                "MISSING_QUANTITY" if field == "quantity" else "MISSING_PRICE", record=errors.record,
                field=f"{path}.{field}", value=None,
                message=f"travel expense line {index + 1} ({label}) has no {what} in Severa",
                solution=SOLUTIONS["MISSING_AMOUNT"]))
    row: Json = {
        "product": errors.text(f"{path}.product", str(label), ROW_PRODUCT_MAX),
        "productCode": code,
        "quantity": quantity if quantity is not None else Decimal(0),  # reported above when missing
        "unit": unit,
        "unitPrice": price if price is not None else Decimal(0),  # reported above when missing
        "discountPercent": 0,
        "vatPercent": exact(expense.get("purchaseVatRate") or 0),  # no purchase VAT: allowances, kilometres
    }
    if product.get("id") is not None:
        row["productId"] = product["id"]
    comment = errors.text(f"{path}.comment", expense.get("description"), ROW_COMMENT_MAX)
    if comment:
        row["comment"] = comment
    if expense.get("eventDate"):
        row["startDate"] = row["endDate"] = str(expense["eventDate"])[:10]
    return row


def row_dimensions(expenses: list[Json], user: Mapping[str, Any], settings: CompanySettings,
                   cost_centers: Mapping[str, str] | None = None) -> list[Json]:
    """Per travel invoice row (same order as ``invoiceRows``), the dimension items for its ledger entry.

    ``cost_centers``: Severa cost center guid → identifier (the item's ``codeName`` in Procountor); the
    expense's cost center name is used when the identifier is not known. Each entry:
    ``{"row": i, "items": [{"kind", "dimension", "item", "description"}]}``.
    """
    travel = settings.travel_reimbursements
    unit = user.get("businessUnit") or {}
    unit_name = str(unit.get("name") or settings.severa_business_unit_name or "").strip()
    plan: list[Json] = []
    for index, expense in enumerate(ordered_expenses(expenses)):
        items: list[Json] = []
        project = expense.get("project") or {}
        if travel.transfer_project_dimension and settings.project_dimension and project.get("number") is not None:
            items.append(_item("project", settings.project_dimension, str(project["number"]), project.get("name")))
        center = expense.get("costCenter") or {}
        center_code = (cost_centers or {}).get(str(center.get("guid"))) or center.get("name")
        if travel.transfer_cost_center_dimension and settings.cost_center_dimension and center_code:
            items.append(_item("cost_center", settings.cost_center_dimension, str(center_code), center.get("name")))
        if travel.transfer_business_unit_dimension and settings.business_unit_dimension and unit_name:
            items.append(_item("business_unit", settings.business_unit_dimension, unit_name, None))
        plan.append({"row": index, "items": items})
    return plan


def _item(kind: str, dimension: str, code: str, description: str | None) -> Json:
    return {"kind": kind, "dimension": dimension, "item": code, "description": description}


# Where each Procountor status lies on the travel invoice's way (procountor-api.md §5.3, §5.6).
STATUS_ORDER = ("UNFINISHED", "RECEIVED", "VERIFIED", "APPROVED")
_BEYOND = {"PAYMENT_QUEUED", "PAYMENT_SENT_TO_BANK", "PARTLY_PAID", "PAID", "MARKED_PAID"}


def status_actions(current: str, wanted: str) -> list[str]:
    """The Procountor actions that move a travel invoice from ``current`` to ``wanted``; never backwards.

    UNFINISHED → sendToCirculation → RECEIVED → verify → VERIFIED → approve → APPROVED.
    """
    if current in _BEYOND or current not in STATUS_ORDER or wanted not in STATUS_ORDER:
        return []
    actions = ("sendToCirculation", "verify", "approve")
    return list(actions[STATUS_ORDER.index(current):max(STATUS_ORDER.index(wanted), STATUS_ORDER.index(current))])

"""The Severa REST API v1 fields the mapping reads, as lenient pydantic models.

Numbers that are money or rates are ``Decimal`` (read exactly from Severa's JSON, foundation.exact_json).
Only the fields we read are declared; everything else is allowed and ignored (``extra="allow"``), so that a
new field in Severa's answer changes nothing, while a missing or mistyped field we need becomes a
``TransferDataError`` naming the record and the field rather than a ``KeyError`` deep in the mapping.

A few keys are our own enrichment, added by the transfer from the row's source items, because where Severa
exposes an invoice row's product/work-type/travel code is uncertain (severa-api.md §7.6): ``productCode``,
``product``/``workType``/``travelExpense`` sub-objects, ``comment``, ``project`` and ``businessUnit``.
"""

from __future__ import annotations

from datetime import date as Date
from decimal import Decimal
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from streams.mapping.errors import TransferDataError

_M = TypeVar("_M", bound=BaseModel)


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Ref(_Lenient):
    """Any Severa sub-model with some of guid/name/number/code (customer, project, cost center...)."""

    guid: str | None = None
    name: str | None = None
    number: int | str | None = None
    code: str | None = None


class Money(_Lenient):
    amount: Decimal | None = None
    currencyCode: str | None = None


class FreeText(_Lenient):
    value: str | None = None
    plainText: str | None = None

    def content(self) -> str | None:
        # plainText is the rendered text without tags; value may carry formatting tags.
        return self.plainText if self.plainText is not None else self.value


class Language(_Lenient):
    code: str | None = None
    name: str | None = None
    englishName: str | None = None


class ReceiverAddress(_Lenient):
    addressline: str | None = None
    postalCode: str | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None


class AddressCountry(_Lenient):
    name: str | None = None
    englishName: str | None = None
    code2: str | None = None


class Address(_Lenient):
    """AddressModel, from GET /v1/customers/{guid}/addresses."""

    addressline: str | None = None
    postalCode: str | None = None
    city: str | None = None
    isPostalAddress: bool = False
    isBillingAddress: bool = False
    country: AddressCountry | str | None = None


class Invoice(_Lenient):
    """InvoiceOutputModel."""

    guid: str | None = None
    number: int | None = None
    date: Date
    dueDate: Date
    paymentTerm: int | None = None
    overdueInterest: Decimal | None = None
    ourReference: str | None = None
    yourReference: str | None = None
    notes: str | None = None
    freeText1: FreeText | None = None
    freeText2: FreeText | None = None
    orderNumber: str | None = None
    currency: Ref | None = None
    currencyRate: Decimal | None = None
    receiverCustomerName: str | None = None
    receiverContactName: str | None = None
    receiverContactEmail: str | None = None
    receiverAddress: ReceiverAddress | None = None
    receiverVatNumber: str | None = None
    senderContactName: str | None = None
    isCreditNote: bool = False
    reimburseInvoice: Ref | None = None
    creditNoteInvoice: Ref | None = None
    customer: Ref | None = None
    billingCustomer: Ref | None = None
    language: Language | None = None
    projects: list[Ref] | None = None
    businessUnit: Ref | None = None  # enrichment: the project's business unit when the agent knows it


class InvoiceRow(_Lenient):
    """InvoiceRowOutputModel plus the enrichment keys described in the module docstring."""

    guid: str | None = None
    rowType: str | None = None
    category: str | None = None
    description: str | None = None
    quantity: Decimal | None = None  # missing: a data error naming the row, never 0 (rows.py)
    unitPrice: Money | None = None
    measurementUnit: str | None = None
    vatRate: Decimal | None = None
    sortOrder: int | None = None
    costCenter: Ref | None = None
    salesAccount: Ref | None = None
    code: list[str] | str | None = None
    productCode: str | None = None
    product: Ref | None = None
    workType: Ref | None = None
    travelExpense: Ref | None = None
    travelExpenseType: Ref | None = None
    comment: str | None = None
    invoiceRowComment: str | None = None
    project: Ref | None = None
    businessUnit: Ref | None = None


class Customer(_Lenient):
    """CustomerModel plus its addresses (``addresses``: AddressModel[]), which the agent reads separately."""

    guid: str | None = None
    name: str | None = None
    number: int | None = None
    vatNumber: str | None = None
    email: str | None = None
    eInvoiceAddress: str | None = None
    eInvoiceOperator: str | None = None
    organizationUnitNumber: str | None = None
    paymentTerm: int | None = None
    overdueInterest: Decimal | None = None
    language: Language | None = None
    currency: Ref | None = None
    addresses: list[Address] = []


def parse(model: type[_M], data: object, *, record: str, prefix: str) -> _M:
    """Validate ``data``; the first problem becomes a TransferDataError naming the Severa field."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        location = prefix + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in first["loc"])
        raise TransferDataError(
            "INVALID_FIELD",
            record=record,
            field=location,
            value=first.get("input") if not isinstance(first.get("input"), dict) else None,
            message=f"Severa field {location}: {first['msg']}",
        ) from error

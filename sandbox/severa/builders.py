"""Turn Severa input models (what a client POSTs) into the output models the API returns.

One function per resource, shared by the HTTP create routes and the demo seed, so that seeded data has exactly
the shape of data put in through the API. References arrive as ``{"guid": ...}`` and are expanded into the
resource's sub-model; a dangling reference is a 400 naming the field.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sandbox.severa.store import Record, SeveraStore, ValidationProblem, finnish_reference, money

PRODUCT_TYPES = ("FixedFees", "Materials", "Subcontracting")
BILLING_SCHEDULES = ("Immediately", "OnDate", "WhenPhaseCompleted", "Recurring")
GROUP_BY = ("None", "Date", "Category", "Project")


# ------------------------------------------------------------------ helpers


def _required_str(body: Record, field: str, *, max_len: int | None = None) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value.strip():
        raise ValidationProblem(f"The {field} field is required.", name=field)
    if max_len is not None and len(value) > max_len:
        raise ValidationProblem(f"The field {field} must be a string with a maximum length of {max_len}.", name=field)
    return value


def _ref_guid(body: Record, field: str, *, required: bool = False) -> str | None:
    value = body.get(field)
    if value is None:
        if required:
            raise ValidationProblem(f"The {field} field is required.", name=field)
        return None
    if not isinstance(value, dict) or not value.get("guid"):
        if required:
            raise ValidationProblem(f"The {field}.guid field is required.", name=f"{field}.guid")
        return None
    return str(value["guid"])


def _number(body: Record, field: str, *, required: bool = False, default: float | None = None) -> float | None:
    value = body.get(field, default)
    if value is None:
        if required:
            raise ValidationProblem(f"The {field} field is required.", name=field)
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationProblem(f"The value of {field} is not a number.", name=field)
    return float(value)


def _date(body: Record, field: str, *, required: bool = False) -> str | None:
    value = body.get(field)
    if value is None:
        if required:
            raise ValidationProblem(f"The {field} field is required.", name=field)
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10]).isoformat()
    except ValueError as exc:
        raise ValidationProblem(f"The value '{value}' is not valid for {field}.", name=field) from exc


def _enum(body: Record, field: str, allowed: tuple[str, ...], default: str | None) -> str | None:
    value = body.get(field, default)
    if value is not None and value not in allowed:
        raise ValidationProblem(f"The value '{value}' is not valid for {field}.", name=field)
    return value


def _money_in(body: Record, field: str, currency: str) -> Record | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValidationProblem(f"The {field} field must be a money object.", name=field)
    amount = value.get("amount")
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int | float)):
        raise ValidationProblem(f"The value of {field}.amount is not a number.", name=f"{field}.amount")
    return money(amount, value.get("currencyCode") or currency)


def _named(record: Record | None, *extra: str) -> Record | None:
    if record is None:
        return None
    return {"guid": record["guid"], "name": record.get("name")} | {k: record.get(k) for k in extra}


def _user_sub(user: Record | None) -> Record | None:
    if user is None:
        return None
    return {
        "code": user.get("code"),
        "name": f"{user['firstName']} {user['lastName']}",
        "guid": user["guid"],
        "firstName": user["firstName"],
        "lastName": user["lastName"],
    }


def _country_sub(store: SeveraStore, guid: str | None, field: str) -> Record | None:
    if guid is None:
        return None
    country = store.require("countries", guid, field=field)
    return {
        "name": country["name"],
        "guid": country["guid"],
        "englishName": country["englishName"],
        "hasRegions": country["hasRegions"],
    }


def _bu_sub(bu: Record | None) -> Record | None:
    if bu is None:
        return None
    return {
        k: bu.get(k)
        for k in (
            "guid",
            "name",
            "companyGuid",
            "companyName",
            "companyBusinessUnitGuid",
            "companyCountryGuid",
            "companyCurrencyGuid",
            "code",
        )
    }


def company_of(store: SeveraStore, bu: Record | None) -> Record | None:
    """The CompanyModel a business unit belongs to."""
    if bu is None or not bu.get("companyGuid"):
        return None
    return store.get("companies", bu["companyGuid"])


def default_vat_rate(store: SeveraStore, company: Record | None) -> float:
    """The company country's default VAT rate (vatrates with isDefault)."""
    country_guid = (company or {}).get("country", {}).get("guid") if company else None
    for rate in store.all("vatrates"):
        if rate.get("isDefault") and (country_guid is None or rate.get("countryGuid") == country_guid):
            return float(rate["percentage"])
    return 0.0


def _currency_code(company: Record | None) -> str:
    return (company or {}).get("currencyCode") or "EUR"


# ---------------------------------------------------------------- settings


def invoice_status(store: SeveraStore, body: Record) -> Record:
    return {
        "name": _required_str(body, "name"),
        "isActive": body.get("isActive", True),
        "isDefault": bool(body.get("isDefault")),
        "isReadOnly": bool(body.get("isReadOnly")),
        "hasInvoiceNumber": bool(body.get("hasInvoiceNumber")),
        "isSent": bool(body.get("isSent")),
        "isWaitingPayment": bool(body.get("isWaitingPayment")),
        "isPaid": bool(body.get("isPaid")),
        "isDefaultForCreditNote": bool(body.get("isDefaultForCreditNote")),
        "sortOrder": int(body.get("sortOrder") or len(store.all("invoicestatuses"))),
    }


def travel_reimbursement_status(store: SeveraStore, body: Record) -> Record:
    return {
        "name": _required_str(body, "name"),
        "sortOrder": int(body.get("sortOrder") or len(store.all("travelreimbursementstatuses"))),
        "isLocked": bool(body.get("isLocked")),
        "isApproved": bool(body.get("isApproved")),
        "isActive": body.get("isActive", True),
        "isDefault": bool(body.get("isDefault")),
    }


def sales_account(store: SeveraStore, body: Record) -> Record:
    return {
        "name": _required_str(body, "name"),
        "number": _required_str(body, "number"),
        "isActive": body.get("isActive", True),
        "isProductDefault": bool(body.get("isProductDefault")),
        "isWorkTypeDefault": bool(body.get("isWorkTypeDefault")),
        "isTravelTypeDefault": bool(body.get("isTravelTypeDefault")),
    }


def cost_account(store: SeveraStore, body: Record) -> Record:
    return {
        "name": _required_str(body, "name"),
        "number": _required_str(body, "number"),
        "isActive": body.get("isActive", True),
        "isTravelTypeDefault": bool(body.get("isTravelTypeDefault")),
    }


def cost_center(store: SeveraStore, body: Record) -> Record:
    return {
        "name": _required_str(body, "name"),
        "identifier": _required_str(body, "identifier"),
        "isActive": body.get("isActive", True),
        "isDefault": bool(body.get("isDefault")),
    }


def business_unit(store: SeveraStore, body: Record) -> Record:
    parent_guid = body.get("parentGuid")
    parent = store.require("businessunits", parent_guid, field="parentGuid") if parent_guid else None
    company = store.get("companies", body["companyGuid"]) if body.get("companyGuid") else company_of(store, parent)
    cost_center_guid = _ref_guid(body, "costCenter")
    cc = store.require("costcenters", cost_center_guid, field="costCenter") if cost_center_guid else None
    return {
        "name": _required_str(body, "name"),
        "parentGuid": parent_guid,
        "isActive": body.get("isActive", True),
        "costCenter": {"guid": cc["guid"], "name": cc["name"], "identifier": cc["identifier"]} if cc else None,
        "vatNumber": body.get("vatNumber"),
        "kvkNumber": body.get("kvkNumber"),
        "companyGuid": company["guid"] if company else None,
        "companyName": company["name"] if company else None,
        "companyBusinessUnitGuid": company["rootBusinessUnitGuid"] if company else None,
        "companyCountryGuid": company["country"]["guid"] if company else None,
        "companyCurrencyGuid": company["currencyGuid"] if company else None,
        "code": body.get("code"),
    }


def _sales_account_sub(store: SeveraStore, body: Record) -> Record | None:
    guid = _ref_guid(body, "salesAccount")
    account = store.require("salesaccounts", guid, field="salesAccount") if guid else None
    return _named(account, "number")


def product(store: SeveraStore, body: Record) -> Record:
    currency = "EUR"
    return {
        "code": body.get("code"),
        "unitPrice": _money_in(body, "unitPrice", currency),
        "unitCost": _money_in(body, "unitCost", currency),
        "vatRate": _number(body, "vatRate"),
        "measurementUnit": body.get("measurementUnit") or "pcs",
        "isActive": body.get("isActive", True),
        "productCategory": None,
        "salesAccount": _sales_account_sub(store, body),
        "name": _required_str(body, "name"),
        "type": _enum(body, "type", PRODUCT_TYPES, "Materials"),
        "proposalDescription": body.get("proposalDescription"),
    }


def work_type(store: SeveraStore, body: Record) -> Record:
    return {
        "name": _required_str(body, "name"),
        "isActive": body.get("isActive", True),
        "isProductive": body.get("isProductive", True),
        "isDefault": bool(body.get("isDefault")),
        "salesAccount": _named(store.get("salesaccounts", _ref_guid(body, "salesAccount") or "")),
        "code": body.get("code"),
        "hourCost": _money_in(body, "hourCost", "EUR"),
    }


def travel_expense_type(store: SeveraStore, body: Record) -> Record:
    expense_class = _enum(
        body, "expenseClass", ("Mileage", "DailyAllowance", "OtherTravelExpense"), "OtherTravelExpense"
    )
    cost_guid = _ref_guid(body, "costAccount")
    cost = store.require("costaccounts", cost_guid, field="costAccount") if cost_guid else None
    return {
        "name": _required_str(body, "name"),
        "isMileage": expense_class == "Mileage",
        "isDailyAllowance": expense_class == "DailyAllowance",
        "expenseClass": expense_class,
        "purchaseVatRate": _number(body, "purchaseVatRate"),
        "includeTime": bool(body.get("includeTime")),
        "costAccount": _named(cost, "number"),
        "unitCost": _money_in(body, "unitCost", "EUR"),
        "code": body.get("code"),
        "vatRate": _number(body, "vatRate"),
        "measurementUnit": body.get("measurementUnit") or "pcs",
        "isActive": body.get("isActive", True),
        "productCategory": None,
        "salesAccount": _sales_account_sub(store, body),
    }


# --------------------------------------------------------------- customers


def _invoicing_vat(store: SeveraStore, given: Any) -> Record | None:
    """CustomerModel.invoicingVat (CustomerInvoicingVat {guid, percentage, code}): the organisation's VAT rate the
    customer is invoiced at, named by its guid."""
    if given is None:
        return None
    guid = given.get("guid") if isinstance(given, dict) else None
    rate = store.get("vatrates", guid) if isinstance(guid, str) else None
    if rate is None:
        raise ValidationProblem(f"invoicingVat.guid: no vat rate with guid '{guid}'", name="invoicingVat.guid")
    return {"guid": rate["guid"], "percentage": rate["percentage"], "code": rate.get("code")}


def customer(store: SeveraStore, body: Record) -> Record:
    number = body.get("number")
    if number is None:
        number = store.next_number("customer")
    elif not isinstance(number, int) or isinstance(number, bool):
        raise ValidationProblem("The value of number is not an integer.", name="number")
    elif store.find("customers", number=number):
        raise ValidationProblem(f"Customer number {number} is already in use.", name="number")
    hq = body.get("headquarterAddress") or {}
    return {
        "name": _required_str(body, "name"),
        "number": number,
        "isActive": body.get("isActive", True),
        "isInternal": bool(body.get("isInternal")),
        "notes": body.get("notes"),
        "email": body.get("email"),
        "website": body.get("website"),
        "vatNumber": body.get("vatNumber"),
        "kvkNumber": body.get("kvkNumber"),
        "numberOfEmployees": body.get("numberOfEmployees"),
        "annualRevenue": body.get("annualRevenue"),
        "language": body.get("language"),
        "currency": body.get("currency"),
        "owner": None,
        "industry": None,
        "headquarterAddress": {
            "guid": hq.get("guid"),
            "addressline": hq.get("addressline"),
            "postalCode": hq.get("postalCode"),
            "city": hq.get("city"),
            "country": hq.get("country"),
        }
        if hq
        else None,
        "timezone": None,
        "pricelist": None,
        "paymentTerm": body.get("paymentTerm"),
        "overdueInterest": body.get("overdueInterest"),
        "invoicingVat": _invoicing_vat(store, body.get("invoicingVat")),
        "eInvoiceAddress": body.get("eInvoiceAddress"),
        "eInvoiceOperator": body.get("eInvoiceOperator"),
        "organizationUnitNumber": body.get("organizationUnitNumber"),
        "invoiceTemplate": None,
    }


def address(store: SeveraStore, customer_guid: str, body: Record) -> Record:
    cust = store.require("customers", customer_guid)
    return {
        "addressline": body.get("addressline"),
        "postalCode": body.get("postalCode"),
        "city": body.get("city"),
        "isBillingAddress": bool(body.get("isBillingAddress")),
        "isPostalAddress": bool(body.get("isPostalAddress")),
        "isVisitAddress": bool(body.get("isVisitAddress")),
        "phone": body.get("phone"),
        "fax": body.get("fax"),
        "country": _country_sub(store, _ref_guid(body, "country"), "country"),
        "countryRegion": None,
        "customer": {"name": cust["name"], "guid": cust["guid"], "number": cust["number"]},
        "contacts": [],
    }


def contact_person(store: SeveraStore, body: Record) -> Record:
    cust = store.require("customers", _ref_guid(body, "customer", required=True), field="customer")
    first, last = _required_str(body, "firstName"), _required_str(body, "lastName")
    return {
        "firstName": first,
        "lastName": last,
        "salutation": body.get("salutation"),
        "name": f"{first} {last}",
        "description": body.get("description"),
        "jobTitle": body.get("jobTitle"),
        "isActive": body.get("isActive", True),
        "isDeleted": False,
        "customer": {"guid": cust["guid"], "name": cust["name"], "number": cust["number"]},
        "addressGuid": body.get("addressGuid"),
        "phoneNumbers": list(body.get("phoneNumbers") or []),
        "emails": list(body.get("emails") or []),
        "satisfactionLevel": None,
        "timeZone": None,
        "dateOfBirth": None,
        "role": None,
        "language": None,
        "isEmailAllowed": bool(body.get("isEmailAllowed")),
    }


# ------------------------------------------------------------- people/projects


def user(store: SeveraStore, body: Record) -> Record:
    bu_guid = _ref_guid(body, "businessUnit")
    bu = store.require("businessunits", bu_guid, field="businessUnit") if bu_guid else None
    return {
        "firstName": _required_str(body, "firstName", max_len=100),
        "lastName": _required_str(body, "lastName", max_len=100),
        "salutation": body.get("salutation"),
        "isActive": body.get("isActive", True),
        "email": body.get("email"),
        "phone": body.get("phone"),
        "socialSecurityNumber": body.get("socialSecurityNumber"),
        "businessUnit": _bu_sub(bu),
        "workType": None,
        "permissionProfile": None,
        "superiorUser": None,
        "workContract": None,
        "lastLogin": None,
        "title": body.get("title"),
        "satisfaction": None,
        "code": body.get("code"),
        "address": body.get("address"),
        "postalCode": body.get("postalCode"),
        "city": body.get("city"),
        "country": None,
        "countryRegion": None,
        "culture": None,
        "language": None,
        "timezone": None,
        "birthDate": None,
        "bankAccountNumber": body.get("bankAccountNumber"),
        "notes": body.get("notes"),
        "keywords": [],
        "defaultActivityType": None,
        "userType": body.get("userType", "FullUser"),
        "notificationSettings": None,
    }


def project(store: SeveraStore, body: Record) -> tuple[Record, Record]:
    """A ProjectOutputModel and its root phase (every Severa project has one)."""
    name = _required_str(body, "name")
    cust = store.require("customers", _ref_guid(body, "customer", required=True), field="customer")
    owner_guid = _ref_guid(body, "projectOwner")
    owner = store.require("users", owner_guid, field="projectOwner") if owner_guid else None
    bu_guid = _ref_guid(body, "businessUnit")
    bu = store.require("businessunits", bu_guid, field="businessUnit") if bu_guid else None
    cc_guid = _ref_guid(body, "costCenter")
    cc = store.require("costcenters", cc_guid, field="costCenter") if cc_guid else None
    company = company_of(store, bu)
    number = body.get("number")
    if number is None:
        number = store.next_number("project")
    currency = store.get("currencies", company["currencyGuid"]) if company else None
    phase_guid = body.get("_rootPhaseGuid")
    root_phase = {
        "guid": phase_guid,
        "name": name,
        "project": None,
        "parentPhase": None,
        "isCompleted": False,
        "isLocked": False,
        "startDate": body.get("startDate"),
        "deadline": body.get("deadline"),
        "workHoursEstimate": None,
        "originalWorkHoursEstimate": None,
        "originalStartDate": None,
        "originalDeadline": None,
        "sortOrder": 0,
        "defaultWorkType": None,
        "code": None,
        "currencyCode": None,
        "phaseStatus": None,
    }
    return {
        "projectStatus": None,
        "isInternal": bool(body.get("isInternal")),
        "internalName": body.get("internalName"),
        "number": number,
        "description": body.get("description"),
        "isClosed": bool(body.get("isClosed")),
        "closedDate": None,
        "isJoiningAllowed": body.get("isJoiningAllowed", True),
        "customer": {"guid": cust["guid"], "name": cust["name"], "number": cust["number"]},
        "projectOwner": _user_sub(owner),
        "businessUnit": _bu_sub(bu),
        "currency": {k: currency.get(k) for k in ("guid", "name", "code", "symbol")} if currency else None,
        "customerContact": None,
        "salesStatus": None,
        "salesPerson": None,
        "probability": None,
        "expectedOrderDate": None,
        "expectedValue": None,
        "startDate": _date(body, "startDate"),
        "deadline": _date(body, "deadline"),
        "leadSource": None,
        "rootPhase": None,
        "pricelist": None,
        "costCenter": {"name": cc["name"], "guid": cc["guid"], "identifier": cc["identifier"]} if cc else None,
        "paymentTerm": body.get("paymentTerm"),
        "ourReference": body.get("ourReference"),
        "yourReference": body.get("yourReference"),
        "orderNumber": body.get("orderNumber"),
        "invoiceNotes": body.get("invoiceNotes"),
        "billingContact": None,
        "invoiceTemplate": None,
        "useWorkTypesFromSetting": True,
        "defaultWorkType": None,
        "useProductsFromSetting": True,
        "isMileageBillable": True,
        "isDailyAllowanceBillable": True,
        "isOtherTravelExpensesBillable": True,
        "useOvertimeMultipliers": True,
        "keywords": [],
        "completionEstimatePercentage": None,
        "calculatedCompletionPercentage": None,
        "name": name,
    }, root_phase


def create_project(store: SeveraStore, body: Record, *, guid: str | None = None) -> Record:
    """Insert a project and its root phase."""
    model, root = project(store, body)
    proj = store.insert("projects", model, guid=guid)
    root["project"] = {
        "guid": proj["guid"],
        "name": proj["name"],
        "number": proj["number"],
        "isInternal": proj["isInternal"],
        "isClosed": proj["isClosed"],
    }
    phase = store.insert("phases", root, guid=root.pop("guid") or None)
    proj["rootPhase"] = {"guid": phase["guid"], "name": phase["name"]}
    return proj


def _project_context(store: SeveraStore, body: Record) -> tuple[Record, Record, Record | None]:
    """(project, phase, company) for an item hung on a project's phase."""
    proj = store.require("projects", _ref_guid(body, "project", required=True), field="project")
    phase_guid = _ref_guid(body, "phase") or proj["rootPhase"]["guid"]
    phase = store.require("phases", phase_guid, field="phase")
    if phase["project"]["guid"] != proj["guid"]:
        raise ValidationProblem("The phase does not belong to the project.", name="phase")
    bu = store.get("businessunits", (proj.get("businessUnit") or {}).get("guid") or "")
    return proj, phase, company_of(store, bu)


def _cost_center_sub(store: SeveraStore, body: Record, proj: Record) -> Record | None:
    guid = _ref_guid(body, "costCenter")
    if guid:
        cc = store.require("costcenters", guid, field="costCenter")
        return {"name": cc["name"], "guid": cc["guid"], "identifier": cc["identifier"]}
    return proj.get("costCenter")


def _user_ref(store: SeveraStore, body: Record, *, required: bool) -> Record | None:
    guid = _ref_guid(body, "user", required=required)
    usr = store.require("users", guid, field="user") if guid else None
    if usr is None:
        return None
    return {
        "code": usr.get("code"),
        "name": f"{usr['firstName']} {usr['lastName']}",
        "guid": usr["guid"],
        "companyGuid": (usr.get("businessUnit") or {}).get("companyGuid"),
    }


def project_fee(store: SeveraStore, body: Record) -> Record:
    proj, phase, company = _project_context(store, body)
    currency = _currency_code(company)
    product_guid = _ref_guid(body, "product")
    prod = store.require("products", product_guid, field="product") if product_guid else None
    quantity = _number(body, "quantity", default=1.0)
    unit_price = _money_in(body, "unitPrice", currency) or (
        money((prod.get("unitPrice") or {}).get("amount"), currency) if prod else money(None, currency)
    )
    return {
        "name": body.get("name") or (prod["name"] if prod else None),
        "project": {"guid": proj["guid"], "name": proj["name"], "companyGuid": (company or {}).get("guid")},
        "phase": {"guid": phase["guid"], "name": phase["name"]},
        "customer": dict(proj["customer"]),
        "product": {"name": prod["name"], "guid": prod["guid"], "code": prod.get("code")} if prod else None,
        "description": body.get("description"),
        "unitPrice": unit_price,
        "unitCost": _money_in(body, "unitCost", currency) or money(None, currency),
        "quantity": quantity,
        "measurementUnit": body.get("measurementUnit") or (prod or {}).get("measurementUnit"),
        "hasVolumePricing": bool(body.get("hasVolumePricing")),
        "productType": _enum(body, "productType", PRODUCT_TYPES, (prod or {}).get("type") or "Materials"),
        "vatRate": _number(body, "vatRate") if body.get("vatRate") is not None else (prod or {}).get("vatRate"),
        "displayPeriodStartDate": None,
        "user": _user_ref(store, body, required=False),
        "costCenter": _cost_center_sub(store, body, proj),
        "salesAccount": _sales_account_sub(store, body) or (prod or {}).get("salesAccount"),
        "eventDate": _date(body, "eventDate") or store.today.isoformat(),
        "billingSchedule": _enum(body, "billingSchedule", BILLING_SCHEDULES, "Immediately"),
        "plannedBillingDate": _date(body, "plannedBillingDate"),
        "billingDependencyPhase": None,
        "isBillable": body.get("isBillable", True),
        "invoice": None,
        "invoiceRowGuid": None,
        "invoiceRowDescription": body.get("invoiceRowDescription"),
        "invoiceQuantity": body.get("invoiceQuantity"),
        "invoiceRowComment": body.get("invoiceRowComment"),
        "isRecurrenceRule": False,
        "recurrenceRuleGuid": None,
    }


def work_hour(store: SeveraStore, body: Record) -> Record:
    phase = store.require("phases", _ref_guid(body, "phase", required=True), field="phase")
    proj = store.require("projects", phase["project"]["guid"])
    bu = store.get("businessunits", (proj.get("businessUnit") or {}).get("guid") or "")
    company = company_of(store, bu)
    currency = _currency_code(company)
    usr = _user_ref(store, body, required=True)
    wt = store.require("worktypes", _ref_guid(body, "workType", required=True), field="workType")
    return {
        "phase": {"guid": phase["guid"], "name": phase["name"]},
        "customer": dict(proj["customer"]),
        "workType": {"guid": wt["guid"], "name": wt["name"], "code": wt.get("code")},
        "invoice": None,
        "description": body.get("description"),
        "unitPrice": _money_in(body, "unitPrice", currency) or money(0.0, currency),
        "unitCost": money(None, currency),
        "invoiceRowDescription": body.get("invoiceRowDescription"),
        "invoiceQuantity": body.get("invoiceQuantity"),
        "plannedInvoiceQuantity": None,
        "isBillable": body.get("isBillable", True),
        "billableStatus": "Billable",
        "isProductive": True,
        "isApproved": body.get("isApproved", True),
        "isModifiable": True,
        "invoiceRowGuid": None,
        "invoiceRowComment": body.get("invoiceRowComment"),
        "user": {k: usr.get(k) for k in ("code", "name", "guid")} if usr else None,
        "overtime": None,
        "eventDate": _date(body, "eventDate", required=True),
        "quantity": _number(body, "quantity", default=0.0),
        "startTime": body.get("startTime"),
        "endTime": body.get("endTime"),
        "project": {
            "name": proj["name"],
            "guid": proj["guid"],
            "number": proj["number"],
            "companyGuid": (company or {}).get("guid"),
            "isClosed": proj["isClosed"],
        },
    }


def project_travel_expense(store: SeveraStore, body: Record) -> Record:
    proj, phase, company = _project_context(store, body)
    currency = _currency_code(company)
    texp = store.require("travelexpensetypes", _ref_guid(body, "travelExpense", required=True), field="travelExpense")
    usr = _user_ref(store, body, required=True)
    quantity = _number(body, "quantity", required=True)
    unit_cost = _money_in(body, "unitCost", currency) or money((texp.get("unitCost") or {}).get("amount"), currency)
    purchase_vat = _number(body, "purchaseVatRate")
    if purchase_vat is None:
        purchase_vat = texp.get("purchaseVatRate") or 0.0
    cost_amount = unit_cost.get("amount")
    return {
        "project": {
            "guid": proj["guid"],
            "name": proj["name"],
            "companyGuid": (company or {}).get("guid"),
            "isInternal": proj["isInternal"],
            "number": proj["number"],
        },
        "phase": {"guid": phase["guid"], "name": phase["name"]},
        "customer": {"guid": proj["customer"]["guid"], "name": proj["customer"]["name"]},
        "user": usr,
        "travelExpense": {
            "guid": texp["guid"],
            "name": texp["name"],
            "expenseClass": texp["expenseClass"],
            "includeTime": texp["includeTime"],
            "code": texp.get("code"),
        },
        "description": body.get("description"),
        "unitPrice": _money_in(body, "unitPrice", currency) or money(cost_amount, currency),
        "unitCost": unit_cost,
        "unitCostExcludingPurchaseVat": money(
            None if cost_amount is None else cost_amount / (1 + purchase_vat / 100), currency
        ),
        "quantity": quantity,
        "measurementUnit": body.get("measurementUnit") or texp.get("measurementUnit"),
        "vatRate": _number(body, "vatRate") if body.get("vatRate") is not None else texp.get("vatRate"),
        "purchaseVatRate": purchase_vat,
        "eventDate": _date(body, "eventDate") or store.today.isoformat(),
        "travelStartTime": body.get("travelStartTime"),
        "travelEndTime": body.get("travelEndTime"),
        "travelReimbursementRequired": body.get("travelReimbursementRequired", True),
        "travelReimbursement": None,
        "isBillable": body.get("isBillable", True),
        "billingSchedule": body.get("billingSchedule", "Immediately"),
        "plannedBillingDate": None,
        "billingDependencyPhase": None,
        "invoice": None,
        "invoiceQuantity": body.get("invoiceQuantity"),
        "invoiceRowGuid": None,
        "invoiceRowDescription": body.get("invoiceRowDescription"),
        "invoiceRowComment": body.get("invoiceRowComment"),
        "costAccount": _named(store.get("costaccounts", _ref_guid(body, "costAccount") or ""))
        or (
            {"guid": texp["costAccount"]["guid"], "name": texp["costAccount"]["name"]}
            if texp.get("costAccount")
            else None
        ),
        "costCenter": _named(store.get("costcenters", _ref_guid(body, "costCenter") or ""))
        or (
            {"guid": proj["costCenter"]["guid"], "name": proj["costCenter"]["name"]} if proj.get("costCenter") else None
        ),
        "salesAccount": _named(store.get("salesaccounts", _ref_guid(body, "salesAccount") or "")),
        "attachmentCount": 0,
    }


# ----------------------------------------------------------- reimbursements


def _reimbursement_sub(reimbursement: Record, status: Record) -> Record:
    return {
        "guid": reimbursement["guid"],
        "isApproved": status["isApproved"],
        "isLocked": status["isLocked"],
        "status": status["name"],
    }


def create_travel_reimbursement(
    store: SeveraStore,
    body: Record,
    *,
    add_all_unreimbursed: bool = True,
    included: list[str] | None = None,
    guid: str | None = None,
    number: int | None = None,
    date: str | None = None,
) -> Record:
    """Insert a reimbursement and attach the user's expenses (all unreimbursed ones, or the listed ones)."""
    usr = store.require("users", _ref_guid(body, "user", required=True), field="user")
    status_guid = _ref_guid(body, "travelReimbursementStatus")
    status: Record | None
    if status_guid:
        status = store.require("travelreimbursementstatuses", status_guid, field="travelReimbursementStatus")
    else:
        status = next((s for s in store.all("travelreimbursementstatuses") if s.get("isDefault")), None)
        if status is None:
            raise ValidationProblem("No default travel reimbursement status.", name="travelReimbursementStatus")
    candidates = [
        e
        for e in store.all("projecttravelexpenses")
        if e["user"]["guid"] == usr["guid"]
        and e["travelReimbursement"] is None
        and e.get("travelReimbursementRequired", True)
    ]
    if not add_all_unreimbursed:
        wanted = set(included or [])
        candidates = [e for e in candidates if e["guid"] in wanted]
        missing = wanted - {e["guid"] for e in candidates}
        if missing:
            raise ValidationProblem(
                f"Travel expenses not available for reimbursement: {sorted(missing)}",
                name="includedProjectTravelExpenses",
                location="UriParameter",
            )
    company = company_of(store, store.get("businessunits", (usr.get("businessUnit") or {}).get("guid") or ""))
    currency = _currency_code(company)
    total = round(sum((e["unitCost"]["amount"] or 0.0) * (e["quantity"] or 0.0) for e in candidates), 2)
    advance = _money_in(body, "advancePayment", currency) or money(0.0, currency)
    record = store.insert(
        "travelreimbursements",
        {
            "user": {"guid": usr["guid"], "name": f"{usr['firstName']} {usr['lastName']}"},
            "title": body.get("title"),
            "number": number or store.next_number("travel"),
            "date": date or f"{store.today.isoformat()}T00:00:00+00:00",
            "approvalDate": None,
            "approvedByUser": None,
            "advancePayment": advance,
            "total": money(total - (advance["amount"] or 0.0), currency),
            "totalExpenses": money(total, currency),
            "groupBy": _enum(body, "groupBy", GROUP_BY, "None"),
            "canChangeApproval": True,
            "travelReimbursementStatus": {"guid": status["guid"], "name": status["name"]},
        },
        guid=guid,
    )
    for expense in candidates:
        store.update(
            "projecttravelexpenses",
            expense["guid"],
            {"travelReimbursement": _reimbursement_sub(record, status)},
        )
    return record


# ------------------------------------------------------------------ invoices


def _row_for(
    store: SeveraStore,
    item: Record,
    kind: str,
    invoice_guid: str,
    sort_order: int,
    default_vat: float,
    currency: str,
    sign: float,
) -> Record:
    """One invoice row for one billable item (hours, fee or travel expense)."""
    if kind == "workhours":
        code = item["workType"].get("code")
        description = item.get("invoiceRowDescription") or item["workType"]["name"]
        row_type, category, unit = "Hours", "Hours", "h"
        wt = store.get("worktypes", item["workType"]["guid"]) or {}
        sales_account = wt.get("salesAccount")
        vat_rate = default_vat
    elif kind == "projectfees":
        code = (item.get("product") or {}).get("code")
        description = item.get("invoiceRowDescription") or item.get("name") or ""
        row_type, category, unit = "ProjectFees", "ProjectFees", item.get("measurementUnit") or "pcs"
        sales_account = item.get("salesAccount")
        vat_rate = item["vatRate"] if item.get("vatRate") is not None else default_vat
    else:
        code = item["travelExpense"].get("code")
        description = item.get("invoiceRowDescription") or item["travelExpense"]["name"]
        row_type, category, unit = "TravelExpenses", "Travels", item.get("measurementUnit") or "pcs"
        # The expense's own account, else its type's (as hours take their work type's).
        expense_type = store.get("travelexpensetypes", item["travelExpense"].get("guid") or "") or {}
        sales_account = item.get("salesAccount") or expense_type.get("salesAccount")
        vat_rate = item["vatRate"] if item.get("vatRate") is not None else default_vat
    quantity = item.get("invoiceQuantity") if item.get("invoiceQuantity") is not None else item.get("quantity")
    account = store.get("salesaccounts", (sales_account or {}).get("guid") or "") if sales_account else None
    cost_center = None
    proj = store.get("projects", (item.get("project") or {}).get("guid") or "")
    if proj and proj.get("costCenter"):
        cc = store.get("costcenters", proj["costCenter"]["guid"])
        cost_center = {"number": cc["identifier"], "name": cc["name"]} if cc else None
    return {
        "invoiceGuid": invoice_guid,
        "rowType": row_type,
        "description": description,
        "quantity": sign * float(quantity or 0.0),
        "unitPrice": money((item.get("unitPrice") or {}).get("amount") or 0.0, currency),
        "measurementUnit": unit,
        "vatRate": vat_rate,
        "sortOrder": sort_order,
        "salesAccount": {"number": account["number"], "name": account["name"]} if account else None,
        "recurringSalesAccount": None,
        "costCenter": cost_center,
        "vatAccount": None,
        "salesReceivableAccount": None,
        "category": category,
        "flatRateGuid": None,
        "hasInvoiceComment": bool(item.get("invoiceRowComment")),
        "code": [code] if code else [],
    }


def _receiver_address(store: SeveraStore, cust: Record) -> Record:
    addresses = store.find("addresses", customer={"name": cust["name"], "guid": cust["guid"], "number": cust["number"]})
    postal = next((a for a in addresses if a.get("isBillingAddress")), None) or next(
        (a for a in addresses if a.get("isPostalAddress")), None
    )
    if postal:
        return {
            "addressline": postal.get("addressline"),
            "postalCode": postal.get("postalCode"),
            "city": postal.get("city"),
            "state": None,
            "country": (postal.get("country") or {}).get("name"),
        }
    hq = cust.get("headquarterAddress") or {}
    return {
        "addressline": hq.get("addressline"),
        "postalCode": hq.get("postalCode"),
        "city": hq.get("city"),
        "state": None,
        "country": hq.get("country"),
    }


def create_invoices(
    store: SeveraStore,
    body: Record,
    *,
    number: int | None = None,
    guid: str | None = None,
    credit_note_of: str | None = None,
    extra: Record | None = None,
) -> list[Record]:
    """``POST /v1/invoices``: invoice the projects' uninvoiced billable hours, fees and travel expenses.

    One invoice per project, or one for all when ``groupProjects``. ``number``/``guid``/``credit_note_of``/
    ``extra`` are for the demo seed only (the HTTP route never passes them).
    """
    projects_in = body.get("projects")
    if not isinstance(projects_in, list) or not projects_in:
        raise ValidationProblem("The projects field is required.", name="projects")
    projects = [store.require("projects", (p or {}).get("guid"), field="projects") for p in projects_in]
    status_guid = body.get("invoiceStatusGuid")
    status: Record | None
    if status_guid:
        status = store.require("invoicestatuses", status_guid, field="invoiceStatusGuid")
    else:
        status = next((s for s in store.all("invoicestatuses") if s.get("isDefault")), None)
        if status is None:
            raise ValidationProblem("No default invoice status.", name="invoiceStatusGuid")
    billing_guid = body.get("billingCustomerGuid")
    billing = store.require("customers", billing_guid, field="billingCustomerGuid") if billing_guid else None
    date = _date(body, "date") or store.today.isoformat()
    groups = [projects] if body.get("groupProjects") else [[p] for p in projects]
    created = []
    for group in groups:
        created.append(
            _create_one_invoice(
                store,
                group,
                status,
                billing,
                date,
                number=number,
                guid=guid,
                credit_note_of=credit_note_of,
                extra=extra or {},
            )
        )
        number = guid = None
    return created


def _create_one_invoice(
    store: SeveraStore,
    projects: list[Record],
    status: Record,
    billing: Record | None,
    date: str,
    *,
    number: int | None,
    guid: str | None,
    credit_note_of: str | None,
    extra: Record,
) -> Record:
    first = projects[0]
    cust = store.require("customers", first["customer"]["guid"])
    receiver = billing or cust
    bu = store.get("businessunits", (first.get("businessUnit") or {}).get("guid") or "")
    company = company_of(store, bu)
    company_bu = store.get("businessunits", company["rootBusinessUnitGuid"]) if company else None
    currency_code = _currency_code(company)
    currency = store.get("currencies", company["currencyGuid"]) if company else None
    default_vat = default_vat_rate(store, company)
    project_guids = {p["guid"] for p in projects}
    sign = -1.0 if credit_note_of else 1.0

    items: list[tuple[str, Record]] = []
    for kind in ("workhours", "projectfees", "projecttravelexpenses"):
        for item in store.all(kind):
            item_project = (item.get("project") or {}).get("guid")
            if item_project in project_guids and item.get("isBillable") and item.get("invoice") is None:
                items.append((kind, item))

    payment_term = cust.get("paymentTerm") or first.get("paymentTerm") or 14
    invoice_number = number if number is not None else store.next_number("invoice")
    org = store.organization
    invoice = store.insert(
        "invoices",
        {
            "number": invoice_number,
            "referenceNumber": finnish_reference(invoice_number),
            "status": {k: status[k] for k in ("guid", "name", "isSent", "isWaitingPayment", "isPaid")},
            "customer": {"name": cust["name"], "guid": cust["guid"], "number": cust["number"]},
            "projects": [{"name": p["name"], "guid": p["guid"], "number": p["number"]} for p in projects],
            "date": date,
            "dueDate": (dt.date.fromisoformat(date) + dt.timedelta(days=payment_term)).isoformat(),
            "paymentDate": None,
            "entryDate": date,
            "paymentTerm": payment_term,
            "overdueInterest": cust.get("overdueInterest") if cust.get("overdueInterest") is not None else 8.0,
            "ourReference": first.get("ourReference"),
            "yourReference": first.get("yourReference"),
            "currency": {k: currency.get(k) for k in ("guid", "name", "code", "symbol")} if currency else None,
            "currencyRate": 1.0,
            "workHoursQuantity": 0.0,
            "receiverCustomerName": receiver["name"],
            "receiverContactGuid": None,
            "receiverContactName": None,
            "receiverContactEmail": receiver.get("email"),
            "receiverAddress": _receiver_address(store, receiver),
            "receiverVatNumber": receiver.get("vatNumber"),
            "receiverKvkNumber": None,
            "senderName": company["name"] if company else org.get("name"),
            "senderContactName": None,
            "senderContactGuid": None,
            "senderAddress": {
                "addressline": org.get("address"),
                "postalCode": org.get("postalCode"),
                "city": org.get("city"),
                "state": None,
                "country": (company or {}).get("country", {}).get("name"),
            },
            "senderVatNumber": (company_bu or {}).get("vatNumber"),
            "senderKvkNumber": None,
            "isCreditNote": bool(credit_note_of),
            "reimburseInvoice": None,
            "creditNoteInvoice": None,
            "invoiceNumberBusinessUnitGuid": (company_bu or {}).get("guid"),
            "orderNumber": first.get("orderNumber"),
            "invoiceTemplate": None,
            "culture": None,
            "billingCustomer": {
                "name": receiver["name"],
                "guid": receiver["guid"],
                "number": receiver["number"],
            },
            "notes": first.get("invoiceNotes"),
            "freeText1": None,
            "freeText2": None,
            "language": cust.get("language"),
            "canBeDeleted": not status.get("isReadOnly"),
            "workHourValueAddedTax": default_vat,
        }
        | extra,
        guid=guid,
    )

    totals = {"Hours": 0.0, "ProjectFees": 0.0, "Travels": 0.0}
    tax = 0.0
    hours = 0.0
    for sort_order, (kind, item) in enumerate(items):
        row = store.insert(
            "invoicerows",
            _row_for(store, item, kind, invoice["guid"], sort_order, default_vat, currency_code, sign),
            guid=str(uuid.uuid5(uuid.UUID(invoice["guid"]), f"row:{sort_order}")),
        )
        line = row["quantity"] * (row["unitPrice"]["amount"] or 0.0)
        totals[row["category"]] += line
        tax += line * (row["vatRate"] or 0.0) / 100
        if kind == "workhours":
            hours += row["quantity"]
        item_invoice = {"guid": invoice["guid"], "date": date, "number": invoice_number}
        store.update(kind, item["guid"], {"invoice": item_invoice, "invoiceRowGuid": row["guid"]})
    net = sum(totals.values())
    changes: Record = {
        "totalExcludingTax": money(net, currency_code),
        "totalTax": money(tax, currency_code),
        "totalIncludingTax": money(net + tax, currency_code),
        "workHoursTotalExcludingTax": money(totals["Hours"], currency_code),
        "projectFeesTotalExcludingTax": money(totals["ProjectFees"], currency_code),
        "projectTravelExpensesTotalExcludingTax": money(totals["Travels"], currency_code),
        "flatRatesTotalExcludingTax": money(0.0, currency_code),
        "workHoursQuantity": hours,
    }
    if credit_note_of:
        original = store.require("invoices", credit_note_of)
        changes["reimburseInvoice"] = {"guid": original["guid"], "number": original["number"]}
        store.update(
            "invoices",
            original["guid"],
            {"creditNoteInvoice": {"guid": invoice["guid"], "number": invoice_number}},
        )
    # Totals are part of creation, not a later change: keep created == lastUpdated for a fresh invoice.
    invoice.update(changes)
    return invoice

"""The shared demo organisation "Kumpula Consulting" as seen from Severa (see the demo spec).

Every identifier is deterministic: guids are ``uuid5(NAMESPACE_URL, "sevpro-demo:<kind>:<key>")``
(``demo_guid(kind, key)``), business IDs, IBANs and names are computed below, so the Procountor sandbox
and the tests can import ``DEMO_CUSTOMERS``, ``DEMO_USERS``, ``DEMO_COMPANIES`` instead of restating them.

Severa project ``number`` is an integer (int64), so project "P-2026-001" has number 2026001; the root phase's
``code`` carries the text form (``project_code(number)`` converts).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from schwifty import IBAN
from stdnum import luhn
from stdnum.fi import ytunnus
from stdnum.se import orgnr

from sandbox.severa import builders
from sandbox.severa.pdf import render_pdf
from sandbox.severa.store import ALL_SCOPES, Record, SeveraStore, demo_guid

DEMO_CLIENT_ID = "sevpro-demo-client"
DEMO_CLIENT_SECRET = "sevpro-demo-secret"

INVOICE_STATUS_NAMES = (
    "Draft",
    "Waiting for transfer to Procountor",
    "Transferred to Procountor",
    "Sent",
    "Paid",
)
TRAVEL_STATUS_NAMES = ("Draft", "Approved", "Waiting for transfer to Procountor", "Transferred to Procountor")
WAITING = "Waiting for transfer to Procountor"
TRANSFERRED = "Transferred to Procountor"


def fi_business_id(start: int) -> str:
    """The first valid Y-tunnus whose 7-digit base is >= start (some bases have no valid check digit)."""
    base = start
    while True:
        for digit in range(10):
            candidate = f"{base:07d}-{digit}"
            if ytunnus.is_valid(candidate):
                return candidate
        base += 1


def se_org_number(base9: str) -> str:
    """A Swedish organisation number NNNNNN-NNNN with its Luhn check digit."""
    number = base9 + luhn.calc_check_digit(base9)
    assert orgnr.is_valid(number)
    return f"{number[:6]}-{number[6:]}"


def broken_check_digit(business_id: str) -> str:
    """The same Y-tunnus with a wrong check digit (customer 1012's registry error)."""
    wrong = f"{business_id[:-1]}{(int(business_id[-1]) + 1) % 10}"
    assert not ytunnus.is_valid(wrong)
    return wrong


def project_code(number: int) -> str:
    """2026001 -> 'P-2026-001' (the Procountor dimension item name)."""
    return f"P-{number // 1000}-{number % 1000:03d}"


@dataclass(frozen=True)
class DemoCompany:
    key: str  # "FI" / "SE"
    name: str
    business_id: str
    iban: str
    bic: str
    currency: str
    vat_rate: float
    address: str
    postal_code: str
    city: str


DEMO_COMPANIES: dict[str, DemoCompany] = {
    "FI": DemoCompany(
        "FI",
        "Kumpula Consulting Oy",
        "2617416-4",
        str(IBAN.generate("FI", "405", "1234567")),
        "OKOYFIHH",
        "EUR",
        25.5,
        "Gustaf Hällströmin katu 2",
        "00560",
        "Helsinki",
    ),
    "SE": DemoCompany(
        "SE",
        "Kumpula Consulting AB",
        se_org_number("556000100"),
        str(IBAN.generate("SE", "500", "1234567")),
        "ESSESESS",
        "SEK",
        25.0,
        "Drottninggatan 10",
        "111 51",
        "Stockholm",
    ),
}

_FI_NAMES = {
    1001: "Aalto Analytics Oy",
    1002: "Bergroth Rakennus Oy",
    1003: "Cederberg Logistiikka Oy",
    1004: "Dahlström Design Oy",
    1005: "Eskola Energia Oy",
    1006: "Forsman Foods Oy",
    1007: "Granqvist IT Oy",
    1008: "Heinonen Health Oy",
    1009: "Ilmarinen Industries Oy",
    1010: "Jokinen Juridiikka Oy",
    1011: "Kallio Koneistus Oy",
    1012: "Lindholm Lehdet Oy",
    1101: "Mäkelä Media Oy",
    1102: "Nieminen Navigointi Oy",
    1103: "Ojala Optiikka Oy",
    1104: "Peltonen Paperi Oy",
}
_SE_NAMES = {
    2001: "Andersson Bygg AB",
    2002: "Björk Konsult AB",
    2003: "Carlsson Transport AB",
    2004: "Dahl Data AB",
}
_FI_CITIES = (("Helsinki", "00100"), ("Tampere", "33100"), ("Espoo", "02100"), ("Turku", "20100"))
_SE_CITIES = (("Stockholm", "111 20"), ("Göteborg", "411 01"), ("Malmö", "211 20"), ("Uppsala", "753 10"))


def _customer(number: int) -> Record:
    if number in _SE_NAMES:
        city, postal = _SE_CITIES[number % 4]
        business_id = se_org_number(f"556{number:06d}")
        return {
            "number": number,
            "name": _SE_NAMES[number],
            "country": "SE",
            "business_id": business_id,
            "addressline": f"Storgatan {number % 100}",
            "postal_code": postal,
            "city": city,
        }
    city, postal = _FI_CITIES[number % 4]
    business_id = fi_business_id(3000000 + number * 7)
    if number == 1012:
        business_id = broken_check_digit(business_id)
    return {
        "number": number,
        "name": _FI_NAMES[number],
        "country": "FI",
        "business_id": business_id,
        "addressline": f"Mannerheimintie {number % 100}",
        "postal_code": postal,
        "city": city,
    }


#: number -> {number, name, country (FI/SE), business_id, addressline, postal_code, city}
DEMO_CUSTOMERS: dict[int, dict[str, Any]] = {n: _customer(n) for n in (*_FI_NAMES, *_SE_NAMES)}

#: code -> (first name, last name, IBAN)
DEMO_USERS: dict[str, tuple[str, str, str]] = {
    f"E00{i}": (first, last, str(IBAN.generate("FI", "405", f"{7654320 + i}")))
    for i, (first, last) in enumerate(
        [
            ("Aino", "Virtanen"),
            ("Eero", "Korhonen"),
            ("Helmi", "Nieminen"),
            ("Juho", "Mäkinen"),
            ("Sofia", "Hämäläinen"),
            ("Onni", "Laine"),
        ],
        start=1,
    )
}

#: product code -> (name, unit price, measurement unit, ProductType)
DEMO_PRODUCTS = {
    "LIC-ANNUAL": ("Annual licence", 1200.0, "pcs", "Materials"),
    "SUPPORT-H": ("Support hour", 95.0, "h", "FixedFees"),
    "WORKSHOP": ("Workshop day", 1500.0, "day", "FixedFees"),
    "HW-LAPTOP": ("Laptop", 1400.0, "pcs", "Materials"),
}
DEMO_WORK_TYPES = {
    "DEV": ("Development", 110.0),
    "PM": ("Project management", 120.0),
    "DESIGN": ("Design", 100.0),
    "TRAINING": ("Training", 130.0),
}
#: code -> (name, expense class, unit cost, unit, purchase VAT %)
DEMO_TRAVEL_TYPES = {
    "KM-ALLOWANCE": ("Mileage allowance", "Mileage", 0.59, "km", 0.0),
    "DAILY-FULL": ("Full daily allowance", "DailyAllowance", 54.0, "day", 0.0),
    "DAILY-PART": ("Partial daily allowance", "DailyAllowance", 25.0, "day", 0.0),
    "TRAVEL-TICKET": ("Travel ticket", "OtherTravelExpense", 0.0, "pcs", 13.5),  # FI reduced rate from 2026
}
#: project number -> (name, customer number, company/unit key, cost center)
DEMO_PROJECTS = {
    2026001: ("Data platform renewal", 1001, "FI", "CC-HEL"),
    2026002: ("Site management system", 1002, "FI", "CC-HEL"),
    2026003: ("Warehouse integration", 1003, "FI", "CC-HEL"),
    2026004: ("Brand refresh", 1004, "FI", "CC-TRE"),
    2026005: ("Energy reporting", 1005, "FI", "CC-TRE"),
    2026006: ("Research prototype", 1101, "LABS", "CC-TRE"),
    2026007: ("Fleet tracking", 2001, "SE", "CC-STO"),
    2026008: ("Consulting retainer", 2002, "SE", "CC-STO"),
}
LONG_PRODUCT_NAME = (
    "Workshop day: facilitated requirements workshop for the data platform renewal, including "
    "preparation, materials and a written summary"
)[:130].ljust(130, ".")


def seed_empty(store: SeveraStore) -> None:
    """An organisation with only the demo credentials (all scopes)."""
    store.add_api_client(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, ALL_SCOPES)


def _ref(kind: str, key: object) -> Record:
    return {"guid": demo_guid(kind, key)}


def _company_model(store: SeveraStore, key: str) -> Record:
    company = store.require("companies", demo_guid("company", key))
    fields = (
        "name",
        "guid",
        "rootBusinessUnitGuid",
        "country",
        "currencyGuid",
        "currencyRate",
        "currencyCode",
        "currencySymbol",
    )
    return {k: company.get(k) for k in fields}


def _seed_settings(store: SeveraStore) -> None:
    for code2, code3, name, eu in (("FI", "FIN", "Finland", True), ("SE", "SWE", "Sweden", True)):
        store.insert(
            "countries",
            {
                "name": name,
                "englishName": name,
                "code2": code2,
                "code3": code3,
                "hasRegions": "NoRegion",
                "companyRegisterUrl": None,
                "isInEU": eu,
                "defaultCulture": None,
                "isRegistrationCountry": code2 == "FI",
                "currency": None,
                "defaultLanguage": None,
                "timezone": None,
            },
            guid=demo_guid("country", code2),
        )
    for code, name, symbol, org in (("EUR", "Euro", "€", True), ("SEK", "Swedish krona", "kr", False)):
        store.insert(
            "currencies",
            {
                "name": name,
                "code": code,
                "rate": 1.0 if org else 11.5,
                "symbol": symbol,
                "isActive": True,
                "isOrganizationCurrency": org,
            },
            guid=demo_guid("currency", code),
        )
    for country, rates in (("FI", (25.5, 14.0, 10.0, 0.0)), ("SE", (25.0, 12.0, 6.0, 0.0))):
        for i, rate in enumerate(rates):
            store.insert(
                "vatrates",
                {
                    "percentage": rate,
                    "code": f"{country}{rate:g}",
                    "isActive": True,
                    "isDefault": i == 0,
                    "countryGuid": demo_guid("country", country),
                },
                guid=demo_guid("vatrate", f"{country}-{rate:g}"),
            )
    for company in DEMO_COMPANIES.values():
        store.insert(
            "companies",
            {
                "name": company.name,
                "rootBusinessUnitGuid": demo_guid("businessunit", company.key),
                "country": {
                    "name": "Finland" if company.key == "FI" else "Sweden",
                    "guid": demo_guid("country", company.key),
                    "code3": "FIN" if company.key == "FI" else "SWE",
                    "englishName": "Finland" if company.key == "FI" else "Sweden",
                },
                "currencyGuid": demo_guid("currency", company.currency),
                "currencyRate": 1.0,
                "currencyCode": company.currency,
                "currencySymbol": "€" if company.currency == "EUR" else "kr",
            },
            guid=demo_guid("company", company.key),
        )
    for identifier, name in (("CC-HEL", "Helsinki"), ("CC-TRE", "Tampere"), ("CC-STO", "Stockholm")):
        store.insert(
            "costcenters",
            builders.cost_center(store, {"name": name, "identifier": identifier}),
            guid=demo_guid("costcenter", identifier),
        )
    for company in DEMO_COMPANIES.values():
        store.insert(
            "businessunits",
            builders.business_unit(
                store,
                {
                    "name": company.name,
                    "vatNumber": company.business_id,
                    "companyGuid": demo_guid("company", company.key),
                    "code": company.key,
                },
            ),
            guid=demo_guid("businessunit", company.key),
        )
    store.insert(
        "businessunits",
        builders.business_unit(
            store, {"name": "Kumpula Labs", "parentGuid": demo_guid("businessunit", "FI"), "code": "LABS"}
        ),
        guid=demo_guid("businessunit", "LABS"),
    )
    fi = DEMO_COMPANIES["FI"]
    store.organization = {
        "guid": demo_guid("organization", "kumpula"),
        "name": "Kumpula Consulting",
        "vatNumber": fi.business_id,
        "kvkNumber": None,
        "isVatRegistered": True,
        "registeredOffice": fi.city,
        "address": fi.address,
        "postalCode": fi.postal_code,
        "city": fi.city,
        "country": {
            "name": "Finland",
            "code": "FI",
            "guid": demo_guid("country", "FI"),
            "englishName": "Finland",
        },
        "phone": "+358 9 123 4567",
        "fax": None,
        "termsOfServiceApprover": None,
        "eInvoiceAddress": None,
        "eInvoiceOperatorCode": None,
        "odpCompany": None,
        "currency": {"guid": demo_guid("currency", "EUR"), "name": "Euro", "code": "EUR", "symbol": "€"},
        "language": None,
        "formatting": None,
        "timezone": None,
        "activeCompanies": [_company_model(store, key) for key in DEMO_COMPANIES],
        "activeAddons": ["RestApi", "Procountor"],
    }
    for company in DEMO_COMPANIES.values():
        store.insert(
            "bankaccounts",
            {
                "bankName": "OP" if company.key == "FI" else "SEB",
                "accountNumber": company.iban,
                "bic": company.bic,
                "accountNumberFormat": "Iban",
                "isActive": True,
                "businessUnit": {"guid": demo_guid("businessunit", company.key), "name": company.name},
                "company": {"guid": demo_guid("company", company.key), "name": company.name},
            },
            guid=demo_guid("bankaccount", company.key),
        )
    for number, name, flags in (
        ("3000", "Sales of services", {"isWorkTypeDefault": True}),
        ("3010", "Sales of products", {"isProductDefault": True}),
        ("3020", "Re-invoiced travel expenses", {"isTravelTypeDefault": True}),
    ):
        store.insert(
            "salesaccounts",
            builders.sales_account(store, {"name": name, "number": number} | flags),
            guid=demo_guid("salesaccount", number),
        )
    store.insert(
        "costaccounts",
        builders.cost_account(store, {"name": "Travel expenses", "number": "7700", "isTravelTypeDefault": True}),
        guid=demo_guid("costaccount", "7700"),
    )
    for i, name in enumerate(INVOICE_STATUS_NAMES):
        store.insert(
            "invoicestatuses",
            builders.invoice_status(
                store,
                {
                    "name": name,
                    "sortOrder": i + 1,
                    "isDefault": name == "Draft",
                    "isDefaultForCreditNote": name == "Draft",
                    "isReadOnly": name != "Draft",
                    "hasInvoiceNumber": name != "Draft",
                    "isSent": name in (WAITING, "Sent", "Paid"),  # the seed: the transfer status is Sent
                    "isWaitingPayment": name == "Sent",
                    "isPaid": name == "Paid",
                },
            ),
            guid=demo_guid("invoicestatus", name),
        )
    for i, name in enumerate(TRAVEL_STATUS_NAMES):
        store.insert(
            "travelreimbursementstatuses",
            builders.travel_reimbursement_status(
                store,
                {
                    "name": name,
                    "sortOrder": i + 1,
                    "isDefault": name == "Draft",
                    "isApproved": name != "Draft",
                    "isLocked": name in (WAITING, TRANSFERRED),
                },
            ),
            guid=demo_guid("travelreimbursementstatus", name),
        )
    for code, (name, price, unit, product_type) in DEMO_PRODUCTS.items():
        store.insert(
            "products",
            builders.product(
                store,
                {
                    "name": name,
                    "code": code,
                    "unitPrice": {"amount": price, "currencyCode": "EUR"},
                    "measurementUnit": unit,
                    "type": product_type,
                    "salesAccount": _ref("salesaccount", "3010"),
                },
            ),
            guid=demo_guid("product", code),
        )
    for code, (name, _price) in DEMO_WORK_TYPES.items():
        store.insert(
            "worktypes",
            builders.work_type(store, {"name": name, "code": code, "salesAccount": _ref("salesaccount", "3000")}),
            guid=demo_guid("worktype", code),
        )
    for code, (name, expense_class, cost, unit, purchase_vat) in DEMO_TRAVEL_TYPES.items():
        store.insert(
            "travelexpensetypes",
            builders.travel_expense_type(
                store,
                {
                    "name": name,
                    "code": code,
                    "expenseClass": expense_class,
                    "measurementUnit": unit,
                    "unitCost": {"amount": cost, "currencyCode": "EUR"},
                    "purchaseVatRate": purchase_vat,
                    "includeTime": expense_class == "DailyAllowance",
                    "costAccount": _ref("costaccount", "7700"),
                    "salesAccount": _ref("salesaccount", "3020"),
                },
            ),
            guid=demo_guid("travelexpensetype", code),
        )


def _seed_people(store: SeveraStore) -> None:
    for code, (first, last, iban) in DEMO_USERS.items():
        store.insert(
            "users",
            builders.user(
                store,
                {
                    "firstName": first,
                    "lastName": last,
                    "code": code,
                    "bankAccountNumber": iban,
                    "email": f"{first.lower()}.{last.lower().replace('ä', 'a')}@kumpula.example",
                    "businessUnit": _ref("businessunit", "FI"),
                },
            ),
            guid=demo_guid("user", code),
        )
    for number, data in DEMO_CUSTOMERS.items():
        extra: Record = {}
        if number == 1003:
            digits = data["business_id"].replace("-", "")
            extra = {"eInvoiceAddress": f"0037{digits}", "eInvoiceOperator": "003721291126"}
        if number == 1004:
            extra = {"email": "laskut@dahlstromdesign.example"}
        currency = "SEK" if data["country"] == "SE" else "EUR"
        store.insert(
            "customers",
            builders.customer(
                store,
                {
                    "name": data["name"],
                    "number": number,
                    "vatNumber": data["business_id"],
                    "paymentTerm": 14,
                    "currency": {
                        "guid": demo_guid("currency", currency),
                        "code": currency,
                        "name": currency,
                        "symbol": None,
                    },
                    "headquarterAddress": {
                        "addressline": data["addressline"],
                        "postalCode": data["postal_code"],
                        "city": data["city"],
                        "country": "Finland" if data["country"] == "FI" else "Sweden",
                    },
                }
                | extra,
            ),
            guid=demo_guid("customer", number),
        )
        store.insert(
            "addresses",
            builders.address(
                store,
                demo_guid("customer", number),
                {
                    "addressline": data["addressline"],
                    "postalCode": data["postal_code"],
                    "city": data["city"],
                    "isPostalAddress": True,
                    "isBillingAddress": True,
                    "isVisitAddress": True,
                    "country": _ref("country", data["country"]),
                },
            ),
            guid=demo_guid("address", number),
        )
        store.insert(
            "contactpersons",
            builders.contact_person(
                store,
                {
                    "firstName": "Contact",
                    "lastName": str(number),
                    "customer": _ref("customer", number),
                    "emails": [f"contact{number}@customer.example"],
                },
            ),
            guid=demo_guid("contactperson", number),
        )
    store.counters["customer"] = max(store.counters["customer"], 2004)
    for number, (name, customer, unit, cost_center) in DEMO_PROJECTS.items():
        body = {
            "name": name,
            "number": number,
            "customer": _ref("customer", customer),
            "projectOwner": _ref("user", "E001"),
            "businessUnit": _ref("businessunit", unit),
            "costCenter": _ref("costcenter", cost_center),
            "startDate": "2026-01-01",
            "_rootPhaseGuid": demo_guid("phase", number),
        }
        builders.create_project(store, body, guid=demo_guid("project", number))
        store.update("phases", demo_guid("phase", number), {"code": project_code(number)})
    store.counters["project"] = max(store.counters["project"], 2026008)


# invoice number -> (customer number, project number, status, date, items)
# item: ("hours", work type, qty) | ("fee", product code, qty) | ("travel", travel code, qty)
InvoicePlan = dict[int, tuple[int, int, str, str, list[tuple[str, str, float]]]]


def _invoice_plan() -> InvoicePlan:
    fi_projects = [2026001, 2026002, 2026003, 2026004, 2026005, 2026006]
    plan: InvoicePlan = {
        10001: (1001, 2026001, "Paid", "2026-09-30", [("hours", "DEV", 20.0), ("fee", "LIC-ANNUAL", 1.0)]),
        10002: (
            1001,
            2026001,
            WAITING,
            "2026-11-20",
            [("hours", "DEV", 12.5), ("hours", "PM", 4.0), ("fee", "LIC-ANNUAL", 1.0)],
        ),
        10003: (
            1002,
            2026002,
            WAITING,
            "2026-11-20",
            [("hours", "TRAINING", 6.0), ("fee", "SUPPORT-H", 3.0)],
        ),
        10004: (1003, 2026003, WAITING, "2026-11-21", [("fee", "HW-LAPTOP", 2.0), ("hours", "DESIGN", 8.0)]),
        10005: (1005, 2026005, WAITING, "2026-11-21", [("hours", "DEV", 10.0)]),
        10006: (1012, 2026004, WAITING, "2026-11-22", [("hours", "PM", 3.0), ("fee", "SUPPORT-H", 2.0)]),
        10007: (1004, 2026004, WAITING, "2025-12-15", [("hours", "DESIGN", 16.0)]),
        10008: (1006, 2026001, WAITING, "2026-11-22", [("fee", "WORKSHOP", 1.0)]),
        10009: (1009, 2026002, WAITING, "2026-11-23", [("hours", "DEV", 7.5), ("fee", "SUPPORT-H", 1.0)]),
        10010: (
            1101,
            2026006,
            WAITING,
            "2026-11-23",
            [("hours", "DEV", 5.0), ("travel", "KM-ALLOWANCE", 180.0), ("travel", "DAILY-FULL", 1.0)],
        ),
        10011: (2001, 2026007, WAITING, "2026-11-24", [("hours", "PM", 6.0), ("fee", "WORKSHOP", 1.0)]),
        10012: (2004, 2026008, WAITING, "2026-11-24", [("hours", "DEV", 9.0), ("fee", "HW-LAPTOP", 1.0)]),
        10013: (1001, 2026001, WAITING, "2026-11-24", [("hours", "DEV", 2.0)]),  # credit note of 10001
    }
    fi_customers = [1001, 1002, 1003, 1004, 1006, 1007, 1008, 1010, 1011, 1102, 1103, 1104]
    se_customers = [2001, 2002, 2003]
    kinds = [
        ("hours", "DEV", 8.0),
        ("hours", "PM", 2.0),
        ("fee", "SUPPORT-H", 4.0),
        ("travel", "KM-ALLOWANCE", 60.0),
        ("hours", "DESIGN", 5.0),
        ("fee", "LIC-ANNUAL", 1.0),
    ]
    for i, number in enumerate(range(10014, 10037)):
        status = "Draft" if number <= 10020 else ("Sent" if number <= 10028 else "Paid")
        month = 1 + i % 11
        if i % 5 == 4:
            customer, project = se_customers[i % 3], 2026007 + i % 2
        else:
            customer, project = fi_customers[i % len(fi_customers)], fi_projects[i % len(fi_projects)]
        items = [kinds[i % 6], kinds[(i + 2) % 6]]
        plan[number] = (customer, project, status, f"2026-{month:02d}-{10 + i % 15:02d}", items)
    return plan


def _seed_invoices(store: SeveraStore, plan: InvoicePlan | None = None) -> None:
    """The demo's invoices, or those of `plan` (number → customer, project, status, date, rows)."""
    demo_plan = plan is None
    for number, (customer_no, project_no, status, date, items) in sorted((plan or _invoice_plan()).items()):
        project_guid = demo_guid("project", project_no)
        for i, (item_kind, code, qty) in enumerate(items):
            key = f"{number}-{i}"
            if item_kind == "hours":
                body = {
                    "phase": _ref("phase", project_no),
                    "user": _ref("user", f"E00{1 + i % 5}"),
                    "workType": _ref("worktype", code),
                    "eventDate": date,
                    "quantity": qty,
                    "unitPrice": {"amount": DEMO_WORK_TYPES[code][1], "currencyCode": "EUR"},
                }
                store.insert("workhours", builders.work_hour(store, body), guid=demo_guid("workhour", key))
            elif item_kind == "fee":
                body = {
                    "project": {"guid": project_guid},
                    "product": _ref("product", code),
                    "quantity": qty,
                    "eventDate": date,
                }
                if number == 10008:
                    body["name"] = LONG_PRODUCT_NAME
                store.insert("projectfees", builders.project_fee(store, body), guid=demo_guid("projectfee", key))
            else:
                body = {
                    "project": {"guid": project_guid},
                    "user": _ref("user", "E002"),
                    "travelExpense": _ref("travelexpensetype", code),
                    "quantity": qty,
                    "eventDate": date,
                    "travelReimbursementRequired": False,
                }
                store.insert(
                    "projecttravelexpenses",
                    builders.project_travel_expense(store, body),
                    guid=demo_guid("projecttravelexpense", key),
                )
        customer = store.get("customers", demo_guid("customer", customer_no))
        assert customer is not None
        cust_sub = {"name": customer["name"], "guid": customer["guid"], "number": customer["number"]}
        extra: Record = {
            "customer": cust_sub,
            "billingCustomer": cust_sub,
            "receiverCustomerName": customer["name"],
            "receiverVatNumber": customer["vatNumber"],
            "receiverContactEmail": customer.get("email"),
            "receiverAddress": builders._receiver_address(store, customer),
            "yourReference": f"Order {number - 9000}" if number % 3 == 0 else None,
        }
        if status == "Paid":
            extra["paymentDate"] = date
        builders.create_invoices(
            store,
            {
                "projects": [{"guid": project_guid}],
                "invoiceStatusGuid": demo_guid("invoicestatus", status),
                "date": date,
            },
            number=number,
            guid=demo_guid("invoice", number),
            credit_note_of=demo_guid("invoice", 10001) if demo_plan and number == 10013 else None,
            extra=extra,
        )
    store.counters["invoice"] = max(store.counters["invoice"], max(plan) if plan else 10036)
    for number in () if plan else (10002, 10010):
        pdf = render_pdf(
            [[f"Timesheet for invoice {number}", "Work hours by person and day"]], title=f"Timesheet {number}"
        )
        store.attach_invoice_file(demo_guid("invoice", number), f"timesheet_{number}.pdf", "application/pdf", pdf)


# reimbursement number -> (user code, status, [(travel code, qty, project number, unit cost or None)])
_REIMBURSEMENTS: dict[int, tuple[str, str, list[tuple[str, float, int, float | None]]]] = {
    1: ("E001", WAITING, [("KM-ALLOWANCE", 240.0, 2026001, None), ("DAILY-FULL", 2.0, 2026001, None)]),
    2: ("E002", WAITING, [("DAILY-PART", 1.0, 2026002, None), ("TRAVEL-TICKET", 1.0, 2026002, 89.9)]),
    3: ("E006", WAITING, [("KM-ALLOWANCE", 120.0, 2026003, None)]),
    4: ("E003", "Approved", [("DAILY-FULL", 1.0, 2026004, None)]),
    5: ("E004", "Draft", [("KM-ALLOWANCE", 45.0, 2026001, None)]),
    6: ("E005", TRANSFERRED, [("TRAVEL-TICKET", 1.0, 2026002, 45.5)]),
}


def _seed_travel(store: SeveraStore) -> None:
    for number, (user_code, status, expenses) in _REIMBURSEMENTS.items():
        for i, (code, qty, project_no, unit_cost) in enumerate(expenses):
            body: Record = {
                "project": _ref("project", project_no),
                "user": _ref("user", user_code),
                "travelExpense": _ref("travelexpensetype", code),
                "quantity": qty,
                "eventDate": f"2026-11-{10 + number:02d}",
                "isBillable": False,
                "description": f"Customer visit {project_code(project_no)}",
            }
            if unit_cost is not None:
                body["unitCost"] = {"amount": unit_cost, "currencyCode": "EUR"}
            store.insert(
                "projecttravelexpenses",
                builders.project_travel_expense(store, body),
                guid=demo_guid("projecttravelexpense", f"TR{number}-{i}"),
            )
        builders.create_travel_reimbursement(
            store,
            {
                "user": _ref("user", user_code),
                "title": f"Trip {number} / {user_code}",
                "travelReimbursementStatus": _ref("travelreimbursementstatus", status),
            },
            guid=demo_guid("travelreimbursement", number),
            number=number,
            date=f"2026-11-{14 + number:02d}T00:00:00+00:00",
        )
    store.counters["travel"] = max(store.counters["travel"], len(_REIMBURSEMENTS))


def seed_demo(store: SeveraStore) -> None:
    """Fill the store with the demo organisation."""
    seed_empty(store)
    _seed_settings(store)
    _seed_people(store)
    _seed_invoices(store)
    _seed_travel(store)


def seed_organisation(store: SeveraStore, *, draft_invoices: int) -> None:
    """One organisation of many (sandbox/severa/organisations.py): the demo's settings and people, and
    `draft_invoices` drafts of customer 1001 (whose records match Procountor's) on project 2026001, numbered
    10001…; no API client (the caller adds the organisation's own)."""
    _seed_settings(store)
    _seed_people(store)
    _seed_invoices(store, {10000 + k: (1001, 2026001, "Draft", "2026-11-20", [("hours", "DEV", float(k))])
                           for k in range(1, draft_invoices + 1)})

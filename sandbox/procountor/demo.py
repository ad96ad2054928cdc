"""The shared demo organisation on the Procountor side (see the demo spec): two companies, FI and SE.

FI and SE customers carry the Severa demo's business IDs and names (sandbox.severa.demo.DEMO_CUSTOMERS), so
that both sandboxes serve one organisation; numbers outside it get IDs derived from the number.
Procountor's partner 1005 deliberately carries another firm's Y-tunnus (`MISMATCH_1005_BUSINESS_ID`).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from schwifty import IBAN

from .invoicing import create_invoice, update_ledger_receipt
from .store import Company, ProcountorStore

DEMO_CLIENT_ID = "sevpro-demo-client"
DEMO_CLIENT_SECRET = "sevpro-demo-secret"
DEMO_FI_API_KEY = "demo-fi-api-key"
DEMO_SE_API_KEY = "demo-se-api-key"

FI_COMPANY = {
    "name": "Kumpula Consulting Oy",
    "businessId": "2617416-4",
    "iban": "FI2112345600000785",
    "bic": "NDEAFIHH",
}
SE_COMPANY = {
    "name": "Kumpula Consulting AB",
    "businessId": "556000-1009",  # as the Severa demo's SE company
    "iban": "SE4550000000058398257466",
    "bic": "ESSESESS",
}

FI_CUSTOMER_NAMES = {
    1001: "Aalto Analytics Oy",
    1002: "Borealis Bakery Oy",
    1003: "C-Sähkö Oy",
    1004: "Dyyni Design Oy",
    1005: "Eräkettu Oy",
    1006: "Fjällräv Finland Oy",
    1007: "Gallen Games Oy",
    1008: "Hanko Harbour Oy",
    1009: "Ilmari Insights Oy",
    1010: "Joki Logistics Oy",
    1011: "Kivi Kiinteistöt Oy",
    1012: "Lumo Legal Oy",
    1101: "Meri Media Oy",
    1102: "Nokkela Networks Oy",
    1103: "Oulu Optics Oy",
    1104: "Pori Power Oy",
}
SE_CUSTOMER_NAMES = {
    2001: "Alvik Analys AB",
    2002: "Bergs Bageri AB",
    2003: "Cederträ Konsult AB",
    2004: "Dala Design AB",
}
FI_CUSTOMER_CITIES = ["Helsinki", "Espoo", "Tampere", "Turku", "Oulu", "Vantaa", "Lahti", "Jyväskylä"]


def _severa_business_id(customer_number: int) -> str | None:
    """The business ID the Severa demo gives this customer, when it is a valid one (1012's is not)."""
    from stdnum.fi import ytunnus
    from stdnum.se import orgnr

    from sandbox.severa.demo import DEMO_CUSTOMERS  # one demo organisation: both sandboxes agree on it

    customer = DEMO_CUSTOMERS.get(customer_number)
    if customer is None:
        return None
    business_id = str(customer["business_id"])
    return business_id if ytunnus.is_valid(business_id) or orgnr.is_valid(business_id) else None


def _severa_name(customer_number: int, fallback: str) -> str:
    from sandbox.severa.demo import DEMO_CUSTOMERS

    return str(DEMO_CUSTOMERS.get(customer_number, {}).get("name") or fallback)


def fi_business_id(customer_number: int, base: int = 2900000) -> str:
    """The Severa demo's Y-tunnus for this customer; otherwise one derived from the number."""
    if base == 2900000 and (severa := _severa_business_id(customer_number)):
        return severa
    weights = (7, 9, 10, 5, 8, 4, 2)
    value = base + customer_number
    while True:
        digits = f"{value:07d}"
        remainder = sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
        if remainder != 1:
            return f"{digits}-{0 if remainder == 0 else 11 - remainder}"
        value += 1


def se_business_id(customer_number: int, base: int = 559000000) -> str:
    """The Severa demo's organisation number for this customer; otherwise one derived from the number."""
    if base == 559000000 and (severa := _severa_business_id(customer_number)):
        return severa
    digits = f"{base + customer_number:09d}"
    total = 0
    for i, d in enumerate(reversed(digits)):
        v = int(d) * (2 if i % 2 == 0 else 1)
        total += v - 9 if v > 9 else v
    return f"{digits[:6]}-{digits[6:]}{(10 - total % 10) % 10}"


MISMATCH_1005_BUSINESS_ID = fi_business_id(1005, base=2910000)  # not Severa's 2901005-0
PRODUCT_CODES = ["LIC-ANNUAL", "SUPPORT-H", "WORKSHOP", "DEV", "PM", "DESIGN"]  # TRAINING, HW-LAPTOP missing
TRAVEL_CODES = ["KM-ALLOWANCE", "DAILY-FULL", "DAILY-PART", "TRAVEL-TICKET"]
DEFAULT_CODES = ["DEFAULT-PRODUCT", "DEFAULT-WORK", "DEFAULT-TRAVEL"]
FI_VAT_STATUSES = [
    {"vatStatus": 1, "description": "Domestic", "sales": True, "purchase": True, "domestic": True},
    {
        "vatStatus": 6,
        "description": "EU sales of services (reverse charge)",
        "sales": True,
        "purchase": False,
    },
    {"vatStatus": 9, "description": "Sales outside the EU", "sales": True, "purchase": False},
]


def company_info(
    company_id: int,
    name: str,
    business_id: str,
    country: str,
    brn_type: str,
    street: str,
    zip_code: str,
    city: str,
    currency: str,
) -> dict[str, Any]:
    address = {"street": street, "zip": zip_code, "city": city, "country": country}
    return {
        "id": company_id,
        "name": name,
        "country": country,
        "productVersion": "FINAGO_SOLO",  # values of the public Company enums (S2)
        "operationType": "PRODUCTION",
        "companyAddress": {**address, "specifier": "", "poBox": ""},
        "billingAddress": address,
        "inTradeRegister": True,
        "businessIdentifier": {"brnType": brn_type, "code": business_id},
        "accountingCoaLanguages": ["FINNISH"],
        "companyCurrency": currency,
    }


def fiscal_years(company: Company) -> list[dict[str, Any]]:
    """2025 closed, 2026 and 2027 open; monthly tracking periods, newest year first."""
    years = []
    for year, open_ in ((2027, True), (2026, True), (2025, False)):
        periods = []
        for month in range(1, 13):
            end = date(year + (month == 12), month % 12 + 1, 1).toordinal() - 1
            periods.append(
                {
                    "id": company.new_id(),
                    "startDate": date(year, month, 1).isoformat(),
                    "endDate": date.fromordinal(end).isoformat(),
                    "status": "OPEN" if open_ else "CLOSED",
                    "modified": f"{year}-01-01T00:00:00",
                }
            )
        years.append(
            {
                "id": company.new_id(),
                "startDate": f"{year}-01-01",
                "endDate": f"{year}-12-31",
                "modified": f"{year}-01-01T00:00:00",
                "isOpen": open_,
                "trackingPeriods": periods,
            }
        )
    return years


def base_company(store: ProcountorStore, code: str) -> Company:
    """Credentials, company info, bank account, fiscal years and VAT: what `seed=None` provides."""
    fi = code == "FI"
    spec = FI_COMPANY if fi else SE_COMPANY
    company = Company(code=code, info={})
    company.info = company_info(
        1001 if fi else 1002,
        spec["name"],
        spec["businessId"],
        "FINLAND" if fi else "SWEDEN",
        "YHD" if fi else "SE",
        "Gustaf Hällströmin katu 2" if fi else "Drottninggatan 1",
        "00560" if fi else "111 51",
        "Helsinki" if fi else "Stockholm",
        "EUR" if fi else "SEK",
    )
    company.bank_accounts = [bank_account(company, spec["iban"], spec["bic"], "EUR" if fi else "SEK", store)]
    company.fiscal_years = fiscal_years(company)
    company.vat_statuses = [dict(s) for s in FI_VAT_STATUSES]
    company.ledger_accounts = [{"ledgerAccountCode": number, "name": name, "active": True}
                               for number, name in (FI_LEDGER_ACCOUNTS if fi else SE_LEDGER_ACCOUNTS)]
    store.companies[code] = company
    store.add_api_key(DEMO_FI_API_KEY if fi else DEMO_SE_API_KEY, code, DEMO_CLIENT_ID)
    return company


# The accounts the sandbox books on (receivables, sales, travel, purchases) and a few more: class 3 is sales in
# both charts; 3050 is one that Severa's demo chart of accounts lacks, and Severa's 3020 is not here.
FI_LEDGER_ACCOUNTS = (("1700", "Myyntisaamiset"), ("2880", "Ostovelat"), ("2939", "Arvonlisäverovelka"),
                      ("3000", "Myynti"), ("3010", "Palvelumyynti"), ("3050", "Muu myynti"), ("4000", "Ostot"),
                      ("7000", "Matkakulut"))
SE_LEDGER_ACCOUNTS = (("1700", "Kundfordringar"), ("2880", "Leverantörsskulder"), ("2939", "Utgående moms"),
                      ("3000", "Försäljning"), ("3010", "Försäljning tjänster"), ("3050", "Övrig försäljning"),
                      ("4000", "Inköp"), ("7000", "Resekostnader"))


def bank_account(
    company: Company, iban: str, bic: str, currency: str, store: ProcountorStore, *, default: bool = True
) -> dict[str, Any]:
    """A CompanyBankAccountBasicInfo: `accountNumber` is the domestic BBAN generated from the IBAN."""
    return {
        "id": company.new_id(),
        "accountNumber": IBAN(iban).bban,
        "iban": IBAN(iban).compact,
        "bic": bic,
        "bankName": "Demo Bank",
        "currency": currency,
        "defaultForInvoice": default,
        "defaultForPayment": default,
        "status": "ACTIVE",
        "orderNo": len(company.bank_accounts) + 1,
        "version": store.next_version(),
    }


def seed_base(store: ProcountorStore) -> None:
    store.clients[DEMO_CLIENT_ID] = DEMO_CLIENT_SECRET
    for code in ("FI", "SE"):
        base_company(store, code)


def partner(
    store: ProcountorStore,
    company: Company,
    number: int,
    name: str,
    business_id: str,
    city: str,
    country: str,
) -> dict[str, Any]:
    partner_id = company.new_id()
    address = {
        "name": name,
        "street": f"Demokatu {number % 100}",
        "zip": f"{number % 90000 + 10000:05d}",
        "city": city,
        "country": country,
    }
    body = {
        "id": partner_id,
        "type": "CUSTOMER",
        "name": name,
        "address": address,
        "billingAddress": dict(address),
        "invoicingInfo": {
            "customerNumber": str(number),
            "identifier": business_id,
            "identifierType": "YHD" if country == "FINLAND" else "SE",
            "invoiceChannel": "MAIL",
            "language": "FINNISH" if country == "FINLAND" else "SWEDISH",
        },
        "paymentInfo": {
            "paymentMethod": "BANK_TRANSFER",
            "paymentTermDays": "14",
            "penalInterestRate": 8.0,
            "currency": "EUR" if country == "FINLAND" else "SEK",
        },
        "registryInfo": {"active": True},
        "contactPersons": [],
        "version": store.next_version(),
    }
    company.partners[partner_id] = body
    return body


def product(
    store: ProcountorStore,
    company: Company,
    code: str,
    ptype: str,
    name: str,
    unit: str,
    price: float,
    account: str,
) -> dict[str, Any]:
    product_id = company.new_id()
    body: dict[str, Any] = {
        "id": product_id,
        "type": ptype,
        "name": name,
        "code": code,
        "unit": unit,
        "discount": 0,
        "price": price,
        "vat": 25.5 if company.country == "FINLAND" else 25,
        "active": True,
        "defaultAccount": account,
        "vatStatus": 1,
        "currency": "EUR" if company.country == "FINLAND" else "SEK",
        "productLocalizations": [],
        "productGroupId": None,
        # Private: the public Product model has no version (procountor-api.md §8); `versionStartDate` filters on it.
        "_version": store.next_version(),
    }
    if ptype == "TRAVEL":
        body.update(startDate="2026-01-01", endDate="2026-12-31")
    company.products[product_id] = body
    return body


def dimension(company: Company, name: str, codes: list[str]) -> dict[str, Any]:
    dimension_id = company.new_id()
    body = {
        "id": dimension_id,
        "name": name,
        "items": [{"id": company.new_id(), "codeName": code, "description": ""} for code in codes],
    }
    company.dimensions[dimension_id] = body
    return body


def person(store: ProcountorStore, company: Company, number: str, first: str, last: str, iban: str) -> None:
    person_id = company.new_id()
    company.persons[person_id] = {
        "id": person_id,
        "firstName": first,
        "lastName": last,
        "jobTitle": "Consultant",
        "paymentInfo": {
            "paymentMethod": "BANK_TRANSFER",
            "accountNumber": iban,
            "paymentTermDays": "0",
            "penalInterestRate": 0,
        },
        "invoicingInfo": {"personNumber": number, "language": "FINNISH", "gender": "NOT_APPLICABLE"},
        "registryInfo": {"active": True, "email": f"{first.lower()}.{last.lower()}@kumpula.example"},
        "version": store.next_version(),
    }


PERSONS = [
    ("E001", "Aino", "Virtanen"),
    ("E002", "Eero", "Korhonen"),
    ("E003", "Helmi", "Mäkinen"),
    ("E004", "Oskari", "Nieminen"),
    ("E005", "Sofia", "Lindqvist"),
]
PERSON_IBANS = [
    "FI4950009420028730",
    "FI1410093000123458",
    "FI5542345670000081",
    "FI3715903000000776",
    "FI6593700000214343",
]

# (supplier name, project item, status, net amount)
PURCHASES = [
    ("Toimistotarvike Oy", "2026001", "UNFINISHED", 120.0),
    ("Pilvipalvelu Oy", "2026001", "APPROVED", 480.0),
    ("Konesali Oy", "2026002", "PAYMENT_QUEUED", 950.0),
    ("Matkatoimisto Oy", "2026002", "PAID", 310.5),
    ("Koulutus Oy", "2026003", "MARKED_PAID", 1500.0),
    ("Laitekauppa Oy", "2026003", "APPROVED", 2200.0),
]


def seed_demo(store: ProcountorStore) -> None:
    """The demo organisation: seed_base plus partners, products, dimensions, persons and purchase invoices."""
    seed_base(store)
    fi, se = store.company("FI"), store.company("SE")
    for number in range(1001, 1009):
        business_id = MISMATCH_1005_BUSINESS_ID if number == 1005 else fi_business_id(number)
        partner(
            store,
            fi,
            number,
            _severa_name(number, FI_CUSTOMER_NAMES[number]),
            business_id,
            FI_CUSTOMER_CITIES[number - 1001],
            "FINLAND",
        )
    for number in range(2001, 2004):
        name = _severa_name(number, SE_CUSTOMER_NAMES[number])
        partner(store, se, number, name, se_business_id(number), "Stockholm", "SWEDEN")
    _products(store, fi)
    _products(store, se)
    dimension(fi, "Projects", ["2026001", "2026002", "2026003", "2026004"])
    dimension(fi, "Cost centers", ["CC-HEL", "CC-TRE"])
    dimension(fi, "Business units", [FI_COMPANY["name"]])
    dimension(se, "Projects", ["2026001", "2026002", "2026003", "2026004"])
    dimension(se, "Cost centers", ["CC-STO"])
    dimension(se, "Business units", [SE_COMPANY["name"]])
    for (person_number, first, last), iban in zip(PERSONS, PERSON_IBANS, strict=True):
        person(store, fi, person_number, first, last, iban)
    seed_purchase_invoices(store, fi)


def organisation_company(store: ProcountorStore) -> Company:
    """The FI company of one organisation of many (sandbox/procountor/organisations.py): the demo FI company's
    customers (1005 with its right business ID), products and dimensions, no purchase invoices, no API key."""
    company = base_company(store, "FI")
    store.revoke_api_key(DEMO_FI_API_KEY)
    for number in range(1001, 1009):
        partner(store, company, number, _severa_name(number, FI_CUSTOMER_NAMES[number]), fi_business_id(number),
                FI_CUSTOMER_CITIES[number - 1001], "FINLAND")
    _products(store, company)
    dimension(company, "Projects", ["2026001", "2026002", "2026003", "2026004"])
    dimension(company, "Cost centers", ["CC-HEL", "CC-TRE"])
    dimension(company, "Business units", [FI_COMPANY["name"]])
    return company


def _products(store: ProcountorStore, company: Company) -> None:
    for code, name, unit, price, account in (
        ("LIC-ANNUAL", "Annual licence", "YEAR", 1200.0, "3000"),
        ("SUPPORT-H", "Support hour", "HOUR", 95.0, "3000"),
        ("WORKSHOP", "Workshop", "DAY", 1400.0, "3000"),
        ("DEV", "Development", "HOUR", 110.0, "3010"),
        ("PM", "Project management", "HOUR", 120.0, "3010"),
        ("DESIGN", "Design", "HOUR", 105.0, "3010"),
        ("DEFAULT-PRODUCT", "Product", "PIECE", 0.0, "3000"),
        ("DEFAULT-WORK", "Work", "HOUR", 0.0, "3010"),
    ):
        product(store, company, code, "SALES", name, unit, price, account)
    for code, name, unit, price in (
        ("KM-ALLOWANCE", "Kilometre allowance", "KILOMETER", 0.55),
        ("DAILY-FULL", "Full daily allowance", "DAY", 54.0),
        ("DAILY-PART", "Partial daily allowance", "DAY", 25.0),
        ("TRAVEL-TICKET", "Travel ticket", "PIECE", 0.0),
        ("DEFAULT-TRAVEL", "Travel expense", "PIECE", 0.0),
    ):
        product(store, company, code, "TRAVEL", name, unit, price, "7000")


def seed_purchase_invoices(store: ProcountorStore, fi: Company) -> None:
    projects = fi.find_dimension("Projects")
    assert projects is not None
    for index, (supplier, project, status, net) in enumerate(PURCHASES):
        invoice = create_invoice(
            store,
            fi,
            {
                "type": "PURCHASE_INVOICE",
                "date": f"2026-{index + 4:02d}-15",
                "invoiceChannel": "NO_SENDING",
                "vatStatus": 1,
                "discountPercent": 0,
                "originalInvoiceNumber": f"S-{7001 + index}",
                "counterParty": {
                    "identifier": fi_business_id(5001 + index),
                    "counterPartyAddress": {"name": supplier, "country": "FINLAND"},
                },
                "paymentInfo": {
                    "paymentMethod": "BANK_TRANSFER",
                    "currency": "EUR",
                    "currencyRate": 1,
                    "dueDate": f"2026-{index + 5:02d}-14",
                    "bankAccount": {"accountNumber": "FI4950009420028730"},
                },
                "extraInfo": {"accountingByRow": True, "unitPricesIncludeVat": False},
                "invoiceRows": [
                    {
                        "product": f"{supplier} services",
                        "quantity": 1,
                        "unit": "PIECE",
                        "unitPrice": net,
                        "discountPercent": 0,
                        "vatPercent": 25.5,
                    }
                ],
            },
        )
        receipt = fi.ledger_receipts[invoice["ledgerReceiptId"]]
        item = next(i for i in projects["items"] if i["codeName"] == project)
        transactions = [
            {
                **t,
                "dimensionItemValues": [
                    {"dimensionId": projects["id"], "itemId": item["id"], "value": t["accountingValue"]}
                ],
            }
            if t["transactionType"] == "ENTRY"
            else t
            for t in receipt["transactions"]
        ]
        update_ledger_receipt(
            store, fi, receipt["id"], {"version": receipt["version"], "transactions": transactions}
        )
        if status != "UNFINISHED":
            store.set_invoice_status("FI", invoice["id"], status)


def example_sales_invoice(**overrides: Any) -> dict[str, Any]:
    """A valid FI sales invoice for demo customer 1001 (tests and examples); `overrides` replace keys."""
    body: dict[str, Any] = {
        "type": "SALES_INVOICE",
        "status": "UNFINISHED",
        "date": "2026-11-20",
        "invoiceChannel": "MAIL",
        "language": "FINNISH",
        "vatStatus": 1,
        "discountPercent": 0,
        "originalInvoiceNumber": "10001",
        "counterParty": {
            "identifier": fi_business_id(1001),
            "customerNumber": "1001",
            "counterPartyAddress": {
                "name": "Aalto Analytics Oy",
                "street": "Demokatu 1",
                "zip": "11001",
                "city": "Helsinki",
                "country": "FINLAND",
            },
        },
        "paymentInfo": {
            "paymentMethod": "BANK_TRANSFER",
            "currency": "EUR",
            "currencyRate": 1,
            "dueDate": "2026-12-04",
            "bankReferenceCode": "",
        },
        "extraInfo": {"accountingByRow": True, "unitPricesIncludeVat": False},
        "invoiceRows": [
            {
                "product": "Development",
                "productCode": "DEV",
                "quantity": 10,
                "unit": "HOUR",
                "unitPrice": 110,
                "discountPercent": 0,
                "vatPercent": 25.5,
            },
            {
                "product": "Annual licence",
                "productCode": "LIC-ANNUAL",
                "quantity": 1,
                "unit": "YEAR",
                "unitPrice": 1200,
                "discountPercent": 0,
                "vatPercent": 25.5,
            },
        ],
    }
    body.update(overrides)
    return body

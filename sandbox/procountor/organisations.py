"""Many organisations in one Procountor sandbox, for the many-tenants benchmark and tests.

Each organisation has its own API client and one company (the demo FI company's customers, products and
dimensions, so that the Severa sandbox's organisation of the same name transfers into it), reached with an API
key made for that client only: another client's token request with the key is refused (procountor-api.md §2.1),
and a token reads only its key's company. Names and credentials follow from the organisation's name:
company `org0001`, client `org0001-procountor` with secret `org0001-procountor-secret`, API key
`org0001-fi-api-key`.
"""

from __future__ import annotations

import json
from functools import cache

from .demo import organisation_company
from .store import Company, ProcountorStore


def organisation_name(number: int, prefix: str = "org") -> str:
    return f"{prefix}{number:04d}"  # the same names as the Severa sandbox's organisations


def credentials(name: str) -> tuple[str, str, str]:
    """The organisation's client id, client secret and its company's API key."""
    return f"{name}-procountor", f"{name}-procountor-secret", f"{name}-fi-api-key"


FIRST_COMPANY_ID = 3000  # the copies' company ids are this plus the organisation's number


@cache
def _template() -> str:
    """One organisation's company as JSON text (seeded once; each copy is read from it, sharing nothing)."""
    return json.dumps(organisation_company(ProcountorStore()).to_json())


def add_organisation(store: ProcountorStore, name: str, number: int) -> Company:
    """Organisation `name`: its client, its company (a copy of the template) and the API key between them."""
    if name in store.companies:
        raise ValueError(f"organisation {name!r} exists already")
    client_id, secret, api_key = credentials(name)
    if client_id in store.clients:
        raise ValueError(f"organisation {name!r}: API client {client_id!r} exists already")
    data = json.loads(_template())
    company = Company.from_json({**data, "code": name, "info": {**data["info"], "id": FIRST_COMPANY_ID + number}})
    store.companies[name] = company
    store.clients[client_id] = secret
    store.add_api_key(api_key, name, client_id)
    return company

"""Many Severa organisations in one sandbox, for the many-tenants benchmark and tests.

Each organisation is a store of its own with its own API client: a token is bound to the organisation of the
client that got it, so one organisation's token never reads another's data. An organisation holds the demo's
settings and people (business units, statuses, customers, products, work types, users, projects; no deliberate
differences are needed here, the FI company's records transfer cleanly) and `DRAFT_INVOICES` draft invoices of
customer 1001 on project 2026001 that a test or benchmark moves to the transfer status. Guids are the organisation's
own (the template's, renamed per organisation), as Severa's are unique across organisations.

Names and credentials follow from the organisation's number, so a benchmark knows them without asking:
`org0001`, client `org0001-severa` with secret `org0001-severa-secret`.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import cache

from sandbox.severa import demo
from sandbox.severa.store import ALL_SCOPES, SeveraStore, demo_guid

DRAFT_INVOICES = 5
_GUID = re.compile(r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")


def organisation_name(number: int, prefix: str = "org") -> str:
    return f"{prefix}{number:04d}"


def credentials(name: str) -> tuple[str, str]:
    """The organisation's API client id and secret."""
    return f"{name}-severa", f"{name}-severa-secret"


@cache
def _template() -> tuple[list[str], frozenset[str]]:
    """The JSON text of one organisation (seeded once), split around every guid (odd items), and the guids of
    its records."""
    store = SeveraStore()
    demo.seed_organisation(store, draft_invoices=DRAFT_INVOICES)
    guids = frozenset(guid for records in store.collections.values() for guid in records)
    return _GUID.split(json.dumps(store.to_json())), guids


def own_guid(name: str, template_guid: str) -> str:
    """The guid in organisation `name` of the template's record (the first 8 hex digits are the organisation's)."""
    return hashlib.sha1(name.encode()).hexdigest()[:8] + template_guid[8:]


def draft_invoices(name: str) -> list[str]:
    """The guids of the organisation's draft invoices (known without asking: no call counts as a poll)."""
    return [own_guid(name, demo_guid("invoice", 10000 + k)) for k in range(1, DRAFT_INVOICES + 1)]


def invoice_status(name: str, status: str) -> str:
    """The guid of the organisation's invoice status named `status` (e.g. the transfer status)."""
    return own_guid(name, demo_guid("invoicestatus", status))


def new_organisation(name: str) -> SeveraStore:
    """A store for organisation `name`: the template with guids of its own (`own_guid`) and its own API
    client."""
    parts, guids = _template()
    text = "".join(part if i % 2 == 0 or part not in guids else own_guid(name, part) for i, part in enumerate(parts))
    raw = json.loads(text)
    store = SeveraStore()
    store.collections, store.counters = raw["collections"], raw["counters"]
    store.organization = {**raw["organization"], "name": f"{raw['organization'].get('name', '')} ({name})"}
    store.add_api_client(*credentials(name), ALL_SCOPES)
    return store

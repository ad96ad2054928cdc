"""In-memory state of one emulated Severa organisation.

The store is a documented Python API as well as the back end of the HTTP app: tests and the demo may call it
directly (``store.set_invoice_status(guid, status_guid)``, ``store.get("invoices", guid)``). Records are kept
exactly in the shape the real API returns them (camelCase output models), so the HTTP layer only pages,
filters and serialises.

Collections (the ``kind`` argument) are named after the API resource path: ``invoices``, ``invoicerows``,
``invoicestatuses``, ``customers``, ``addresses``, ``contactpersons``, ``products``, ``worktypes``,
``travelexpensetypes``, ``projects``, ``phases``, ``costcenters``, ``businessunits``, ``users``,
``travelreimbursements``, ``travelreimbursementstatuses``, ``projecttravelexpenses``, ``projectfees``,
``workhours``, ``salesaccounts``, ``costaccounts``, ``bankaccounts``, ``currencies``, ``vatrates``,
``countries``, ``invoicefiles``, ``files``.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import threading
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

Record = dict[str, Any]

# Audit user written into createdBy/lastUpdatedBy: the API credential acts as this integration user.
API_USER: Record = {
    "code": None,
    "name": "REST API",
    "guid": str(uuid.uuid5(uuid.NAMESPACE_URL, "sevpro-demo:user:rest-api")),
    "firstName": "REST",
    "lastName": "API",
}

ALL_SCOPES: tuple[str, ...] = tuple(
    f"{area}:{verb}"
    for area in (
        "activities",
        "customers",
        "fees",
        "files",
        "hours",
        "invoices",
        "projects",
        "resourceallocations",
        "settings",
        "travels",
        "users",
    )
    for verb in ("read", "write", "delete")
) + ("organization:read", "organization:write")


class ValidationProblem(Exception):
    """Input the real API would refuse with 400 ``ExceptionModel``; carries the offending field."""

    def __init__(
        self,
        message: str,
        *,
        name: str | None = None,
        location: str = "RequestBody",
        type_: str = "InvalidParameter",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.name = name
        self.location = location
        self.type = type_


class NotFound(Exception):
    """An unknown guid: the HTTP layer answers 404 with an empty body, as Severa does."""


def demo_guid(kind: str, key: object) -> str:
    """Deterministic guid shared by both sandboxes and the tests: uuid5(URL, 'sevpro-demo:<kind>:<key>')."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"sevpro-demo:{kind}:{key}"))


def money(amount: float | None, currency_code: str) -> Record:
    """A ``MoneyOutputModel``."""
    return {
        "amount": None if amount is None else round(float(amount), 2),
        "currencyCode": currency_code,
        "multiCurrencyInfo": [],
    }


def finnish_reference(base: int) -> str:
    """Finnish payment reference (viitenumero): base digits + 7-3-1 check digit."""
    digits = str(base)
    weights = (7, 3, 1)
    total = sum(int(d) * weights[i % 3] for i, d in enumerate(reversed(digits)))
    return digits + str((10 - total % 10) % 10)


class SeveraStore:
    """The organisation's data plus API credentials; thread-safe for one writer at a time."""

    def __init__(self) -> None:
        self.collections: dict[str, dict[str, Record]] = {}
        self.file_data: dict[str, bytes] = {}
        self.deleted: dict[str, list[Record]] = {}
        self.api_clients: dict[str, Record] = {}
        self.counters: dict[str, int] = {"invoice": 10000, "customer": 1000, "project": 1000, "travel": 0}
        self.organization: Record = {}
        self.today: dt.date = dt.date(2026, 11, 25)
        self._last_ts: dt.datetime | None = None
        self._lock = threading.RLock()

    # ----------------------------------------------------------------- clock

    def now(self) -> str:
        """A UTC timestamp strictly greater than every one handed out before (no two writes share one)."""
        with self._lock:
            ts = dt.datetime.now(dt.UTC)
            if self._last_ts is not None and ts <= self._last_ts:
                ts = self._last_ts + dt.timedelta(microseconds=1)
            self._last_ts = ts
            return ts.isoformat(timespec="microseconds")

    # ----------------------------------------------------------- credentials

    def add_api_client(self, client_id: str, client_secret: str, scopes: Iterable[str] = ALL_SCOPES) -> None:
        """Register REST API client credentials allowed the given scopes."""
        self.api_clients[client_id] = {"secret": client_secret, "scopes": sorted(set(scopes))}

    # ------------------------------------------------------------ generic CRUD

    def _coll(self, kind: str) -> dict[str, Record]:
        return self.collections.setdefault(kind, {})

    def get(self, kind: str, guid: str) -> Record | None:
        """The record (the live dict; copy before mutating) or None."""
        return self.collections.get(kind, {}).get(guid)

    def require(self, kind: str, guid: str | None, *, field: str | None = None) -> Record:
        """The record, or a 400 naming the referencing field when given (a dangling reference), else 404."""
        record = self.get(kind, guid) if guid else None
        if record is None:
            if field is not None:
                raise ValidationProblem(f"{field}: no {kind} with guid '{guid}'", name=field)
            raise NotFound(f"{kind}/{guid}")
        return record

    def all(self, kind: str) -> list[Record]:
        """All records of a kind, in insertion order."""
        return list(self.collections.get(kind, {}).values())

    def find(self, kind: str, **equals: Any) -> list[Record]:
        """Records whose top-level fields equal the given values."""
        return [r for r in self.all(kind) if all(r.get(k) == v for k, v in equals.items())]

    def find_one(self, kind: str, **equals: Any) -> Record | None:
        found = self.find(kind, **equals)
        return found[0] if found else None

    def insert(self, kind: str, record: Record, *, guid: str | None = None) -> Record:
        """Store a new output model, stamping guid and the audit fields."""
        with self._lock:
            ts = self.now()
            record = dict(record)
            record["guid"] = guid or record.get("guid") or str(uuid.uuid4())
            record["createdDateTime"] = ts
            record["createdBy"] = API_USER
            record["lastUpdatedDateTime"] = ts
            record["lastUpdatedBy"] = API_USER
            self._coll(kind)[record["guid"]] = record
            return record

    def update(self, kind: str, guid: str, changes: Record) -> Record:
        """Apply top-level changes and move ``lastUpdatedDateTime`` forward."""
        with self._lock:
            record = self.require(kind, guid)
            record.update(changes)
            record["lastUpdatedDateTime"] = self.now()
            record["lastUpdatedBy"] = API_USER
            return record

    def delete(self, kind: str, guid: str) -> Record:
        """Remove a record; fees, travel expenses and work hours leave a tombstone for the deleted* feeds."""
        with self._lock:
            record = self._coll(kind).pop(guid, None)
            if record is None:
                raise NotFound(f"{kind}/{guid}")
            if kind in ("projectfees", "projecttravelexpenses", "workhours"):
                tomb = {
                    k: record.get(k)
                    for k in (
                        "guid",
                        "createdDateTime",
                        "lastUpdatedDateTime",
                        "name",
                        "eventDate",
                        "quantity",
                        "measurementUnit",
                    )
                }
                for ref in ("phase", "project", "customer", "user", "product"):
                    sub = record.get(ref)
                    tomb[ref] = {"guid": sub.get("guid")} if isinstance(sub, dict) else None
                tomb["deletedDateTime"] = self.now()
                self.deleted.setdefault(kind, []).append(tomb)
            return record

    def next_number(self, counter: str) -> int:
        with self._lock:
            self.counters[counter] += 1
            return self.counters[counter]

    # ----------------------------------------------------------- write-backs

    def set_invoice_status(self, invoice_guid: str, status_guid: str) -> Record:
        """Move an invoice to another status (what the integration does after a transfer)."""
        return self.update("invoices", invoice_guid, {"status": self.invoice_status_sub(status_guid)})

    def set_travel_reimbursement_status(self, reimbursement_guid: str, status_guid: str) -> Record:
        """Move a travel reimbursement to another status."""
        status = self.require("travelreimbursementstatuses", status_guid, field="travelReimbursementStatus")
        return self.update(
            "travelreimbursements",
            reimbursement_guid,
            {"travelReimbursementStatus": {"guid": status["guid"], "name": status["name"]}},
        )

    def invoice_status_sub(self, status_guid: str) -> Record:
        status = self.require("invoicestatuses", status_guid, field="status")
        return {k: status[k] for k in ("guid", "name", "isSent", "isWaitingPayment", "isPaid")}

    def status_by_name(self, kind: str, name: str) -> Record:
        """An invoice or travel reimbursement status by its display name."""
        found = self.find_one(kind, name=name)
        if found is None:
            raise KeyError(f"no {kind} named {name!r}")
        return found

    # ----------------------------------------------------------------- files

    def add_file(
        self,
        name: str,
        content_type: str,
        data: bytes,
        *,
        category: str,
        guid: str | None = None,
        description: str | None = None,
    ) -> Record:
        """Store binary content as a ``FileModel``; its bytes are served by /v1/files/{guid}/filedata."""
        record = self.insert(
            "files",
            {
                "name": name,
                "size": float(len(data)),
                "description": description,
                "contentType": content_type,
                "category": category,
                "isInternal": False,
            },
            guid=guid,
        )
        self.file_data[record["guid"]] = data
        return record

    def attach_invoice_file(self, invoice_guid: str, name: str, content_type: str, data: bytes) -> Record:
        """Attach a file to an invoice (the real API has no upload route for this; the UI does it)."""
        self.require("invoices", invoice_guid)
        file = self.add_file(name, content_type, data, category="Invoice")
        sort_order = len(self.find("invoicefiles", invoiceGuid=invoice_guid))
        return self.insert(
            "invoicefiles",
            {k: file[k] for k in ("name", "size", "description", "contentType", "category", "isInternal")}
            | {"fileGuid": file["guid"], "invoiceGuid": invoice_guid, "sortOrder": sort_order},
        )

    def invoice_settings(self, invoice_guid: str) -> Record:
        """The invoice's InvoiceSettingsOutputModel; Severa's defaults (rows one by one) until changed."""
        self.require("invoices", invoice_guid)
        guid = demo_guid("invoicesettings", invoice_guid)
        found = self.get("invoicesettings", guid)
        if found is None:
            found = self.insert("invoicesettings", {
                "workHourGrouping": "OneByOne", "projectFeeGrouping": "OneByOne",
                "projectTravelExpenseGrouping": "OneByOne", "showCategories": True, "showQuantity": True,
                "showUnit": True, "showUnitPrice": True, "isReverseCharged": False,
            }, guid=guid)
        return found

    def set_invoice_grouping(self, invoice_guid: str, **groupings: str) -> Record:
        """Group the invoice's rows (e.g. ``workHourGrouping="Group"``), as a user does on the invoice."""
        return self.update("invoicesettings", self.invoice_settings(invoice_guid)["guid"], groupings)

    # ----------------------------------------------------------- persistence

    def to_json(self) -> Record:
        return {
            "collections": self.collections,
            "file_data": {k: base64.b64encode(v).decode("ascii") for k, v in self.file_data.items()},
            "deleted": self.deleted,
            "api_clients": self.api_clients,
            "counters": self.counters,
            "organization": self.organization,
            "today": self.today.isoformat(),
            "last_ts": self._last_ts.isoformat() if self._last_ts else None,
        }

    def save(self, path: str | Path) -> None:
        """Write the whole state to a JSON file (atomically: write then rename)."""
        with self._lock:
            data = json.dumps(self.to_json(), ensure_ascii=False)
        target = Path(path)
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(data, encoding="utf-8")
        tmp.replace(target)

    def load(self, path: str | Path) -> None:
        """Replace the state with the content of a file written by ``save``."""
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        with self._lock:
            self.collections = raw["collections"]
            self.file_data = {k: base64.b64decode(v) for k, v in raw["file_data"].items()}
            self.deleted = raw["deleted"]
            self.api_clients = raw["api_clients"]
            self.counters = raw["counters"]
            self.organization = raw["organization"]
            self.today = dt.date.fromisoformat(raw["today"])
            self._last_ts = dt.datetime.fromisoformat(raw["last_ts"]) if raw["last_ts"] else None

    def snapshot(self) -> Record:
        """A deep copy of the state, for tests that compare before and after."""
        return copy.deepcopy(self.to_json())

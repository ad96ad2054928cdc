"""What every transfer shares (sales invoices, travel reimbursements, purchase invoices).

A transfer carries out one `TransferRequested`: it is skipped without any API call when the transfer log shows it
(or this version of the record) succeeded; otherwise `attempting` is published before the first write, the
steps run, and the result is published as `succeeded`, `failed_data` (with the user's reason),
`failed_config` (an API refused the credentials, scopes or API key; retried on the next cycle) or
`failed_transient` (retried on the next cycle). Every outcome and every ID link is an event.

Every attempt ends with an outcome. An exception nobody foresaw (a bug, an answer of a shape no one expected)
becomes reason `INTERNAL` with the exception's type and message (secrets
redacted): retried as transient until the record version has failed so `INTERNAL_ATTEMPTS` times, then
`failed_data`, left for a user (fix and change the record, or `sevpro reprocess`); the agent goes on.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import traceback
import uuid
from collections.abc import Awaitable, Callable, Hashable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from connectors.errors import ApiAuthError, TransientApiError
from connectors.procountor.client import ProcountorClient
from connectors.procountor.errors import ProcountorError, ProcountorNotFound, ProcountorTransientError
from connectors.procountor.ledger_receipts import LedgerReceipts
from connectors.procountor.original_numbers import OriginalNumbers
from connectors.severa.client import SeveraClient
from connectors.severa.errors import SeveraError, SeveraForbidden
from foundation.company import CompanySettings
from foundation.exact_json import dumps, loads
from foundation.logs import get_logger, redact_text
from foundation.types import Emit, Json
from projections.reprocess import original_request_id
from schemas.codec import now
from streams.mapping.errors import ConfigFailure, TransferDataError, classify_procountor_error, solution_for
from streams.mapping.text import non_cp1252
from streams.writers import Writers

if TYPE_CHECKING:
    from streams.registers import Registers

log = get_logger(__name__)
T = TypeVar("T")
VAT_READ = "GET /vats/default"  # CompanyContext.shared_read's key of the VAT read, shared by sales and travel
TRANSIENT_SOLUTION = ("A temporary problem reaching Severa or Procountor; the transfer is retried automatically "
                      "on the next cycle.")


class TransferLog(Protocol):
    """What a transfer asks the transfer-log projection (projections/store.py implements it)."""

    def succeeded_request(self, request_id: str) -> bool: ...

    def transfer(self, tenant: str, kind: str, source_id: str) -> dict[str, Any] | None: ...

    def request(self, request_id: str) -> dict[str, Any] | None: ...


class NoLog:
    """No projection available: every request takes the full idempotent path (still exactly once)."""

    def succeeded_request(self, request_id: str) -> bool:
        return False

    def transfer(self, tenant: str, kind: str, source_id: str) -> dict[str, Any] | None:
        return None

    def request(self, request_id: str) -> dict[str, Any] | None:
        return None


def already_done(log: TransferLog, request: Json) -> bool:
    """The log shows this request, or this very version of the record (a replay, a reprocess), succeeded."""
    if log.succeeded_request(request["event_id"]):
        return True
    entry = log.transfer(request["tenant"], request["kind"], request["source_id"]) or {}
    return entry.get("state") == "succeeded" and entry.get("source_version") == request["source_version"]


INTERNAL_ATTEMPTS = 3  # unexpected failures of one record version before it waits for a user
INTERNAL_SOLUTION = ("An unexpected error (the message says which); the transfer is retried automatically {left}. "
                     "If it persists, correct the record in its source system or report the message to your "
                     "integration support; then transfer it again (`sevpro reprocess`, or change the record).")


class TransientFailure(Exception):
    """A failure that a later retry may cure (network, 5xx, 429, timeouts)."""


#: Whether this worker still owns the request in hand, set per request by the agent (None: a transfer run alone,
#: as in unit tests). A worker whose partitions are being taken away (a rebalance; or a worker that stalled past
#: its session timeout and was dropped from the group, while its calls were in flight) must not make its first
#: write: the partition's next owner carries the request out from its start, and two writers would both create.
owner_check: ContextVar[Callable[[], bool] | None] = ContextVar("owner_check", default=None)
NOT_OWNER = ("the worker group is rebalancing and this worker may no longer own the request; nothing was written, "
             "and it is carried out again")


def created_meanwhile(found: Json | None, record: str) -> None:
    """The last search, right before the create: an invoice with this number that appeared since the first
    search (another worker's attempt at the same request) is adopted on the retry, after its checks."""
    if found is not None:
        raise TransientFailure(f"{record}: Procountor invoice {found.get('invoiceNumber') or found.get('id')} with "
                               "this number appeared during the transfer (another attempt at it); nothing was "
                               "written, and the retry checks and adopts it")


class NothingToWrite(Exception):
    """The transfer stops before its first write and ends `skipped`, the message being the outcome's note."""


class Withdrawn(NothingToWrite):
    """The record in Severa is no longer the requested one (moved out of the transfer status, or changed)."""


GONE = ("INVALIDATED", "DELETED")  # Procountor statuses of an invoice that no longer counts


def same_original_number(found: list[Json], number: Any, invoice_type: str) -> list[Json]:
    """The search hits that are this record's own number: `originalInvoiceNumber` exactly equal, of the same
    type, not invalidated or deleted (the search's matching is not documented as exact, and a travel
    reimbursement and a sales invoice may share a number)."""
    return [f for f in found if str(f.get("originalInvoiceNumber") or "") == str(number)
            and f.get("type") == invoice_type and f.get("status") not in GONE]


def already_transferred(log: TransferLog, request: Json, existing: Json, record: str) -> Exception | None:
    """A record transferred before (the log shows an earlier request of it succeeded) that comes back to the
    transfer status: `NothingToWrite` when its content is the same, else the ALREADY_TRANSFERRED data error
    (a transferred invoice is corrected with a credit note, never by changing it in Procountor); None when the
    log shows no earlier success, i.e. `existing` is an interrupted attempt's invoice."""
    entry = log.transfer(request["tenant"], request["kind"], request["source_id"]) or {}
    mine = original_request_id(request["event_id"])
    earlier = [a["request_id"] for a in entry.get("attempts", [])
               if a.get("result") == "succeeded" and original_request_id(a["request_id"]) != mine]
    if not earlier:
        return None
    number, status = existing.get("invoiceNumber") or existing["id"], existing.get("status") or "unknown"
    before = log.request(earlier[-1]) or {}
    if before.get("snapshot") and content_hash(loads(before["snapshot"])) == content_hash(
            loads(request["snapshot"])):
        return NothingToWrite(f"transferred already as Procountor invoice no. {number} (status {status}); the "
                              "content is unchanged, nothing was written")
    return TransferDataError(
        "ALREADY_TRANSFERRED", record=record, field=None, value=str(number),
        message=f"{record} was transferred already as Procountor invoice no. {number} (Procountor id "
                f"{existing['id']}, status {status}); the change was not written",
        solution=solution_for("ALREADY_TRANSFERRED"))


def _amount(value: Any) -> Decimal:
    return Decimal(str(value if value is not None else 0))


def _net_by_vat(invoice: Mapping[str, Any]) -> dict[Decimal, Decimal]:
    """Net per VAT rate from the rows, computed the same way for both sides of a comparison."""
    discount = 1 - _amount(invoice.get("discountPercent")) / 100
    totals: dict[Decimal, Decimal] = {}
    for row in invoice.get("invoiceRows") or []:
        net = _amount(row.get("quantity")) * _amount(row.get("unitPrice")) * (
            1 - _amount(row.get("discountPercent")) / 100) * discount
        rate = _amount(row.get("vatPercent"))
        totals[rate] = totals.get(rate, Decimal(0)) + net
    return totals


def _plain(text: Any) -> str:
    return "".join(ch for ch in str(text or "") if ch.isalnum()).casefold()


def adoption_mismatch(existing: Mapping[str, Any], body: Mapping[str, Any]) -> list[str]:
    """How an invoice found by its original number differs from what this transfer would write: counterparty
    (customer number, business id, name), currency, net per VAT rate (beyond a cent). Empty: adopt it."""
    differences = []
    theirs, ours = existing.get("counterParty") or {}, body.get("counterParty") or {}
    for field_name in ("customerNumber", "identifier"):
        if ours.get(field_name) and _plain(theirs.get(field_name)) != _plain(ours.get(field_name)):
            differences.append(f"counterparty {field_name} {theirs.get(field_name)!r}, not {ours.get(field_name)!r}")
    their_name = (theirs.get("counterPartyAddress") or {}).get("name")
    our_name = (ours.get("counterPartyAddress") or {}).get("name")
    if our_name and _plain(their_name) != _plain(our_name):
        differences.append(f"counterparty name {their_name!r}, not {our_name!r}")
    their_currency = (existing.get("paymentInfo") or {}).get("currency")
    our_currency = (body.get("paymentInfo") or {}).get("currency")
    if our_currency and their_currency != our_currency:
        differences.append(f"currency {their_currency}, not {our_currency}")
    their_totals, our_totals = _net_by_vat(existing), _net_by_vat(body)
    for rate in sorted(set(their_totals) | set(our_totals)):
        theirs_net, ours_net = their_totals.get(rate, Decimal(0)), our_totals.get(rate, Decimal(0))
        if abs(theirs_net - ours_net) > Decimal("0.01"):
            differences.append(f"net at VAT {rate:g} % {theirs_net:.2f}, not {ours_net:.2f}")
    return differences


def not_ours(existing: Json, body: Json, *, record: str, number: Any, source_id: str) -> TransferDataError | None:
    """The DUPLICATE_ORIGINAL_NUMBER data error when the invoice found is not the one this transfer would
    write (None: it is, an interrupted attempt made it: adopt it)."""
    differences = adoption_mismatch(existing, body)
    if not differences:
        return None
    found = existing.get("invoiceNumber") or existing["id"]
    return TransferDataError(
        "DUPLICATE_ORIGINAL_NUMBER", record=record, field="originalInvoiceNumber", value=str(number),
        message=f"Procountor already has invoice no. {found} with this original number, not written by this "
                f"integration (Procountor id {existing['id']}, Severa {source_id}): {'; '.join(differences)}. "
                "Nothing was written",
        solution=solution_for("DUPLICATE_ORIGINAL_NUMBER"))


AUDIT_FIELDS = ("lastUpdatedDateTime", "lastUpdatedBy")


def content_hash(record: Mapping[str, Any]) -> str:
    """A Severa record's content, hashed without its audit fields: a newer version that only touched those
    (or went to another status and came back unchanged) has the same content as the requested one."""
    content = {k: v for k, v in record.items() if k not in AUDIT_FIELDS}
    # Exact JSON on both sides: the Severa client reads money as Decimal, and so is the snapshot read here.
    return hashlib.sha256(dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def withdrawn_note(request: Json, current: Mapping[str, Any], status_field: str, transfer_status: str | None,
                   written: str = "nothing was written") -> str | None:
    """Why the request's snapshot may no longer be written (None: it may). It may while the record is still in
    the company's transfer status (guid `transfer_status`) at the requested version, or at a newer version whose
    content is the same. A newer version that changed is a request of its own."""
    status = current.get(status_field) or {}
    when = _local_time(current.get("lastUpdatedDateTime"))
    if status.get("guid") != transfer_status:
        return f"moved to {status.get('name') or 'another status'} at {when}; {written}"
    if current.get("lastUpdatedDateTime") == request["source_version"]:
        return None
    if content_hash(current) == content_hash(loads(request["snapshot"])):
        return None
    return f"changed at {when} (the new version is transferred on its own request); {written}"


def _local_time(value: Any) -> str:
    """A Severa date-time as users read it in the log ('2026-11-30 10:42 UTC'); as given if it does not parse."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def config_failure(error: ApiAuthError) -> ConfigFailure:
    """Severa 401/403 and Procountor 401 (reference: credentials, scopes, API key) as the user's error code."""
    if isinstance(error, SeveraForbidden):
        code = "SEVERA_FORBIDDEN"
    elif isinstance(error, SeveraError):
        code = "SEVERA_UNAUTHORIZED"
    else:
        code = "UNAUTHORIZED"
    return ConfigFailure(code, f"{type(error).__name__}: {error}")


@dataclass
class TransferResult:
    state: str  # succeeded, failed_data, failed_config, failed_transient, skipped
    target_id: str | None = None
    error: TransferDataError | None = None


@dataclass
class Skip:
    """Why a request needs no attempt (the outcome's `note`), and the target it found, if any."""

    note: str
    target_id: str | None = None
    target_number: str | None = None


@dataclass
class Attempt:
    number: int
    token: str = field(default_factory=lambda: uuid.uuid4().hex[:12])


def request_event(observed: Mapping[str, Any], kind: str, company: str, number: Any) -> Json:
    """The TransferRequested for an observed entity version; its event_id (tenant, kind, id, version) is the
    transfer's idempotency key, and its correlation id follows the record through every topic."""
    source_id = str(observed["entity_id"])
    return {
        "event_id": f"{observed['tenant']}:{kind}:{source_id}:{observed['source_version']}",
        "correlation_id": f"{observed['tenant']}:{kind}:{source_id}",
        "causation_id": observed["event_id"],
        "tenant": observed["tenant"],
        "company": company,
        "kind": kind,
        "source_id": source_id,
        "source_number": None if number is None else str(number),
        "source_version": observed["source_version"],
        "reason": "status",
        "snapshot": observed["snapshot"],
        "requested_at": now(),
    }


def outcome_event(kind: str, request: Json, attempt: Attempt | None, state: str, *, step: str | None = None,
                  target_id: str | None = None, target_number: str | None = None, adopted: bool = False,
                  error: Json | None = None, note: str | None = None, warning: str | None = None) -> Json:
    """A TransferOutcome of `request`; `attempt` None for a decision taken without an attempt (skipped)."""
    token = f"{attempt.token}:" if attempt else ""
    suffix = f":{step}" if step else ""
    return {
        "event_id": f"{request['event_id']}:{token}{state}{suffix}",
        "correlation_id": request["correlation_id"],
        "causation_id": request["event_id"],
        "tenant": request["tenant"],
        "company": request["company"],
        "kind": kind,
        "request_id": request["event_id"],
        "source_id": request["source_id"],
        "source_number": request.get("source_number"),
        "source_version": request["source_version"],
        "attempt": attempt.number if attempt else 0,
        "state": state,
        "step": step,
        "target_id": target_id,
        "target_number": target_number,
        "adopted": adopted,
        "error": error,
        "note": note,
        "warning": warning,
        "occurred_at": now(),
    }


def link_event(request: Json, kind: str, severa_id: str | None, severa_key: str, procountor_id: Any,
               created: bool) -> Json:
    """An IdLinked: a Severa and a Procountor entity are the same thing (created by us, or matched)."""
    return {
        "event_id": f"{request['tenant']}:{request['company']}:{kind}:{severa_key}:{procountor_id}",
        "correlation_id": request["correlation_id"],
        "causation_id": request["event_id"],
        "tenant": request["tenant"],
        "company": request["company"],
        "kind": kind,
        "severa_id": severa_id,
        "severa_key": severa_key,
        "procountor_id": str(procountor_id),
        "created": created,
        "occurred_at": now(),
    }


class Transfer:
    """The outline of one transfer; a kind supplies `_transfer` (the steps) and `_record` (the user's name)."""

    kind: ClassVar[str]

    def __init__(self, emit: Emit, transfer_log: TransferLog | None) -> None:
        self.emit = emit
        self.log: TransferLog = transfer_log or NoLog()

    async def _outcome(self, request: Json, attempt: Attempt | None, state: str, **fields: Any) -> None:
        await self.emit("TransferOutcome", outcome_event(self.kind, request, attempt, state, **fields))

    async def _link(self, request: Json, kind: str, severa_id: str | None, severa_key: str, procountor_id: Any,
                    created: bool) -> None:
        await self.emit("IdLinked", link_event(request, kind, severa_id, severa_key, procountor_id, created))

    def _record(self, request: Json) -> str:
        raise NotImplementedError

    def _held(self) -> str | None:
        """Why this worker may begin no transfer, nor make a first write, now (None: it may)."""
        return None

    def _check_held(self) -> None:
        """At a transfer's start, before its first write and right before a create: while the worker group
        rebalances, or once the request's partition is another worker's (`owner_check`), stop here with nothing
        written (a transient failure, requested again after the rebalance)."""
        if reason := self._held():
            raise TransientFailure(reason)
        if (owns := owner_check.get()) is not None and not owns():
            raise TransientFailure(NOT_OWNER)

    async def _transfer(self, request: Json, attempt: Attempt) -> Json:
        """The steps; returns the succeeded outcome's fields (target_id, target_number)."""
        raise NotImplementedError

    async def _api_errors_classified(self, request: Json, step: Awaitable[T]) -> T:
        """`step` (the skip check, the steps), with the APIs' failures turned into transient failures or data
        errors."""
        try:
            return await step
        except TransientApiError as exc:
            raise TransientFailure(f"{type(exc).__name__}: {exc}") from exc
        except ApiAuthError as exc:
            raise config_failure(exc) from exc
        except SeveraError as exc:
            status = getattr(exc, "status", None)
            if status is not None and int(status) >= 500:
                raise TransientFailure(f"Severa {status}: {exc}") from exc
            raise TransferDataError("SEVERA_ERROR", record=self._record(request), field=None, value=None,
                                    message=f"Severa refused a request: {exc}") from exc

    async def _skip(self, request: Json) -> Skip | None:
        """Why this request needs no attempt although the log does not show it done (None: it does)."""
        return None

    async def handle(self, request: Json, attempt_number: int = 1) -> TransferResult:
        """Carry out one request; every outcome is published, nothing is raised but cancellation."""
        if already_done(self.log, request):
            return TransferResult("skipped")
        attempt = Attempt(attempt_number)
        try:
            self._check_held()  # none begins while the worker group rebalances (see streams/registers.py)
            skip = await self._api_errors_classified(request, self._skip(request))
            if skip:
                await self._outcome(request, None, "skipped", note=skip.note, target_id=skip.target_id,
                                    target_number=skip.target_number)
                log.info("nothing to write", record=self._record(request), reason=skip.note)
                return TransferResult("skipped", target_id=skip.target_id)
            await self._outcome(request, attempt, "attempting")
            target = await self._api_errors_classified(request, self._transfer(request, attempt))
        except NothingToWrite as skipped:
            await self._outcome(request, attempt, "skipped", note=str(skipped))
            log.info("nothing to write", record=self._record(request), reason=str(skipped))
            return TransferResult("skipped")
        except TransferDataError as error:
            await self._outcome(request, attempt, "failed_data", error=error.to_dict())
            log.warning("transfer failed: data", record=error.record, code=error.code, field=error.field)
            return TransferResult("failed_data", error=error)
        except ConfigFailure as failure:
            record = self._record(request)
            await self._outcome(request, attempt, "failed_config", error={
                "code": failure.code, "kind": "config", "record": record, "field": failure.field, "value": None,
                "message": str(failure)[:1000], "solution": solution_for(failure.code),
            })
            log.warning("transfer failed: configuration", record=record, code=failure.code)
            return TransferResult("failed_config")
        except TransientFailure as failure:
            record = self._record(request)
            await self._outcome(request, attempt, "failed_transient", error={
                "code": "TRANSIENT", "kind": "transient", "record": record, "field": None, "value": None,
                "message": str(failure)[:1000], "solution": TRANSIENT_SOLUTION,
            })
            log.warning("transfer failed: transient", record=record, error=str(failure)[:300])
            return TransferResult("failed_transient")
        except Exception as exc:  # noqa: BLE001 - anything unforeseen still ends the attempt with an outcome
            return await self._internal(request, attempt, exc)
        await self._outcome(request, attempt, "succeeded", **target)
        return TransferResult("succeeded", target_id=target.get("target_id"))

    async def _internal(self, request: Json, attempt: Attempt, exc: Exception) -> TransferResult:
        """An unforeseen failure: `failed_transient` (INTERNAL) until this record version has failed so
        `INTERNAL_ATTEMPTS` times (the log may lag: it may take one more), then `failed_data`: a user decides."""
        failures = 1 + _internal_failures(self.log, request)
        state = "failed_data" if failures >= INTERNAL_ATTEMPTS else "failed_transient"
        left = "no more" if state == "failed_data" else f"up to {INTERNAL_ATTEMPTS - failures} more time(s)"
        record, message = self._record(request), redact_text(f"{type(exc).__name__}: {exc}")[:1000]
        error = TransferDataError("INTERNAL", record=record, field=None, value=None, message=message,
                                  solution=INTERNAL_SOLUTION.format(left=left)).to_dict()
        await self._outcome(request, attempt, state, error={**error, "kind": "internal"})
        where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        log.error("transfer failed: unexpected error", record=record, failures=failures, state=state,
                  error=message[:300], at=f"{where.filename}:{where.lineno}" if where else None)
        return TransferResult(state)


def _internal_failures(transfer_log: TransferLog, request: Json) -> int:
    """How many earlier attempts at this record version (its request and the retries of it) ended INTERNAL."""
    entry = transfer_log.transfer(request["tenant"], request["kind"], request["source_id"]) or {}
    version = original_request_id(request["event_id"])
    return sum(1 for a in entry.get("attempts", [])
               if original_request_id(a["request_id"]) == version and (a.get("error") or {}).get("code") == "INTERNAL")


@dataclass
class CompanyContext:
    """What one Procountor environment answers once and rarely changes, cached per worker."""

    settings: CompanySettings
    client: ProcountorClient
    fiscal_years: list[Json] | None = None
    bank_accounts: list[Json] = field(default_factory=list)  # CompanyBankAccountBasicInfo, as Procountor lists them
    dimensions: dict[str, Json] = field(default_factory=dict)  # dimension name → dimension with items
    product_codes: set[str] = field(default_factory=set)  # codes known to exist
    partners: dict[str, Json] = field(default_factory=dict)  # customer number → partner
    vat_statuses: list[Json] | None = None  # the environment's VAT statuses (GET /vats/default), read when first needed
    ledger_accounts: list[Json] | None = None  # the chart of accounts, read when rows' sales accounts are used
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    items_lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one find-or-create of an item at a time
    numbers: dict[str, OriginalNumbers] = field(default_factory=dict)  # invoice type → the duplicate search
    _receipts: LedgerReceipts | None = field(default=None, init=False, repr=False)
    _reads: dict[Hashable, asyncio.Future[Any]] = field(default_factory=dict, init=False, repr=False)

    async def shared_read(self, key: Hashable, read: Callable[[], Awaitable[T]]) -> T:
        """`read()`, or the answer of the same read (`key`) under way for another of the company's transfers.
        A cold cache under a backlog (a worker that starts, or joins its group, while invoices wait): every
        transfer in flight missed the cache at once and made the same read for itself (a worker joining a drain
        read `GET /vats/default` 128 times, products 856). Only a read under way is shared; the callers keep
        what it answers in the cache as before, and its error is each caller's."""
        under_way = self._reads.get(key)
        if under_way is None:
            under_way = self._reads[key] = asyncio.ensure_future(read())
            under_way.add_done_callback(functools.partial(self._read_done, key))
        return await asyncio.shield(under_way)  # a caller cancelled does not cancel the others' read

    def _read_done(self, key: Hashable, read: asyncio.Future[Any]) -> None:
        if self._reads.get(key) is read:
            del self._reads[key]
        if not read.cancelled():
            read.exception()  # retrieved here: each caller raises it for itself

    @property
    def ledger_receipts(self) -> LedgerReceipts:
        """The ledger receipt reads before the row dimensions, shared by the company's transfers (one batch GET
        answers a backlog's)."""
        if self._receipts is None or self._receipts.client is not self.client:
            self._receipts = LedgerReceipts(self.client)
        return self._receipts

    def original_numbers(self, invoice_type: str) -> OriginalNumbers:
        """The duplicate search before a create, shared by the company's transfers (batched under a backlog)."""
        if invoice_type not in self.numbers:
            self.numbers[invoice_type] = OriginalNumbers(self.client, invoice_type)
        return self.numbers[invoice_type]

    async def ensure_loaded(self) -> None:
        async with self.lock:
            if self.fiscal_years is None:
                await self.reload_fiscal_years()
                self.bank_accounts = await self.client.get_bank_accounts()
                await self.reload_dimensions()

    async def reload_fiscal_years(self) -> None:
        years = await self.client.get_fiscal_years()
        self.fiscal_years = list(years.get("fiscalYears", years.get("results", [])))

    async def with_current_fiscal_years(self, build: Callable[[], T]) -> T:
        """`build()`, a mapping that pre-checks the fiscal period against `fiscal_years`; when the cached years
        say the period is closed (or missing), once more with them read again. An accountant who opens the
        period, or adds next year's fiscal year, in Procountor is not refused by a worker's stale copy: the
        next retry transfers without a restart, and only a refusal costs the extra read."""
        try:
            return build()
        except TransferDataError as error:
            if error.code != "CLOSED_FISCAL_PERIOD":
                raise
        await self.reload_fiscal_years()
        return build()

    def invoice_bank_account(self) -> str:
        """The IBAN sales invoices carry: see `choose_bank_account`."""
        return choose_bank_account(self.bank_accounts, self.settings)

    async def reload_dimensions(self) -> None:
        self.dimensions = {d["name"]: d for d in await self.client.get_dimensions()}

    async def dimension(self, name: str, record: str) -> Json:
        """The dimension called `name`, read again once if the cache lacks it; a data error if Procountor does."""
        if name not in self.dimensions:
            await self.reload_dimensions()
        if name not in self.dimensions:
            raise TransferDataError("DIMENSION_MISMATCH", record=record, field="dimension", value=name,
                                    message=f"Procountor has no dimension named {name!r}")
        return self.dimensions[name]


def choose_bank_account(accounts: list[Json], settings: CompanySettings) -> str:
    """The IBAN of the company's active Procountor account with the configured IBAN and currency; with neither
    configured, the one marked default for invoices. A configuration error names the company and setting.

    Procountor's `accountNumber` is the domestic BBAN; an invoice's `paymentInfo.bankAccount.accountNumber` takes
    the IBAN, which is the account's `iban` field."""
    iban, currency = settings.bank_account_iban, settings.bank_account_currency
    active = [a for a in accounts if a.get("status", "ACTIVE") == "ACTIVE" and a.get("iban")]
    found = [a for a in active
             if (iban is None or _compact(a["iban"]) == iban) and (currency is None or a.get("currency") == currency)]
    if iban is None:
        found = [a for a in found if a.get("defaultForInvoice")] or (found if currency is not None else [])
    if len(found) == 1 or (found and iban is not None):
        return _compact(found[0]["iban"])
    wanted = " and ".join(part for part in (
        f"IBAN {iban} (bank_account_iban)" if iban else None,
        f"currency {currency} (bank_account_currency)" if currency else None,
    ) if part) or "the mark 'default for invoices' (set bank_account_iban to choose one)"
    listed = ", ".join(f"{_compact(a['iban'])} {a.get('currency', '?')}"
                       + (" default for invoices" if a.get("defaultForInvoice") else "") for a in active) or "none"
    problem = "several accounts match" if found else "no active account matches"
    raise ConfigFailure("BANK_ACCOUNT_NOT_FOUND",
                        f"company {settings.name!r}: {problem} {wanted} among Procountor's bank accounts ({listed})")


def _compact(iban: str) -> str:
    return "".join(str(iban).split()).upper()


def company_contexts(companies: dict[str, CompanySettings],
                     procountor: dict[str, ProcountorClient]) -> dict[str, CompanyContext]:
    return {name: CompanyContext(companies[name], client) for name, client in procountor.items()}


class ToProcountor(Transfer):
    """A transfer that writes to Procountor: dimension items on first use, and row dimensions on the ledger."""

    def __init__(self, severa: SeveraClient, procountor: dict[str, ProcountorClient],
                 companies: dict[str, CompanySettings], emit: Emit, transfer_log: TransferLog | None,
                 contexts: dict[str, CompanyContext] | None = None, registers: Registers | None = None,
                 writers: Writers | None = None) -> None:
        super().__init__(emit, transfer_log)
        self.severa = severa
        self.companies = companies
        # Pass one dict to every transfer of a worker: one cache of each company's Procountor registers, so an
        # item one kind creates is known to the other (else it would try to create it again).
        self.contexts = contexts if contexts is not None else company_contexts(companies, procountor)
        # And one Registers: every creation of a customer, product, person or item goes through it (one per key).
        self.registers = registers if registers is not None else _registers_in_place()
        # And one Writers per tenant: the transfers past their create, few enough to finish within a rebalance.
        self.writers = writers if writers is not None else Writers()

    def _held(self) -> str | None:
        return self.registers.held()

    async def handle(self, request: Json, attempt_number: int = 1) -> TransferResult:
        async with self.writers.attempt():
            return await super().handle(request, attempt_number)

    async def _begin_writing(self) -> None:
        """Right before the create (or the first write to an invoice an earlier attempt made): wait for a
        writer's slot (streams/writers.py), then check the rebalance again: the wait may have been long."""
        await self.writers.take()
        self._check_held()

    async def _dimension_pairs(self, request: Json, context: CompanyContext, plan: list[Json]) -> list[Json]:
        """Per row of `plan`, the (dimensionId, itemId) pairs; items missing in Procountor are created."""
        resolved: list[Json] = []
        for row in plan:
            pairs = []
            for item in row["items"]:
                dimension = await context.dimension(item["dimension"], self._record(request))
                found = await self._item_of(request, context, item["dimension"], item["item"],
                                            item.get("description"), item["kind"])
                pairs.append((dimension["id"], found["id"]))
            resolved.append({"row": row["row"], "pairs": pairs})
        return resolved

    async def _item_of(self, request: Json, context: CompanyContext, dimension_name: str, code: str,
                       description: str | None, label: str, severa_id: str | None = None) -> Json:
        """The item `code` of a loaded dimension, created first if it is missing. One at a time per company, and
        created once across workers (`Registers`), so that two transfers that both need a new item (an invoice's
        project, the project's own sync) create it once."""
        async with context.items_lock:
            found = cached_item(context, dimension_name, code)
            if found is None:
                # Made since the cache was loaded (by a user in Procountor, or another host's worker)? Look first.
                await context.reload_dimensions()
                found = cached_item(context, dimension_name, code)
            if found is None:
                await context.dimension(dimension_name, self._record(request))
                _check_item_texts(label, code, description)
                body = {"dimension": dimension_name, "item": {"codeName": code, "description": description or code}}
                found = await self.registers.ensure(self.emit, request, context, "dimension_item",
                                                    f"{dimension_name}:{code}", body, f"{label} {code}", severa_id)
            return found

    async def _row_dimensions(self, context: CompanyContext, target: Json, items: list[Json], record: str) -> None:
        """Set each row's items (and its sales account, if it has one) on its ledger entry (one ENTRY per row:
        accountingByRow); nothing if already so."""
        if not any(r["pairs"] or r.get("account") for r in items) or not target.get("ledgerReceiptId"):
            return
        receipt = await context.ledger_receipts.get(int(target["ledgerReceiptId"]))
        entries = sorted((t for t in receipt.get("transactions", []) if t.get("transactionType") == "ENTRY"),
                         key=lambda t: t["id"])
        wanted: dict[int, list[Json]] = {}
        accounts: dict[int, str] = {}
        for row in items:
            if row["row"] >= len(entries):
                continue
            entry = entries[row["row"]]
            if row.get("account") and entry.get("account") != row["account"]:
                accounts[entry["id"]] = row["account"]
            current = {(v["dimensionId"], v["itemId"]) for v in entry.get("dimensionItemValues") or []}
            if row["pairs"] and current != set(row["pairs"]):
                wanted[entry["id"]] = [{"dimensionId": d, "itemId": i, "value": entry["accountingValue"]}
                                       for d, i in row["pairs"]]
        if not wanted and not accounts:
            return
        for transaction in receipt["transactions"]:
            if transaction["id"] in wanted:
                transaction["dimensionItemValues"] = wanted[transaction["id"]]
            if transaction["id"] in accounts:
                transaction["account"] = accounts[transaction["id"]]
        await procountor_call(context.client.update_ledger_receipt(receipt), record)


def _check_item_texts(label: str, code: str, name: str | None) -> None:
    """The seed: a project's name must not contain special characters; nor may any item's code or name."""
    for part, value in (("code", code), ("name", name or "")):
        bad = non_cp1252(value)
        if bad:
            raise TransferDataError(
                "INVALID_CHARACTERS", record=f"{label} {code}", field=f"{label.replace(' ', '_')}.{part}",
                value=value,
                message=f"the {label}'s {part} has characters Procountor does not accept: {' '.join(bad)}",
                solution=f"Remove the special characters from the {label}'s {part} in Severa; the item is made "
                         "when the record is transferred again.")


def _registers_in_place() -> Registers:
    """Registers that create in place (no broker to route through): tests and one-off tools."""
    from streams.registers import Registers  # registers.py builds on this module

    return Registers()


def cached_item(context: CompanyContext, dimension_name: str, code: str) -> Json | None:
    dimension = context.dimensions.get(dimension_name) or {}
    return next((i for i in dimension.get("items", []) if i.get("codeName") == code), None)


async def procountor_call(call: Awaitable[Json], record: str) -> Json:
    """Await a Procountor write; a refusal becomes a classified data error naming the field."""
    try:
        return await call
    except (ProcountorTransientError, ApiAuthError):
        raise
    except ProcountorNotFound as exc:
        raise TransferDataError("NOT_FOUND", record=record, field=None, value=None, message=str(exc)) from exc
    except ProcountorError as exc:
        first = exc.errors[0] if getattr(exc, "errors", None) else None
        code = first.message if first else "PROCOUNTOR_ERROR"
        kind, solution = classify_procountor_error(code, first.field if first else None, str(exc),
                                                   status=getattr(exc, "status", None))
        if kind == "transient":
            raise TransientFailure(str(exc)) from exc
        raise TransferDataError(code.split(" ")[0], record=record, field=first.field if first else None,
                                value=None, message=str(exc), solution=solution) from exc

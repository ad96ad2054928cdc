"""Re-request transfers through the normal, idempotent path: new TransferRequested events.

A reprocess request is the record's latest request again, with reason "reprocess", the same snapshot and
source version, and event_id `<original request id>:reprocess:<n>`. Running the same reprocess twice before
the projector has seen the first publishes the same ids again: the transfer agent treats them as one request.
`requested_by` names who asked (the console's user, the login name of whoever ran `sevpro reprocess`); the
worker's own retries leave it empty.

One path for everyone: `sevpro reprocess`, the worker's retry and the console's Retry and Reprocess buttons all
make their requests with `requests_again` (through `select` or directly) and send them with `publish`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from foundation.kafka import idempotent_producer
from projections.store import ProjectionStore
from schemas import topics
from schemas.codec import encode

_REPROCESS = re.compile(r"^(?P<original>.+):reprocess:(?P<n>\d+)$")


def original_request_id(request_id: str) -> str:
    match = _REPROCESS.match(request_id)
    return match.group("original") if match else request_id


def next_reprocess_id(original: str, known_request_ids: list[str]) -> str:
    """`<original>:reprocess:<n>` with n one more than the highest reprocess of `original` known."""
    numbers = [int(m.group("n")) for rid in known_request_ids
               if (m := _REPROCESS.match(rid)) and m.group("original") == original]
    return f"{original}:reprocess:{max(numbers, default=0) + 1}"


def reprocess_request(request: dict[str, Any], known_request_ids: list[str],
                      requested_at: datetime | None = None, requested_by: str | None = None) -> dict[str, Any]:
    """The TransferRequested that re-requests `request` (a row of the requests table)."""
    original = original_request_id(request["request_id"])
    return {
        "event_id": next_reprocess_id(original, known_request_ids),
        "correlation_id": request["correlation_id"],  # the same business transaction
        "causation_id": request["request_id"],
        "tenant": request["tenant"], "company": request["company"], "kind": request["kind"],
        "source_id": request["source_id"], "source_number": request["source_number"],
        "source_version": request["source_version"], "reason": "reprocess", "snapshot": request["snapshot"],
        "requested_at": requested_at or datetime.now(UTC), "requested_by": requested_by,
    }


def select(store: ProjectionStore, *, state: str | None = "failed-transient", kind: str | None = None,
           company: str | None = None, tenant: str | None = None, since: datetime | None = None,
           until: datetime | None = None, requested_by: str | None = None) -> list[dict[str, Any]]:
    """The reprocess requests for the selected transfer-log entries (nothing is published)."""
    entries = store.transfers(company=company, kind=kind, state=state, since=since, until=until, tenant=tenant)
    return requests_again(store, entries, requested_by)


def requests_again(store: ProjectionStore, entries: list[dict[str, Any]],
                   requested_by: str | None = None) -> list[dict[str, Any]]:
    """The reprocess requests for transfer-log entries (`store.transfers()` / `store.transfer()` rows); entries
    of which only outcomes were seen are left out (there is no snapshot to send again), and so are entries whose
    record has been requested again, or has changed state, since they were read (a second press of Retry that read
    the record before the projector had seen the first press's request: not a second request)."""
    out = []
    for listed in entries:
        entry, requests = store.transfer_and_requests(listed["tenant"], listed["kind"], listed["severa_id"])
        if entry is None or (entry["request_id"], entry["state"]) != (listed["request_id"], listed["state"]):
            continue
        latest = next((r for r in requests if r["request_id"] == entry["request_id"]), None)
        if latest is None:
            continue
        # The new request must order after everything known of the record even if this host's clock is
        # behind the agents' clocks: the log's state follows the latest request.
        after = datetime.fromisoformat(entry["updated_at"]) + timedelta(milliseconds=1)
        out.append(reprocess_request(latest, [r["request_id"] for r in requests], max(datetime.now(UTC), after),
                                     requested_by))
    return out


async def publish(bootstrap: str, requests: list[dict[str, Any]]) -> None:
    """Publish reprocess requests, keyed tenant/source_id like every request, with an idempotent producer."""
    producer = idempotent_producer(bootstrap)
    await producer.start()
    try:
        for request in requests:
            await producer.send_and_wait(topics.transfer_requested(request["kind"]),
                                         encode("TransferRequested", request),
                                         key=topics.key(request["tenant"], request["source_id"]))
    finally:
        await producer.stop()


async def reprocess(bootstrap: str, store: ProjectionStore, *, dry_run: bool = False,
                    **selection: Any) -> list[dict[str, Any]]:
    """Select (see `select`) and publish; returns the requests published (or that would be, with dry_run)."""
    requests = select(store, **selection)
    if requests and not dry_run:
        await publish(bootstrap, requests)
    return requests


#: What the worker requests again on every cycle: transient failures, and configuration failures (credentials,
#: scopes, API key), which end once the configuration is fixed.
RETRIED_STATES = ("failed-transient", "failed-config")


async def retry_failures(bootstrap: str, store: ProjectionStore, tenant: str) -> list[dict[str, Any]]:
    """The worker's retry on each cycle: re-request the tenant's (and its companies') retried failures."""
    retried = []
    for state in RETRIED_STATES:
        retried += await reprocess(bootstrap, store, state=state, tenant=tenant)
    return retried

"""The production agents and timers, registered on the faust app (imported by `sevpro worker`).

severa.invoice.observed ─────────trigger──▶ transfer.sales-invoice.requested ────transfer──▶ transfer.*.outcome
severa.travel_reimbursement.observed ─trigger─▶ transfer.travel-reimbursement.requested ──▶ registry.links
procountor.purchase_invoice.observed ─trigger─▶ transfer.purchase-invoice.requested ─import─▶ (Severa fees)
severa.{project,cost_center,business_unit}.observed ─trigger─▶ transfer.dimension-item.requested ─status─▶
transfer.*.outcome ──▶ error e-mails (leader-only, see streams/notification_feed.py) ──▶ notify.sent
Pollers run as leader-only timers (one per cluster, on the configured schedule); the projector runs as a task.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from connectors.errors import TransientApiError
from foundation.company import demo_companies_path, load_companies
from foundation.logs import get_logger
from foundation.schedule import Schedule
from foundation.settings import get_settings
from projections.projector import Projector
from projections.reprocess import reprocess
from schemas import topics
from schemas.codec import CodecError, decode
from streams import dimension_item, purchase_invoice
from streams import travel_reimbursement as travel
from streams.app import app, send_dead_letter, topic
from streams.notification_feed import NotificationFeed
from streams.notify import Notifier, NotifierConfig
from streams.runtime import Runtime, close_runtime, get_runtime
from streams.sales_invoice import KIND, transfer_request
from streams.transfer import Transfer

log = get_logger(__name__)
settings = get_settings()
sync_schedule = Schedule.parse(settings.sync_schedule)
invoice_observed = topic(topics.observed("severa", "invoice"))
sales_requested = topic(topics.transfer_requested(KIND))
purchase_observed = topic(topics.observed("procountor", "purchase_invoice"))
purchase_requested = topic(topics.transfer_requested(purchase_invoice.KIND))
travel_observed = topic(topics.observed("severa", "travel_reimbursement"))
travel_requested = topic(topics.transfer_requested(travel.KIND))
user_observed = topic(topics.observed("severa", "user"))
dimension_sources_observed = app.topic(*(topics.observed("severa", entity) for entity in dimension_item.SOURCES),
                                       value_type=bytes, key_type=bytes, value_serializer="raw", key_serializer="raw")
dimension_item_requested = topic(topics.transfer_requested(dimension_item.KIND))


def _bootstrap() -> str:
    return ",".join(str(url).removeprefix("kafka://") for url in app.conf.broker)


def _ours(tenant: str) -> bool:
    """Events of other tenants share the topics; this worker acts on its own tenant's only."""
    return tenant == settings.tenant or tenant.startswith(f"{settings.tenant}/")


async def _decoded(event: Any, expected: str, agent: str) -> dict[str, Any] | None:
    """This tenant's record, or None: another tenant's event, or an undecodable or unexpected message, which is
    parked on the dead-letter topic."""
    try:
        name, record = decode(event.value)
        if name != expected:
            raise CodecError(f"expected {expected}, got {name}")
    except CodecError as exc:
        await send_dead_letter(event, f"{agent}: {exc}")
        return None
    return record if _ours(str(record.get("tenant", ""))) else None


async def _trigger(stream: Any, agent: str, decide: Callable[[Runtime, dict[str, Any]], Awaitable[Any]]) -> None:
    """Observed entity versions → transfer requests (`decide` returns a request, a list of them, or None)."""
    runtime = await get_runtime(_bootstrap())
    async for event in stream.events():
        observed = await _decoded(event, "EntityObserved", agent)
        if observed is None:
            continue
        requests: Any = None
        for wait in _backoff():
            try:
                requests = await decide(runtime, observed)
                break
            except (ValueError, KeyError) as exc:
                await send_dead_letter(event, f"{agent}: {type(exc).__name__}: {exc}")
                break
            except TRANSIENT as exc:  # the API is down: hold this partition rather than lose the event
                log.warning("trigger waits for the API", agent=agent, retry_in_s=wait, error=str(exc)[:200])
                await asyncio.sleep(wait)
        for request in requests if isinstance(requests, list) else [requests] if requests else []:
            await runtime.emit("TransferRequested", request)


TRANSIENT = TransientApiError  # either API, transport errors included (the clients translate them)


def _backoff() -> Iterator[float]:
    """1, 2, 4 ... 60, 60, ... seconds: forever, because an event may not be skipped."""
    delay = 1.0
    while True:
        yield delay
        delay = min(60.0, delay * 2)


async def _sales_request(runtime: Runtime, observed: dict[str, Any]) -> dict[str, Any] | None:
    assert runtime.directory is not None
    return transfer_request(observed, runtime.directory)


async def _purchase_request(runtime: Runtime, observed: dict[str, Any]) -> dict[str, Any] | None:
    assert runtime.purchase_trigger is not None
    return await runtime.purchase_trigger.request(observed)


async def _travel_request(runtime: Runtime, observed: dict[str, Any]) -> dict[str, Any] | None:
    assert runtime.travel_directory is not None
    return await travel.travel_request(observed, runtime.travel_directory)


@app.agent(invoice_observed)
async def sales_invoice_trigger(stream: Any) -> None:
    """An invoice version in its company's transfer status becomes a transfer request."""
    await _trigger(stream, "sales_invoice_trigger", _sales_request)


@app.agent(purchase_observed)
async def purchase_invoice_trigger(stream: Any) -> None:
    """A purchase invoice in an import status, dimensioned to projects, becomes an import request."""
    await _trigger(stream, "purchase_invoice_trigger", _purchase_request)


@app.agent(travel_observed)
async def travel_reimbursement_trigger(stream: Any) -> None:
    """A travel reimbursement in its company's status_before becomes a transfer request."""
    await _trigger(stream, "travel_reimbursement_trigger", _travel_request)


async def _dimension_item_requests(runtime: Runtime, observed: dict[str, Any]) -> list[dict[str, Any]]:
    return dimension_item.transfer_requests(observed, runtime.companies)


@app.agent(dimension_sources_observed)
async def dimension_item_trigger(stream: Any) -> None:
    """A project, cost center or business unit version becomes a status check of its item, per company."""
    await _trigger(stream, "dimension_item_trigger", _dimension_item_requests)


@app.agent(dimension_item_requested)
async def dimension_item_transfer(stream: Any) -> None:
    """Close or reopen dimension items in Procountor as their Severa sources are, in order."""
    await _transfer_each(stream, "dimension_item_transfer", lambda runtime: runtime.dimension_items)


@app.agent(user_observed)
async def travel_user_cache(stream: Any) -> None:
    """Keep each user's business unit current for the travel trigger."""
    runtime = await get_runtime(_bootstrap())
    assert runtime.travel_directory is not None
    async for event in stream.events():
        observed = await _decoded(event, "EntityObserved", "travel_user_cache")
        if observed is not None:
            runtime.travel_directory.remember_user(json.loads(observed["snapshot"]))


async def _transfer_each(stream: Any, agent: str, transfer_of: Callable[[Runtime], Transfer | None]) -> None:
    """Carry out the requests one after the other (kinds of small volume)."""
    runtime = await get_runtime(_bootstrap())
    transfer = transfer_of(runtime)
    assert transfer is not None
    async for event in stream.events():
        request = await _decoded(event, "TransferRequested", agent)
        if request is not None:
            await transfer.handle(request, runtime.attempt_number(request))


@app.agent(sales_requested)
async def sales_invoice_transfer(stream: Any) -> None:
    """Carry out transfer requests; different invoices concurrently, one invoice's requests in order."""
    runtime = await get_runtime(_bootstrap())
    limit = asyncio.Semaphore(settings.transfer_concurrency)
    async for events in stream.take_events(settings.transfer_concurrency * 4, within=0.05):
        by_invoice: dict[bytes, list[Any]] = defaultdict(list)
        for event in events:
            by_invoice[event.key].append(event)
        await asyncio.gather(*(_transfer_in_order(runtime, queue, limit) for queue in by_invoice.values()))


async def _transfer_in_order(runtime: Runtime, queue: list[Any], limit: asyncio.Semaphore) -> None:
    assert runtime.transfer is not None
    async with limit:
        for event in queue:
            request = await _decoded(event, "TransferRequested", "sales_invoice_transfer")
            if request is not None:
                await runtime.transfer.handle(request, runtime.attempt_number(request))


@app.agent(purchase_requested)
async def purchase_invoice_transfer(stream: Any) -> None:
    """Import purchase invoices as Severa project fees, in order (purchase volumes are small)."""
    await _transfer_each(stream, "purchase_invoice_transfer", lambda runtime: runtime.purchase_transfer)


@app.agent(travel_requested)
async def travel_reimbursement_transfer(stream: Any) -> None:
    """Transfer travel reimbursements as Procountor travel invoices, in order."""
    await _transfer_each(stream, "travel_reimbursement_transfer", lambda runtime: runtime.travel)


_notifications: NotificationFeed | None = None
_stopping = False


@app.timer(interval=1.0, on_leader=True)
async def send_error_notifications() -> None:
    """Leader-only: failed transfers → e-mail to the company's error address (batched; from Kafka, so a new
    leader neither loses what was pending nor repeats what was sent)."""
    global _notifications
    if _stopping:
        return
    try:
        if _notifications is None:
            companies = load_companies(settings.companies_file or demo_companies_path())
            feed = NotificationFeed(_bootstrap(), Notifier(NotifierConfig.from_settings(settings)), companies, _ours)
            await feed.start()
            _notifications = feed
        await _notifications.tick()
    except Exception as exc:  # the next tick tries again; the log says why
        log.error("error notifications failed", error=f"{type(exc).__name__}: {exc}")


_poll_failures: dict[int, tuple[int, float]] = {}
_last_sync: datetime | None = None


_poll_round_task: asyncio.Task[None] | None = None


@app.timer(interval=0.5, on_leader=True)
async def poll_sources() -> None:
    """Leader-only: start a round of polling when one is due and none is running. A round can take seconds
    (the APIs' pace); it runs as a task of its own so the timer never overlaps itself."""
    global _last_sync, _poll_round_task
    if _stopping or (_poll_round_task is not None and not _poll_round_task.done()):
        return
    now_utc = datetime.now(UTC)
    if not sync_schedule.is_due(_last_sync, now_utc):
        return
    _last_sync = now_utc
    _poll_round_task = asyncio.get_running_loop().create_task(_poll_round(), name="poll-round")


async def _poll_round() -> None:
    """Read Severa and Procountor changes that are due (each source at its own pace)."""
    try:
        runtime = await get_runtime(_bootstrap())
        if runtime.stopped:
            return
        if not runtime.pollers:
            await runtime.start_pollers()
    except Exception as exc:  # the next round tries again
        log.error("pollers could not start", error=f"{type(exc).__name__}: {exc}")
        return
    now = asyncio.get_running_loop().time()
    for poller in runtime.pollers:
        failures, not_before = _poll_failures.get(id(poller), (0, 0.0))
        if now < not_before:
            continue
        try:
            await poller.poll_due()
            _poll_failures.pop(id(poller), None)
        except Exception as exc:  # the client retried already; back off, exponentially, and say so
            delay = min(300.0, 2.0 ** (failures + 1))
            _poll_failures[id(poller)] = (failures + 1, now + delay)
            log.error("poll failed, backing off", system=poller.system, tenant=poller.tenant,
                      failures=failures + 1, retry_in_s=delay, error=f"{type(exc).__name__}: {exc}")


@app.timer(interval=settings.transient_retry_seconds, on_leader=True)
async def retry_transient_failures() -> None:
    """Failed-transient transfers are requested again on the next cycle, through the normal idempotent path."""
    runtime = await get_runtime(_bootstrap())
    if runtime.stopped:
        return
    assert runtime.store is not None
    retried = await reprocess(_bootstrap(), runtime.store, state="failed-transient", tenant=settings.tenant)
    if retried:
        log.info("transient failures requested again", count=len(retried))


@app.task
async def run_projector() -> None:
    """Keep the transfer log, ID map and history current in this worker's SQLite projection."""
    if not settings.run_projector:
        return
    stop = asyncio.Event()
    async with Projector(_bootstrap()) as projector:
        await projector.run(stop)


@app.on_before_shutdown.connect
async def _close_runtime(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
    """The worker is stopping: close the pollers' and the runtime's producers and the API clients."""
    global _stopping
    _stopping = True
    if _poll_round_task is not None and not _poll_round_task.done():
        _poll_round_task.cancel()  # a poll cancelled mid-transaction aborts it: nothing half-published
        with contextlib.suppress(asyncio.CancelledError):
            await _poll_round_task
    if _notifications is not None:
        await _notifications.stop()
    await close_runtime()


__all__ = ["dimension_item_transfer", "dimension_item_trigger", "poll_sources", "purchase_invoice_transfer",
           "purchase_invoice_trigger", "retry_transient_failures", "run_projector", "sales_invoice_transfer",
           "sales_invoice_trigger", "send_error_notifications", "travel_reimbursement_transfer",
           "travel_reimbursement_trigger", "travel_user_cache"]

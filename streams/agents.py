"""The production agents and timers, registered on the faust app (imported by `sevpro worker`).

severa.invoice.observed ──trigger──▶ transfer.sales-invoice.requested ──transfer──▶ transfer.sales-invoice.outcome
                                                                                   registry.links
Pollers run as leader-only timers (one per cluster); the projector runs as a task in every worker.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from projections.projector import Projector
from projections.reprocess import reprocess
from schemas.codec import CodecError, decode
from sevpro.logs import get_logger
from sevpro.settings import get_settings
from streams import topics
from streams.app import app, send_dead_letter, topic
from streams.runtime import get_runtime
from streams.sales_invoice import KIND, transfer_request

log = get_logger(__name__)
settings = get_settings()
invoice_observed = topic(topics.observed("severa", "invoice"))
sales_requested = topic(topics.transfer_requested(KIND))


def _bootstrap() -> str:
    return ",".join(str(url).removeprefix("kafka://") for url in app.conf.broker)


@app.agent(invoice_observed)
async def sales_invoice_trigger(stream: Any) -> None:
    """An invoice version in its company's transfer status becomes a transfer request."""
    runtime = await get_runtime(_bootstrap())
    async for event in stream.events():
        try:
            name, observed = decode(event.value)
            if name != "EntityObserved":
                raise CodecError(f"expected EntityObserved, got {name}")
            assert runtime.directory is not None
            request = transfer_request(observed, runtime.directory)
        except (CodecError, ValueError, KeyError) as exc:
            await send_dead_letter(event, f"sales_invoice_trigger: {type(exc).__name__}: {exc}")
            continue
        if request is not None:
            await runtime.emit("TransferRequested", request)


@app.agent(sales_requested)
async def sales_invoice_transfer(stream: Any) -> None:
    """Carry out transfer requests; different invoices concurrently, one invoice's requests in order."""
    runtime = await get_runtime(_bootstrap())
    assert runtime.transfer is not None
    limit = asyncio.Semaphore(settings.transfer_concurrency)
    async for events in stream.take_events(settings.transfer_concurrency * 4, within=0.05):
        by_invoice: dict[bytes, list[Any]] = defaultdict(list)
        for event in events:
            by_invoice[event.key].append(event)
        await asyncio.gather(*(_transfer_in_order(runtime, queue, limit) for queue in by_invoice.values()))


async def _transfer_in_order(runtime: Any, queue: list[Any], limit: asyncio.Semaphore) -> None:
    async with limit:
        for event in queue:
            try:
                name, request = decode(event.value)
                if name != "TransferRequested":
                    raise CodecError(f"expected TransferRequested, got {name}")
            except CodecError as exc:
                await send_dead_letter(event, f"sales_invoice_transfer: {exc}")
                continue
            await runtime.transfer.handle(request, runtime.attempt_number(request))


@app.timer(interval=0.5, on_leader=True)
async def poll_sources() -> None:
    """Leader-only: read Severa and Procountor changes that are due (each source at its own pace)."""
    runtime = await get_runtime(_bootstrap())
    if not runtime.pollers:
        await runtime.start_pollers()
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


_poll_failures: dict[int, tuple[int, float]] = {}


@app.timer(interval=settings.transient_retry_seconds, on_leader=True)
async def retry_transient_failures() -> None:
    """Failed-transient transfers are requested again on the next cycle, through the normal idempotent path."""
    runtime = await get_runtime(_bootstrap())
    assert runtime.store is not None
    retried = await reprocess(_bootstrap(), runtime.store, state="failed-transient")
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


__all__ = ["poll_sources", "retry_transient_failures", "run_projector", "sales_invoice_transfer",
           "sales_invoice_trigger"]

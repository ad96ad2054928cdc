"""The production agents and timers, registered on a worker's faust app by `register` (see streams/bootstrap.py).

severa.invoice.observed ─────────trigger──▶ transfer.sales-invoice.requested ────transfer──▶ transfer.*.outcome
severa.travel_reimbursement.observed ─trigger─▶ transfer.travel-reimbursement.requested ──▶ registry.links
procountor.purchase_invoice.observed ─trigger─▶ transfer.purchase-invoice.requested ─import─▶ (Severa fees)
procountor.sales_invoice.observed ─trigger─▶ transfer.sales-invoice-payment.requested ─status─▶ (Severa invoice)
severa.{project,cost_center,business_unit}.observed ─trigger─▶ transfer.dimension-item.requested ─status─▶
transfer.*.outcome ──▶ error e-mails (leader-only, see streams/notification_feed.py) ──▶ notify.sent
Pollers run as leader-only timers (one per cluster, on the configured schedule); the projector runs as a task.
A pool worker (streams/pool.py) serves many tenants: each event is handled with its tenant's runtime, and each
worker polls the tenants of the config.tenants partitions the group gives it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connectors.errors import ApiAuthError, TransientApiError
from connectors.polling import PollerFenced, poll_each_due
from foundation.logs import get_logger
from foundation.schedule import Schedule
from foundation.types import Json
from projections.projector import Projector
from projections.reprocess import retry_failures
from projections.store import ProjectionStore
from schemas import topics
from schemas.codec import CodecError, decode, encode
from streams import dimension_item, payment, purchase_invoice
from streams import travel_reimbursement as travel
from streams.app import SevproApp
from streams.dead_letters import NOT_SERVED
from streams.notification_feed import NotificationFeed
from streams.notify import Notifier, NotifierConfig
from streams.pool import Serving, SingleTenant, TenantPool, TenantUnavailable, tenant_of
from streams.registers import OWNER_CONCURRENCY
from streams.runtime import Runtime, RuntimeStarter
from streams.sales_invoice import KIND, transfer_request
from streams.transfer import Transfer, owner_check
from streams.transfer_window import TransferWindow

log = get_logger(__name__)

TRANSIENT = TransientApiError  # either API, transport errors included (the clients translate them)
Decide = Callable[[Runtime, Json], Awaitable[Any]]


@dataclass
class WorkerState:
    """What the timers keep between ticks, owned by one worker (never module globals)."""

    stopping: bool = False
    last_sync: datetime | None = None
    poll_round: asyncio.Task[None] | None = None
    poll_failures: dict[int, tuple[int, float]] = field(default_factory=dict)
    notifications: NotificationFeed | None = None
    retry_due: float | None = None  # loop time of the retry cycle that follows a rebalance
    store: ProjectionStore | None = None  # the read models the retries are found in (opened on first use)
    counting: asyncio.Task[None] | None = None  # the count of the group's workers after a rebalance
    rebalance_began: float | None = None  # time.monotonic() when the group last started to rebalance


#: After a rebalance, what the workers held (streams/registers.py) is requested again this soon, once the
#: projections have its outcomes, instead of on the next transient retry cycle.
RETRY_AFTER_REBALANCE_SECONDS = 5.0


class Rebalancing(Exception):  # noqa: N818 - a state, not an error
    """The worker group started to rebalance while a trigger's decision was under way."""


def _backoff() -> Iterator[float]:
    """1, 2, 4 ... 60, 60, ... seconds: forever, because an event may not be skipped."""
    delay = 1.0
    while True:
        yield delay
        delay = min(60.0, delay * 2)


def register(app: SevproApp, serving: Serving | RuntimeStarter) -> WorkerState:
    """Declare the worker's topics, agents, timers and tasks on `app`; they use the runtimes of `serving`'s
    tenants (one tenant, or a pool's; a RuntimeStarter is its one tenant's)."""
    if isinstance(serving, RuntimeStarter):
        serving = SingleTenant(serving)
    settings, bootstrap = serving.settings, serving.bootstrap
    pool = serving if isinstance(serving, TenantPool) else None
    sync_schedule = Schedule.parse(settings.sync_schedule)
    state = WorkerState()

    def ours(record_tenant: str) -> bool:
        """Events of other tenants share the topics; this worker acts on the tenants it serves only."""
        return serving.refusal(record_tenant) is None

    def owns(event: Any) -> bool:
        """The event's partition is still this worker's, and no rebalance is taking it away (see
        streams.transfer.owner_check): checked right before a transfer's first write."""
        return not app.rebalancing and event.message.tp in app.consumer.assignment()

    async def not_served(event: Any, agent: str, reason: str) -> None:
        """An event of a tenant the pool does not serve (unregistered, disabled, or its configuration cannot
        give a runtime): not acted on, said in the log and parked on the dead-letter topic with the reason and
        its tenant; the pool re-drives it once the tenant is served (TenantPool.redrive_tick)."""
        message = event.message
        log.error("event not acted on: its tenant is not served", agent=agent, reason=reason, topic=message.topic,
                  partition=message.partition, offset=message.offset)
        _, record = decode(event.value)  # it was decoded before it was refused
        await app.send_dead_letter(event, f"{agent}: not acted on: {reason}",
                                   tenant=tenant_of(str(record.get("tenant", ""))), cause=NOT_SERVED)

    async def decoded(event: Any, expected: str, agent: str) -> Json | None:
        """A record of a tenant this worker serves, or None: another tenant's event (a pool parks those of
        tenants it does not serve), or an undecodable or unexpected message, which is parked on the dead-letter
        topic."""
        try:
            name, record = decode(event.value)
            if name != expected:
                raise CodecError(f"expected {expected}, got {name}")
        except CodecError as exc:
            await app.send_dead_letter(event, f"{agent}: {exc}", cause="undecodable")
            return None
        await serving.ready()
        reason = await serving.refused(str(record.get("tenant", "")))
        if reason:
            await not_served(event, agent, reason)
        return None if reason is not None else record

    async def trigger(stream: Any, agent: str, decide: Decide) -> None:
        """Observed entity versions → transfer requests (`decide` returns a request, a list of them, or None).
        One tenant's in order, different tenants' at once: a decision may wait for the tenant's API (the travel
        trigger reads the user), and in a pool that wait must hold no other tenant's events."""

        async def carry_out(event: Any) -> None:
            observed = await decoded(event, "EntityObserved", agent)
            if observed is None:
                return
            try:
                async with serving.use(observed["tenant"]) as runtime:
                    await decide_and_request(event, agent, decide, runtime, observed)
            except TenantUnavailable as exc:
                await not_served(event, agent, str(exc))

        await carried_out_in_window(stream, carry_out, tenant_key)

    async def decide_and_request(event: Any, agent: str, decide: Decide, runtime: Runtime, observed: Json) -> None:
        requests: Any = None
        try:
            for wait in _backoff():
                try:
                    requests = await unless_rebalancing(decide(runtime, observed))
                    break
                except Rebalancing:
                    raise
                except (TRANSIENT, ApiAuthError) as exc:  # the API is down, or refuses the settings until they
                    # are fixed: hold this tenant's events rather than lose this one
                    log.warning("trigger waits for the API", agent=agent, retry_in_s=wait, error=str(exc)[:200])
                    await unless_rebalancing(asyncio.sleep(wait))
                except Exception as exc:  # noqa: BLE001 - anything else (bad data, a 404): parked, and go on
                    await app.send_dead_letter(event, f"{agent}: {type(exc).__name__}: {exc}",
                                               tenant=tenant_of(observed["tenant"]))
                    log.error("trigger parked an event on the dead-letter topic", agent=agent,
                              error=f"{type(exc).__name__}: {exc}"[:300])
                    break
        except Rebalancing:
            await hand_on(event, agent, runtime)
            return
        for request in requests if isinstance(requests, list) else [requests] if requests else []:
            await runtime.emit("TransferRequested", request)

    async def unless_rebalancing(step: Awaitable[Any]) -> Any:
        """`step`'s result, or Rebalancing (`step` cancelled) once the worker group starts to rebalance
        (app.rebalancing, a flag faust sets)."""
        task = asyncio.ensure_future(step)
        while not task.done():
            if app.rebalancing:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                raise Rebalancing
            await asyncio.wait({task}, timeout=0.5)
        return task.result()

    async def hand_on(event: Any, agent: str, runtime: Runtime) -> None:
        """The worker group rebalances while this event's decision waits for its tenant's API: faust holds the
        rebalance until every event taken is acknowledged, and a worker that holds it past the broker's rebalance
        timeout (60 s) is dropped from the group (a tenant's API down for an hour must not stop the pool's
        rebalances). So the decision is given up, the record published again to its topic with its key, for
        whoever owns the partition after the rebalance, and only then acknowledged. Its decision comes after later
        events of the same record: a request is checked against the record as it is when carried out."""
        message = event.message
        await runtime.producer.send_and_wait(message.topic, key=message.key, value=event.value)
        log.warning("trigger handed its event on: the worker group rebalances while it waits for the API",
                    agent=agent, topic=message.topic, partition=message.partition, offset=message.offset)

    async def transfer_each(stream: Any, agent: str, transfer_of: Callable[[Runtime], Transfer]) -> None:
        """Carry out one tenant's requests one after the other (kinds of small volume), different tenants' at
        once: a pool's tenant waits for no other tenant's slow API."""

        async def carry_out(event: Any) -> None:
            request = await decoded(event, "TransferRequested", agent)
            if request is not None:
                owner_check.set(functools.partial(owns, event))  # this task's own context
                try:
                    async with serving.use(request["tenant"]) as runtime:
                        await transfer_of(runtime).handle(request, runtime.attempt_number(request))
                except TenantUnavailable as exc:
                    await not_served(event, agent, str(exc))

        await carried_out_in_window(stream, carry_out, tenant_key)

    def tenant_key(event: Any) -> bytes:
        """The tenant part of an event's key (`tenant/entity`, schemas.topics.key)."""
        return (event.key or b"").partition(b"/")[0]

    async def carried_out_in_window(stream: Any, carry_out: Callable[[Any], Awaitable[None]],
                                    order_key: Callable[[Any], bytes], running: int | None = None) -> None:
        """The stream's events through a TransferWindow: those of one `order_key` in order, the others at once
        (`running` of them, by default the settings' transfer concurrency)."""
        running = running or settings.transfer_concurrency
        manual = stream.noack()  # each event is acknowledged by the window when it has been carried out
        window = TransferWindow(carry_out, manual.ack, running=running, held=running * 2,
                                pause=app.pause_partition, resume=app.resume_partition)
        try:
            async for event in manual.events():
                await window.admit(order_key(event), event)
        finally:
            await window.close()

    async def transfer_sales_invoice(event: Any) -> None:
        request = await decoded(event, "TransferRequested", "sales_invoice_transfer")
        if request is not None:
            owner_check.set(functools.partial(owns, event))  # this task's own context
            try:
                async with serving.use(request["tenant"]) as runtime:
                    await runtime.transfer.handle(request, runtime.attempt_number(request))
            except TenantUnavailable as exc:
                await not_served(event, "sales_invoice_transfer", str(exc))

    async def sales_request(runtime: Runtime, observed: Json) -> Json | None:
        return transfer_request(observed, runtime.directory)

    async def purchase_request(runtime: Runtime, observed: Json) -> Json | None:
        return await runtime.purchase_trigger.request(observed)

    async def travel_request(runtime: Runtime, observed: Json) -> Json | None:
        return await travel.travel_request(observed, runtime.travel_directory)

    async def payment_request(runtime: Runtime, observed: Json) -> Json | None:
        return payment.payment_request(observed, runtime.companies)

    async def dimension_item_requests(runtime: Runtime, observed: Json) -> list[Json]:
        return dimension_item.transfer_requests(observed, runtime.companies)

    @app.agent(app.raw_topic(topics.smoke_in()))
    async def smoke(stream: Any) -> None:
        """Echo an EntityObserved to the smoke output, caused by the input: proves the app runs on the broker."""
        smoke_out = app.raw_topic(topics.smoke_out())
        async for event in stream.events():
            try:
                _, record = decode(event.value)
            except CodecError as exc:
                await app.send_dead_letter(event, f"undecodable: {exc}")
                continue
            echoed = {**record, "event_id": f"smoke:{record['event_id']}", "causation_id": record["event_id"]}
            await smoke_out.send(key=event.key, value=encode("EntityObserved", echoed))

    @app.agent(app.raw_topic(topics.observed("severa", "invoice")))
    async def sales_invoice_trigger(stream: Any) -> None:
        """An invoice version in its company's transfer status becomes a transfer request."""
        await trigger(stream, "sales_invoice_trigger", sales_request)

    @app.agent(app.raw_topic(topics.observed("procountor", "purchase_invoice")))
    async def purchase_invoice_trigger(stream: Any) -> None:
        """A purchase invoice in an import status, dimensioned to projects, becomes an import request."""
        await trigger(stream, "purchase_invoice_trigger", purchase_request)

    @app.agent(app.raw_topic(topics.observed("severa", "travel_reimbursement")))
    async def travel_reimbursement_trigger(stream: Any) -> None:
        """A travel reimbursement in its company's status_before becomes a transfer request."""
        await trigger(stream, "travel_reimbursement_trigger", travel_request)

    @app.agent(app.raw_topic(*(topics.observed("severa", entity) for entity in dimension_item.SOURCES)))
    async def dimension_item_trigger(stream: Any) -> None:
        """A project, cost center or business unit version becomes a status check of its item, per company."""
        await trigger(stream, "dimension_item_trigger", dimension_item_requests)

    @app.agent(app.raw_topic(topics.transfer_requested(dimension_item.KIND)))
    async def dimension_item_transfer(stream: Any) -> None:
        """Close or reopen dimension items in Procountor as their Severa sources are, in order."""
        await transfer_each(stream, "dimension_item_transfer", lambda runtime: runtime.dimension_items)

    @app.agent(app.raw_topic(topics.observed("severa", "user")))
    async def travel_user_cache(stream: Any) -> None:
        """Keep each user's business unit current for the travel trigger (in a pool, of the tenants whose
        runtimes are open here: a runtime opened later reads its directory afresh)."""
        async for event in stream.events():
            if event.value is None:  # a tombstone: `sevpro forget` of tenant/<user guid>
                tenant, _, guid = (event.key or b"").decode().partition("/")
                await serving.ready()
                for runtime in serving.running():
                    if runtime.settings.tenant == tenant:
                        runtime.travel_directory.forget_user(guid)
                continue
            observed = await decoded(event, "EntityObserved", "travel_user_cache")
            if observed is None:
                continue
            try:
                async with serving.use(observed["tenant"]) as runtime:
                    runtime.travel_directory.remember_user(json.loads(observed["snapshot"]))
            except TenantUnavailable as exc:
                await not_served(event, "travel_user_cache", str(exc))

    @app.agent(app.raw_topic(topics.transfer_requested(KIND)))
    async def sales_invoice_transfer(stream: Any) -> None:
        """Carry out transfer requests; different invoices concurrently, one invoice's requests in order."""
        await carried_out_in_window(stream, transfer_sales_invoice, lambda event: event.key)

    @app.agent(app.raw_topic(topics.transfer_requested(purchase_invoice.KIND)))
    async def purchase_invoice_transfer(stream: Any) -> None:
        """Import purchase invoices as Severa project fees, in order (purchase volumes are small)."""
        await transfer_each(stream, "purchase_invoice_transfer", lambda runtime: runtime.purchase_transfer)

    @app.agent(app.raw_topic(topics.observed("procountor", "sales_invoice")))
    async def payment_trigger(stream: Any) -> None:
        """A transferred sales invoice paid in Procountor (in part or in full) becomes a payment request."""
        await trigger(stream, "payment_trigger", payment_request)

    @app.agent(app.raw_topic(topics.transfer_requested(payment.KIND)))
    async def payment_transfer(stream: Any) -> None:
        """Write payments back to the Severa invoices, in order."""
        await transfer_each(stream, "payment_transfer", lambda runtime: runtime.payments)

    @app.agent(app.raw_topic(topics.transfer_requested(travel.KIND)))
    async def travel_reimbursement_transfer(stream: Any) -> None:
        """Transfer travel reimbursements as Procountor travel invoices, in order."""
        await transfer_each(stream, "travel_reimbursement_transfer", lambda runtime: runtime.travel)

    def rebalance_started() -> None:
        """faust calls this in its consumer thread as the group starts to rebalance, then waits for every event
        the worker holds: registry asks end, and held transfers end before any write, at once (transient,
        retried), so that the worker rejoins within the broker's rebalance timeout (streams/registers.py)."""
        state.rebalance_began = time.monotonic()
        writing = sum(runtime.writers.writing for runtime in serving.running())
        log.info("worker group rebalancing: transfers past their create finish, the rest end", writing=writing)
        for answers in {id(runtime.answers): runtime.answers for runtime in serving.running()}.values():
            answers.rebalance_started()

    app.rebalance_listeners = [rebalance_started]

    @app.on_partitions_assigned.connect
    async def rebalance_ended(sender: Any, /, *args: Any, **kwargs: Any) -> None:
        """The worker has its partitions again: registry requests are owned and answered, transfers go on."""
        for answers in {id(runtime.answers): runtime.answers for runtime in serving.running()}.values():
            answers.rebalance_ended()
        if state.rebalance_began is not None:  # how long the worker was out: within faust's rebalance timeout?
            log.info("worker group rebalanced", seconds=round(time.monotonic() - state.rebalance_began, 2))
            state.rebalance_began = None
        state.retry_due = asyncio.get_running_loop().time() + RETRY_AFTER_REBALANCE_SECONDS
        # The workers' shares of each API client's pace follow their number: a pool's, and a tenant's own.
        state.counting = asyncio.get_running_loop().create_task(serving.count_workers(app.conf.id),
                                                                name="count-workers")

    @app.agent(app.raw_topic(topics.registry_create_requested()))
    async def registry_create(stream: Any) -> None:
        """Find or create the registry records whose keys' partitions this worker owns, several at once, those
        of one key one after the other (streams/registers.py): one customer, product, person and item per key,
        however many workers run, and one tenant's slow create holds no other tenant's answer. Through the
        window, so that the committed offset never passes a request not carried out (faust's concurrent
        actors acknowledge out of order, and its gap check does not hold: streams/transfer_window.py)."""

        async def carry_out(event: Any) -> None:
            asked = await decoded(event, "RegistryCreateRequested", "registry_create")
            if asked is None:
                return
            try:
                async with serving.use(asked["tenant"]) as runtime:
                    answer = await runtime.registers.carry_out(runtime.emit, asked, runtime.contexts)
                    await runtime.emit("RegistryCreateAnswered", answer)
            except TenantUnavailable as exc:
                await not_served(event, "registry_create", str(exc))

        await carried_out_in_window(stream, carry_out, lambda event: event.key, running=OWNER_CONCURRENCY)

    @app.timer(interval=1.0, on_leader=True)
    async def send_error_notifications() -> None:
        """Leader-only: failed transfers → e-mail to the company's error address (batched; from Kafka, so a new
        leader neither loses what was pending nor repeats what was sent). In a pool, for every tenant served."""
        if state.stopping:
            return
        try:
            if state.notifications is None:
                await serving.ready()
                feed = NotificationFeed(bootstrap, Notifier(NotifierConfig.from_settings(settings)),
                                        serving.companies, ours)
                await feed.start()
                state.notifications = feed
            await state.notifications.tick()
        except Exception as exc:  # the next tick tries again; the log says why
            log.error("error notifications failed", error=f"{type(exc).__name__}: {exc}")

    if pool is not None:
        @app.agent(app.raw_topic(topics.tenants_configured()))
        async def tenant_polling_partitions(stream: Any) -> None:
            """Read nothing from it: subscribing is what matters. The group spreads the partitions of
            config.tenants over the pool's workers, and each polls the tenants whose configuration is on its own
            (streams/pool.py): a worker added takes some, a lost worker's move within the session timeout."""
            async for _ in stream.events():
                pass

        def owned_tenant_partitions() -> set[int]:
            if app.rebalancing:
                return set()
            return {tp.partition for tp in app.consumer.assignment() if tp.topic == topics.tenants_configured()}

        pool.assigned = owned_tenant_partitions

        @app.timer(interval=0.5)
        async def poll_tenants() -> None:
            """Every pool worker: poll the tenants whose configuration lies on its partitions of config.tenants,
            each on the schedule, and hand over those it no longer owns."""
            if not state.stopping:
                await pool.poll_tick()

        @app.timer(interval=max(1.0, min(30.0, settings.pool_idle_seconds / 4)))
        async def close_idle_tenants() -> None:
            """Every pool worker: close the runtimes of tenants without work here for SEVPRO_POOL_IDLE_SECONDS."""
            if not state.stopping:
                await pool.sweep()

        @app.timer(interval=2.0)
        async def redrive_parked_events() -> None:
            """Every pool worker, for the tenants it polls: their events parked while they were not served are
            published again once they are (streams/pool.py, streams/dead_letters.py)."""
            if not state.stopping:
                await pool.redrive_tick()

        @app.task
        async def follow_configuration() -> None:
            """The tenants and their company settings, applied to this worker's runtimes as they change."""
            await pool.run()

    @app.timer(interval=0.5, on_leader=True)
    async def poll_sources() -> None:
        """Leader-only, in one tenant's worker group (a pool polls by tenant, above): start a round of polling
        when one is due and none is running. A round can take seconds (the APIs' pace); it runs as a task of its
        own so the timer never overlaps itself."""
        if pool is not None or state.stopping or (state.poll_round is not None and not state.poll_round.done()):
            return
        now_utc = datetime.now(UTC)
        if not sync_schedule.is_due(state.last_sync, now_utc):
            return
        state.last_sync = now_utc
        state.poll_round = asyncio.get_running_loop().create_task(poll_round(), name="poll-round")

    async def poll_round() -> None:
        """Read Severa and Procountor changes that are due (each source at its own pace)."""
        async with serving.use(settings.tenant) as runtime:
            await poll_runtime(runtime)

    async def poll_runtime(runtime: Runtime) -> None:
        try:
            if runtime.stopped:
                return
            if not runtime.pollers:
                await runtime.start_pollers()
        except Exception as exc:  # the next round tries again
            log.error("pollers could not start", error=f"{type(exc).__name__}: {exc}")
            return
        try:
            await poll_each_due(runtime.pollers, state.poll_failures)
        except PollerFenced as exc:  # another worker of the group polled for a moment (a leader change)
            log.warning("tenant's poll producer was fenced (another worker polled it for a moment): its pollers "
                        "start anew at the next round", error=str(exc)[:300])
            await runtime.stop_pollers()

    async def retry_failures_now() -> None:
        """Failed-transient and failed-config transfers are requested again, through the normal idempotent path."""
        if state.stopping:
            return
        await serving.ready()
        if state.store is None:
            state.store = ProjectionStore()
        for tenant in serving.tenants():
            retried = await retry_failures(bootstrap, state.store, tenant)
            if retried:
                log.info("transient and configuration failures requested again", tenant=tenant, count=len(retried))

    @app.timer(interval=1.0, on_leader=True)
    async def retry_after_rebalance() -> None:
        """Leader-only: the transfers the workers ended at a rebalance, nothing written, are requested again
        a few seconds after it, not on the next cycle."""
        if state.retry_due is not None and asyncio.get_running_loop().time() >= state.retry_due:
            state.retry_due = None
            await retry_failures_now()

    @app.timer(interval=settings.transient_retry_seconds, on_leader=True)
    async def retry_transient_failures() -> None:
        """Leader-only: failed-transient and failed-config transfers are requested again on every cycle."""
        await retry_failures_now()

    @app.task
    async def run_projector() -> None:
        """Keep the transfer log, ID map and history current in this worker's SQLite projection."""
        if not settings.run_projector:
            return
        async with Projector(bootstrap) as projector:
            await projector.run(asyncio.Event())

    @app.on_before_shutdown.connect
    async def close_runtime(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        """The worker is stopping: close the pollers' and the runtime's producers and the API clients."""
        state.stopping = True
        if state.poll_round is not None and not state.poll_round.done():
            state.poll_round.cancel()  # a poll cancelled mid-transaction aborts it: nothing half-published
            with contextlib.suppress(asyncio.CancelledError):
                await state.poll_round
        if state.notifications is not None:
            await state.notifications.stop()
        await serving.close()

    return state

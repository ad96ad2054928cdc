"""One customer, product, person and dimension item per key in Procountor, however many transfers and workers run.

Up to `transfer_concurrency` transfers run at once in a worker, and several workers share a tenant; Procountor
has no unique key on these registers, so two find-then-create of one key that overlap make two records. Hence
every creation goes through `Registers.ensure`:

- Inside a worker, one asyncio lock per (company, registry, key): one transfer asks, the others of the worker
  wait, then find the record in the company's cache.
- Across workers, a worker asks on `registry.create.requested`, keyed tenant/company/registry/key: the worker
  that owns that partition (the consumer group gives each partition to one worker) finds or creates the
  record (`carry_out`, the `registry_create` agent: up to `OWNER_CONCURRENCY` requests at once, those of one
  key one after the other), and answers on `registry.create.answered`, which every worker reads from its end
  (`Answers`). A second request for a key finds what the first created. The owner publishes the `IdLinked` of
  what it created.
- Without a broker (tests, one-off tools: no `Answers`), `ensure` finds or creates in place, under the lock.

A rebalance of the worker group is the worst moment. From its start until the worker has its partitions again nobody
owns a request partition, so no answer can come; and faust waits for every event the worker holds (up to
`transfer_concurrency * 2` requests of each transfer agent) before the worker may rejoin. A worker that holds them
longer than the broker's rebalance timeout (faust's 60 s) is dropped from the group, and the other worker carries
out the same requests from the last committed offsets while this one still writes: invoices written twice, and the
group rebalancing again and again (seen in the two-worker end-to-end test). Hence, while the group rebalances
(`Answers.rebalance_started` .. `rebalance_ended`), every ask waiting ends at once, no new ask is sent, and no
transfer begins or makes its first write, nor does an owner create a record (`Registers.held`): they end as
transient failures, nothing written, and the leader requests them again a few seconds after the rebalance
(streams/agents.py). Only transfers past their create finish, and they are never more than the tenant's paces
finish in half the rebalance timeout (streams/writers.py: 135 at the benchmark's paces, fewer on a pool worker
pacing at its share), so the worker rejoins in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from connectors.errors import ApiAuthError, TransientApiError
from connectors.severa.client import SeveraClient
from foundation.exact_json import dumps, loads
from foundation.kafka import read_committed_consumer
from foundation.logs import get_logger, redact_text
from foundation.types import Emit, Json
from schemas import topics
from schemas.codec import CodecError, decode, now
from streams.mapping.errors import TransferDataError
from streams.mapping.products import customer_to_business_partner
from streams.mapping.travel_reimbursement import employee, person_body
from streams.transfer import (
    CompanyContext,
    ConfigFailure,
    TransientFailure,
    cached_item,
    config_failure,
    link_event,
    procountor_call,
)

log = get_logger(__name__)
ANSWER_SECONDS = 60.0  # no answer by then (the owner is stuck, or down): a transient failure, retried
# Requests a worker carries out at once (the registry_create agent's concurrency): a create that hangs in one
# tenant's Procountor, or one slow tenant's queue of them, must not hold every other tenant's answers past
# ANSWER_SECONDS. Requests of one key still go one after the other (`Registers.carry_out`).
OWNER_CONCURRENCY = 16
REBALANCING = ("the worker group is rebalancing (a worker joined, left or stopped answering): nothing was "
               "written; the transfer is requested again once the group is stable")


# ----------------------------------------------------------------------------------------------- registries


@dataclass(frozen=True)
class Registry:
    """How one Procountor register is read and written; `cached` and `remember` use the company's cache."""

    find: Callable[[CompanyContext, str, Json], Awaitable[Json | None]]
    create: Callable[[CompanyContext, str, Json], Awaitable[Json]]
    cached: Callable[[CompanyContext, str, Json], Json | None]
    remember: Callable[[CompanyContext, str, Json, Json], None]


async def _find_partner(context: CompanyContext, key: str, body: Json) -> Json | None:
    return await context.client.find_business_partner(key)


async def _find_product(context: CompanyContext, key: str, body: Json) -> Json | None:
    for kind in ("SALES", "TRAVEL"):  # one type per search: the reference documents one value
        page = await context.client.search_products(code=key, type=kind)
        found = next((p for p in page.get("results", []) if p.get("code") == key and p.get("active", True)), None)
        if found is not None:
            return found
    return None


async def _find_person(context: CompanyContext, key: str, body: Json) -> Json | None:
    found = await context.client.find_person(key)
    return None if found is None else await context.client.get_person(int(found["id"]))


async def _find_item(context: CompanyContext, key: str, body: Json) -> Json | None:
    await context.reload_dimensions()  # made since the cache was loaded (by a user, or another request)
    return cached_item(context, body["dimension"], body["item"]["codeName"])


async def _create_item(context: CompanyContext, key: str, body: Json) -> Json:
    dimension = await context.dimension(body["dimension"], key)
    return await context.client.create_dimension_item(dimension["id"], body["item"])


def _remember_item(context: CompanyContext, key: str, body: Json, item: Json) -> None:
    dimension = context.dimensions.get(body["dimension"])
    if dimension is not None and cached_item(context, body["dimension"], body["item"]["codeName"]) is None:
        dimension.setdefault("items", []).append(item)


REGISTRIES: dict[str, Registry] = {
    "customer": Registry(
        find=_find_partner,
        create=lambda context, key, body: context.client.create_business_partner(body),
        cached=lambda context, key, body: context.partners.get(key),
        remember=lambda context, key, body, partner: context.partners.__setitem__(key, partner)),
    "product": Registry(
        find=_find_product,
        create=lambda context, key, body: context.client.create_product(body),
        cached=lambda context, key, body: {"code": key} if key in context.product_codes else None,
        remember=lambda context, key, body, product: context.product_codes.add(key)),
    "person": Registry(
        find=_find_person,
        create=lambda context, key, body: context.client.create_person(body),
        cached=lambda context, key, body: None,  # persons are read in full by each transfer
        remember=lambda context, key, body, person: None),
    "dimension_item": Registry(
        find=_find_item,
        create=_create_item,
        cached=lambda context, key, body: cached_item(context, body["dimension"], body["item"]["codeName"]),
        remember=_remember_item),
}


async def find_or_create(emit: Emit, cause: Json, context: CompanyContext, registry: str, key: str, body: Json,
                         record: str, severa_id: str | None,
                         held: Callable[[], str | None] = lambda: None) -> tuple[Json, bool]:
    """The record of `key`, created when Procountor has none; (record, created). Its caller makes sure no other
    find_or_create of the same key runs at the same time; `held` says why that may no longer be so (the
    request's partition may be another worker's by now). `cause`: tenant, company, correlation and event id
    of the transfer request, for the IdLinked of a created record."""
    kind = REGISTRIES[registry]
    found = await kind.find(context, key, body)
    if found is not None:
        kind.remember(context, key, body, found)
        return found, False
    if reason := held():
        raise TransientFailure(reason)
    created = await procountor_call(kind.create(context, key, body), record)
    kind.remember(context, key, body, created)
    await emit("IdLinked", link_event(cause, registry, severa_id, key, created["id"], created=True))
    log.info("registry record created", registry=registry, key=key, company=context.settings.name)
    return created, True


# ------------------------------------------------------------------------------------------------ routing


class Answers:
    """A worker's reader of registry.create.answered: every partition from its end (no group), so each answer
    reaches the worker that waits for it; `ask` sends a request and waits for its answer."""

    def __init__(self, bootstrap: str, send: Emit, partitions_for: Callable[[str], Awaitable[set[int]]],
                 timeout: float = ANSWER_SECONDS) -> None:
        self.consumer = read_committed_consumer(bootstrap)
        self.send = send
        self.partitions_for = partitions_for  # the producer's: waits until the topic shows in the metadata
        self.timeout = timeout
        self._waiting: dict[str, asyncio.Future[Json]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # From the start of a rebalance of the worker group until this worker has its partitions again.
        self.rebalancing = False

    async def start(self) -> None:
        try:
            partitions = await self.partitions_for(topics.registry_create_answered())
        except KafkaError as exc:  # else every creation would wait for an answer that never comes
            raise RuntimeError(f"topic {topics.registry_create_answered()} cannot be read ({type(exc).__name__}): "
                               "the worker creates its topics when it starts (foundation.kafka.ensure_topics)") from exc
        self._loop = asyncio.get_running_loop()
        await self.consumer.start()
        assigned = [TopicPartition(topics.registry_create_answered(), p) for p in sorted(partitions)]
        self.consumer.assign(assigned)
        await self.consumer.seek_to_end(*assigned)
        for partition in assigned:  # the end is fixed now, before any request is sent
            await self.consumer.position(partition)
        self._reader = asyncio.get_running_loop().create_task(self._read(), name="registry-answers")

    async def _read(self) -> None:
        while True:
            try:
                batches = await self.consumer.getmany(timeout_ms=500)
            except Exception as exc:  # the broker away for a moment: the consumer reconnects by itself
                log.warning("registry answers cannot be read yet", error=f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(1.0)
                continue
            for records in batches.values():
                for message in records:
                    try:
                        _, answer = decode(message.value)
                    except CodecError:
                        continue  # not ours to judge here: nobody waits for it
                    waiting = self._waiting.get(str(answer.get("causation_id")))
                    if waiting is not None and not waiting.done():
                        log.info("registry answer received", registry=answer.get("registry"), key=answer.get("key"),
                                 request=answer.get("causation_id"), created=answer.get("created"),
                                 error=(answer.get("error") or {}).get("code"))
                        waiting.set_result(answer)

    async def ask(self, asked: Json) -> Json:
        waiting: asyncio.Future[Json] = asyncio.get_running_loop().create_future()
        self._waiting[asked["event_id"]] = waiting  # before the check: a rebalance starting from here ends it
        try:
            if self.rebalancing:  # nobody owns the request's partition until the group is stable again
                raise TransientFailure(REBALANCING)
            await self.send("RegistryCreateRequested", asked)
            log.info("registry record asked", registry=asked["registry"], key=asked["key"],
                     company=asked["company"], request=asked["event_id"])
            return await asyncio.wait_for(waiting, self.timeout)
        except TimeoutError:
            raise TransientFailure(f"no answer within {self.timeout:.0f} s from the worker that creates "
                                   f"{asked['registry']} {asked['key']} (stuck, or down)") from None
        finally:
            self._waiting.pop(asked["event_id"], None)

    def rebalance_started(self) -> None:
        """The worker group starts to rebalance (faust calls this in its consumer thread): every ask waiting
        ends now, and asks are refused until `rebalance_ended`, as transient failures (retried)."""
        self.rebalancing = True
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._give_up)  # the futures belong to the worker's loop

    def rebalance_ended(self) -> None:
        """This worker has its partitions again: the request partitions are owned, asks are answered."""
        self.rebalancing = False
        log.info("registry asks resumed: the worker group is stable again")

    def _give_up(self) -> None:
        waiting = [future for future in self._waiting.values() if not future.done()]
        for future in waiting:
            future.set_exception(TransientFailure(REBALANCING))
        (log.warning if waiting else log.info)(
            "the worker group is rebalancing: registry asks ended, none sent until it is stable",
            asks_ended=len(waiting))

    async def aclose(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self.consumer.stop()


class Registers:
    """Find-or-create, single per (company, registry, key) in this worker and, through `answers`, across the
    tenant's workers. One instance per worker, shared by its transfers."""

    def __init__(self, answers: Answers | None = None, severa: SeveraClient | None = None) -> None:
        self.answers = answers
        self.severa = severa  # the owner reads a person's user from Severa (see `_person_body`)
        self._locks: defaultdict[tuple[str, str, str], asyncio.Lock] = defaultdict(asyncio.Lock)
        # The owner's side: one request of a key carried out at a time (the agent takes several keys at once).
        # Not `_locks`: a transfer of this very worker may hold the key's lock while it waits for the answer.
        self._owning: dict[tuple[str, str, str], tuple[asyncio.Lock, int]] = {}

    def held(self) -> str | None:
        """Why no transfer of this worker may begin, or make its first write, now (None: it may)."""
        return REBALANCING if self.answers is not None and self.answers.rebalancing else None

    async def ensure(self, emit: Emit, request: Json, context: CompanyContext, registry: str, key: str, body: Json,
                     record: str, severa_id: str | None = None) -> Json:
        """The record of `key`, found or created once (a data error names `record`, the user's record)."""
        kind = REGISTRIES[registry]
        async with self._locks[(context.settings.name, registry, key)]:
            cached = kind.cached(context, key, body)
            if cached is not None:  # another transfer of this worker asked while this one waited
                return cached
            if self.answers is None:
                found, _ = await find_or_create(emit, request, context, registry, key, body, record, severa_id)
                return found
            answer = await self.answers.ask({
                "event_id": f"{request['event_id']}:{registry}:{key}:{uuid.uuid4().hex[:8]}",
                "correlation_id": request["correlation_id"], "causation_id": request["event_id"],
                "tenant": request["tenant"], "company": request["company"], "registry": registry, "key": key,
                "severa_id": severa_id, "record": record, "requested_at": now(),
                # A person's body holds the bank account in full, and a private customer's its personal identity
                # code, which no event may carry: the owner builds them from Severa itself.
                "body": dumps({} if registry == "person" else _without_identifier(body) if _personal(registry, body)
                              else body)})
            error = answer.get("error")
            if error:
                if error.get("kind") == "transient":
                    raise TransientFailure(str(error.get("message")))
                if error.get("kind") == "config":
                    raise ConfigFailure(str(error["code"]), str(error.get("message")))
                raise TransferDataError(str(error["code"]), record=record, field=error.get("field"),
                                        value=error.get("value"), message=error.get("message"),
                                        solution=error.get("solution"))
            target = loads(answer["target"])
            if _personal(registry, body):  # the answer left it out too
                target = {**target, "invoicingInfo": {**(target.get("invoicingInfo") or {}),
                                                      "identifier": body["invoicingInfo"]["identifier"]}}
            kind.remember(context, key, body, target)
            return target

    async def carry_out(self, emit: Emit, asked: Json, contexts: Mapping[str, CompanyContext]) -> Json:
        """The owner's side: find or create what `asked` names; the RegistryCreateAnswered (never raises).
        Requests of other keys go on meanwhile; one of the same key waits, then finds what this one created."""
        key = (str(asked["company"]), str(asked["registry"]), str(asked["key"]))
        lock, users = self._owning.get(key, (asyncio.Lock(), 0))
        self._owning[key] = (lock, users + 1)
        try:
            async with lock:
                return await self._carry_out(emit, asked, contexts)
        finally:
            lock, users = self._owning[key]
            if users == 1:
                del self._owning[key]
            else:
                self._owning[key] = (lock, users - 1)

    async def _carry_out(self, emit: Emit, asked: Json, contexts: Mapping[str, CompanyContext]) -> Json:
        fields: dict[str, Any] = {"target": None, "created": False, "error": None}
        try:
            context = contexts.get(asked["company"])
            if context is None:
                raise TransferDataError("UNKNOWN_COMPANY", record=asked["record"], field="company",
                                        value=asked["company"],
                                        message=f"no Procountor credentials for company {asked['company']}")
            await context.ensure_loaded()
            cause = {"tenant": asked["tenant"], "company": asked["company"],
                     "correlation_id": asked["correlation_id"], "event_id": asked["causation_id"] or asked["event_id"]}
            body = loads(asked["body"])
            personal = _personal(asked["registry"], body)
            if asked["registry"] == "person":
                body = await self._person_body(context, asked)
            elif personal:
                body = await self._customer_body(context, asked)
            target, created = await find_or_create(emit, cause, context, asked["registry"], asked["key"], body,
                                                   asked["record"], asked["severa_id"], held=self.held)
            if asked["registry"] == "person":
                target = {"id": target["id"]}  # the asker needs the id only; the rest is personal data
            elif personal:
                target = _without_identifier(target)
            fields.update(target=dumps(target), created=created)
        except TransferDataError as error:
            fields["error"] = error.to_dict()
        except (ApiAuthError, ConfigFailure) as exc:
            failure = config_failure(exc) if isinstance(exc, ApiAuthError) else exc
            fields["error"] = _error(asked, failure.code, "config", str(failure))
        except (TransientApiError, TransientFailure) as exc:
            fields["error"] = _error(asked, "TRANSIENT", "transient", f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # noqa: BLE001 - the agent must answer (and go on): the asker retries later
            log.error("registry creation failed", registry=asked["registry"], key=asked["key"],
                      error=f"{type(exc).__name__}: {exc}"[:300])
            fields["error"] = _error(asked, "TRANSIENT", "transient", redact_text(f"{type(exc).__name__}: {exc}"))
        return {"event_id": f"{asked['event_id']}:answered", "correlation_id": asked["correlation_id"],
                "causation_id": asked["event_id"], "tenant": asked["tenant"], "company": asked["company"],
                "registry": asked["registry"], "key": asked["key"], "occurred_at": now(), **fields}

    async def _person_body(self, context: CompanyContext, asked: Json) -> Json:
        """The Procountor person of the Severa user `asked` names, as the travel transfer would write it."""
        if self.severa is None or not asked.get("severa_id"):
            raise TransferDataError("MISSING_EMPLOYEE_NUMBER", record=asked["record"], field="user", value=None,
                                    message="the person's Severa user is not known")
        user = await self.severa.get_user(asked["severa_id"])
        code, iban = employee(user, record=asked["record"])
        return person_body(user, code, iban, context.settings)


    async def _customer_body(self, context: CompanyContext, asked: Json) -> Json:
        """The business partner of the private customer `asked` names, as the sales invoice transfer writes it."""
        if self.severa is None or not asked.get("severa_id"):
            raise TransferDataError("MISSING_CUSTOMER", record=asked["record"], field="customer", value=asked["key"],
                                    message="the private customer's Severa card is not known")
        customer = await self.severa.get_customer(asked["severa_id"])
        customer["addresses"] = await self.severa.get_customer_addresses(asked["severa_id"])
        return customer_to_business_partner(customer, context.settings.country)


def _personal(registry: str, body: Json) -> bool:
    """A private customer: its identifier is a personal identity code (it has an identifierType)."""
    return registry == "customer" and bool((body.get("invoicingInfo") or {}).get("identifierType"))


def _without_identifier(partner: Json) -> Json:
    info = {k: v for k, v in (partner.get("invoicingInfo") or {}).items() if k != "identifier"}
    return {**partner, "invoicingInfo": info}


def _error(asked: Json, code: str, kind: str, message: str) -> Json:
    return {"code": code, "kind": kind, "record": asked["record"], "field": None, "value": None,
            "message": message[:1000], "solution": None}

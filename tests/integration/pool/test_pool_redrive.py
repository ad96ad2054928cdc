"""Nothing is lost in a pool: an event of a tenant the pool cannot serve is parked on the dead-letter topic, and
goes through once the tenant is served again, without a worker restart and without anyone copying bytes. Real
broker, each tenant's own sandboxes over sockets, real pool worker processes, `sevpro` commands as an operator
types them."""

from __future__ import annotations

import asyncio
import json
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from foundation.kafka import admin_client
from sandbox.runner import SandboxServer
from schemas import topics
from tests.integration.pool.deployment import (
    TRANSFERRED,
    Pool,
    Tenant,
    add_tenant,
    no_polling,
    publish_observed,
    sevpro,
)

pytestmark = pytest.mark.integration
PARTITIONS = 4  # the worker's SEVPRO_TOPIC_PARTITIONS (default)


def _invoice(tenant: Tenant, number: int) -> dict[str, Any]:
    return next(i for i in tenant.severa.app.state.store.all("invoices") if i["number"] == number)


def _parked(tenant: str, *options: str) -> list[dict[str, Any]]:
    return json.loads(sevpro("dead-letters", "list", "--tenant", tenant, "--json", *options))


def _group_caught_up(bootstrap: str, group: str, *names: str) -> bool:
    """The pool's consumer group has committed every record of these topics as they end now."""
    async def check() -> bool:
        admin, consumer = admin_client(bootstrap), AIOKafkaConsumer(bootstrap_servers=bootstrap)
        await admin.start()
        await consumer.start()
        try:
            committed = await admin.list_consumer_group_offsets(group)
            partitions = [TopicPartition(name, p) for name in names for p in range(PARTITIONS)]
            end = await consumer.end_offsets(partitions)
            return all((committed[tp].offset if tp in committed else 0) >= end[tp] for tp in partitions)
        finally:
            await consumer.stop()
            await admin.close()

    return asyncio.run(check())


def _requests_for(bootstrap: str, source_id: str) -> int:
    from tests.integration.pollers.kafka_read import read_events

    return sum(1 for request in asyncio.run(read_events(bootstrap, topics.transfer_requested("sales-invoice")))
               if request.get("source_id") == source_id)


def test_parked_for_a_missing_api_key_or_while_disabled_then_transferred_once_when_served_again(
        pool: Pool, unique: str, tmp_path: Path) -> None:
    with ExitStack() as stack:
        # b: its company settings name an API key variable the workers do not have (a typo).
        b = add_tenant(stack, f"b{unique}", tmp_path, status="NOT_SENT", own_clients=True)
        key_env = next(name for name in b.secrets if name.endswith("_KEY_FI"))
        sevpro("settings", "set", "--tenant", b.name, "--company", "FI", f"procountor_api_key_env={key_env}_TYPO",
               "--by", "test")
        # c: registered, then disabled.
        c = add_tenant(stack, f"c{unique}", tmp_path, status="NOT_SENT", own_clients=True)
        sevpro("tenants", "disable", c.name, "--by", "test")
        pool.tenants += [b, c]
        b.only_ready(10003)
        c.only_ready(10004)
        pool.settings.update(no_polling())  # only a re-drive can bring these invoices back
        publish_observed(pool.bootstrap, b, "invoice", _invoice(b, 10003))
        publish_observed(pool.bootstrap, c, "invoice", _invoice(c, 10004))
        worker, log = pool.start_worker()

        pool.wait_until("b's and c's invoices parked, with the reasons", lambda: bool(
            _parked(b.name) and _parked(c.name)), timeout=120)
        [b_letter], [c_letter] = _parked(b.name), _parked(c.name)
        assert f"{key_env}_TYPO" in b_letter["reason"] and b_letter["cause"] == "not-served"
        assert "disabled" in c_letter["reason"] and c_letter["cause"] == "not-served"
        assert b.in_procountor() == {} and c.in_procountor() == {}

        # The operator fixes b's settings, and enables c again: both invoices go through, in the same worker.
        sevpro("settings", "set", "--tenant", b.name, "--company", "FI", f"procountor_api_key_env={key_env}",
               "--by", "operator")
        sevpro("tenants", "add", c.name, "--severa-client-id", f"{c.name}-severa", "--severa-client-secret",
               f"env:{next(name for name in c.secrets if name.endswith('_SEVERA_SECRET'))}",
               "--procountor-client-id", f"{c.name}-procountor", "--procountor-client-secret",
               f"file:{tmp_path / f'{c.name}-procountor-secret'}", "--severa-url", f"{c.severa.url}/rest-api",
               "--procountor-url", f"{c.procountor.url}/api", "--replace", "--by", "operator")
        pool.wait_until("b's 10003 transferred", lambda: b.severa_status(10003) == TRANSFERRED)
        pool.wait_until("c's 10004 transferred", lambda: c.severa_status(10004) == TRANSFERRED)
        assert b.in_procountor() == {"10003": ["NOT_SENT"]}
        assert c.in_procountor() == {"10004": ["NOT_SENT"]}
        assert _parked(b.name) == [] and _parked(c.name) == []  # nothing still parked
        [redriven] = _parked(b.name, "--all")
        assert [r["redriven_by"] for r in redriven["redriven"]] == [f"pool {pool.name}"]

        # Re-driven once more by hand (an operator who is not sure): handled again, and still transferred once.
        requests_before = _requests_for(pool.bootstrap, _invoice(b, 10003)["guid"])
        out = sevpro("dead-letters", "redrive", "--event-id", b_letter["event_id"], "--by", "operator")
        assert "1 record(s) published again" in out
        pool.wait_until("the record requested again", lambda: _requests_for(
            pool.bootstrap, _invoice(b, 10003)["guid"]) > requests_before, timeout=60)
        pool.wait_until("the pool has handled everything", lambda: _group_caught_up(
            pool.bootstrap, f"{pool.prefix}pool-{pool.name}", topics.observed("severa", "invoice"),
            topics.transfer_requested("sales-invoice")), timeout=60)
        assert b.in_procountor() == {"10003": ["NOT_SENT"]}
        assert worker.poll() is None  # one process all along
        assert "nothing was re-driven" in sevpro_fails("dead-letters", "redrive", "--event-id", "dlq:nope:0:0")


def sevpro_fails(*args: str) -> str:
    from typer.testing import CliRunner

    from sevpro.cli import app

    result = CliRunner().invoke(app, list(args))
    assert result.exit_code != 0, result.output
    return result.output


def test_a_tenant_whose_api_is_down_does_not_hold_the_partition_and_is_redriven_when_it_is_back(
        pool: Pool, unique: str, tmp_path: Path) -> None:
    with ExitStack() as stack:
        a = add_tenant(stack, f"a{unique}", tmp_path, status="UNFINISHED", own_clients=False)
        d = add_tenant(stack, f"d{unique}", tmp_path, status="NOT_SENT", own_clients=True)
        pool.tenants += [a, d]
        a.only_ready(10002)
        d.only_ready(10003)
        pool.settings.update(no_polling())  # the events are these, in this order
        d.severa.stop()  # d's Severa is down: its runtime cannot start (it reads the business units and statuses)
        publish_observed(pool.bootstrap, d, "invoice", _invoice(d, 10003))
        publish_observed(pool.bootstrap, a, "invoice", _invoice(a, 10002))  # after d's: an agent takes them in order
        worker, log = pool.start_worker()
        pool.wait_until("a's 10002 transferred", lambda: a.severa_status(10002) == TRANSFERRED, timeout=120)
        assert a.in_procountor() == {"10002": ["UNFINISHED"]}
        pool.wait_until("d's invoice parked: its runtime cannot start", lambda: any(
            "runtime cannot start" in letter["reason"] for letter in _parked(d.name)), timeout=60)

        # d's Severa is back: its runtime starts (a retry with back-off) and its parked invoice goes through.
        stack.enter_context(SandboxServer(d.severa.app, port=d.severa.port))
        pool.wait_until("d's 10003 transferred", lambda: d.severa_status(10003) == TRANSFERRED, timeout=180)
        assert d.in_procountor() == {"10003": ["NOT_SENT"]}
        assert _parked(d.name) == []
        assert worker.poll() is None

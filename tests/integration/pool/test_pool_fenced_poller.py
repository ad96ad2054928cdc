"""A tenant's polling goes on after its poll producer was fenced (issue 14). While the group rebalances, two
workers may both poll a tenant for a moment: the one that starts `poller-<tenant>` fences the other's producer.
If the tenant stays with (or comes back to) the fenced worker, that worker must poll it again with a new
producer; before, every later poll of the tenant failed ("can begin no transaction") and backed off for ever:
benchmarks/tenants.py saw 59 of 300 tenants never polled again after two workers joined. Real pool worker, real
broker, the tenant's own sandboxes over sockets; the other worker's start of `poller-<tenant>` is the test's."""

from __future__ import annotations

import asyncio
from contextlib import ExitStack
from pathlib import Path

import pytest

from foundation.kafka import transactional_producer
from schemas import topics
from tests.integration.pool.deployment import TRANSFERRED, WAITING, Pool, add_tenant, polling

pytestmark = pytest.mark.integration


async def _fence(bootstrap: str, tenant: str) -> None:
    """What a second worker polling the tenant does: start the tenant's transactional poll producer."""
    producer = transactional_producer(bootstrap, topics.named(f"poller-{tenant}"))
    await producer.start()
    await producer.stop()


def test_a_worker_whose_poll_producer_was_fenced_polls_its_tenant_again(pool: Pool, unique: str,
                                                                         tmp_path: Path) -> None:
    with ExitStack() as stack:
        a = add_tenant(stack, f"a{unique}", tmp_path, status="UNFINISHED", own_clients=False)
        pool.tenants.append(a)
        a.only_ready(10002)
        _, log = pool.start_worker(SEVPRO_INVOICE_POLL_SECONDS="1")
        pool.wait_until("a polled", lambda: a.name in polling(log), timeout=120)
        pool.wait_until("a's 10002 transferred", lambda: a.severa_status(10002) == TRANSFERRED)

        asyncio.run(_fence(pool.bootstrap, a.name))
        # The worker still polls a (no rebalance): a user moves the next invoice to transfer.
        a.set_status(10004, WAITING)
        pool.wait_until("a's 10004 transferred", lambda: a.severa_status(10004) == TRANSFERRED, timeout=120)
        assert a.in_procountor() == {"10002": ["UNFINISHED"], "10004": ["UNFINISHED"]}
        assert "poll producer was fenced" in log.read_text(errors="replace")

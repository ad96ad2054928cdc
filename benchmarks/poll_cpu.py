"""CPU of one tenant's polls (issue 14): what a pool worker spends on the HTTP calls and the reads of a tenant's
Severa and Procountor pollers when nothing has changed, the steady state of most tenants most of the time.

    python benchmarks/poll_cpu.py [--rounds 300] [--httpx-transport]

One Severa and one Procountor sandbox process (one organisation each, no added latency, no rate limit) answer a
Severa poller and a Procountor poller built as a pool worker builds them. After two passes over every source (the
first publishes what the sandboxes hold), each source is read `--rounds` times; nothing new is found, so nothing
is published (the pollers' producer is a stand-in that takes the first pass's events: no Kafka here). It prints the
process CPU per read of each source, the HTTP calls, and the CPU of one tenant's polling per 10 s at the
benchmark's settings (`tenants.py`: invoices, travel reimbursements and purchase invoices every 10 s, the
registries every 60 s): the part of `tenants.py`'s "CPU ms per poll" that is the poll itself, without the
worker's Kafka consumers, transfers and timers. `--httpx-transport`: the API clients on httpx's own transport
(httpcore) instead of aiohttp's connections (connectors/http_transport.py), to compare.

A CPU figure: it needs no quiet machine (the sandboxes run in their own processes), but a busy one adds noise.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from aiolimiter import AsyncLimiter

from connectors.procountor.client import ProcountorClient
from connectors.procountor.poller import procountor_poller
from connectors.severa.client import SeveraClient
from connectors.severa.poller import severa_poller
from connectors.tls import shared_tls_context
from sandbox.procountor.organisations import credentials as procountor_credentials
from sandbox.runner import free_port
from sandbox.severa.organisations import credentials as severa_credentials
from sandbox.severa.organisations import organisation_name

REPO = Path(__file__).resolve().parents[1]
EVERY_10_S = {"severa invoice", "severa travel_reimbursement", "procountor purchase_invoice"}


class TakesEvents:
    """The pollers' producer here: takes the first pass's transactions and forgets them."""

    async def begin_transaction(self) -> None:
        pass

    async def send(self, *args: Any, **kwargs: Any) -> None:
        pass

    async def commit_transaction(self) -> None:
        pass

    async def abort_transaction(self) -> None:
        pass


def start_sandbox(system: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sevpro.cli", "sandbox", system, "--port", str(port), "--organisations", "1",
         "--latency-ms", "0", "--rate-limit", "100000"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the {system} sandbox exited")
        try:
            if httpx.get(f"{base}/_sandbox/organisations", timeout=5).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.terminate()
    raise RuntimeError(f"the {system} sandbox did not answer within 120 s")


async def measure(severa_url: str, procountor_url: str, args: argparse.Namespace) -> None:
    name = organisation_name(1)
    client_id, secret = severa_credentials(name)
    procountor_id, procountor_secret, api_key = procountor_credentials(name)

    def transport() -> httpx.AsyncBaseTransport | None:
        return httpx.AsyncHTTPTransport(verify=shared_tls_context()) if args.httpx_transport else None

    unlimited = AsyncLimiter(100_000, 1)
    async with SeveraClient(f"{severa_url}/rest-api", client_id, secret, limiter=unlimited,
                            transport=transport()) as severa, \
            ProcountorClient(f"{procountor_url}/api", procountor_id, procountor_secret, api_key, limiter=unlimited,
                             transport=transport()) as procountor:
        pollers = [severa_poller("unused", name, severa, fast_interval=10.0, slow_interval=60.0),
                   procountor_poller("unused", name, "fi", procountor, interval=10.0, registry_interval=60.0)]
        for poller in pollers:
            poller._producer = TakesEvents()  # type: ignore[assignment]  # started without Kafka
        for _ in range(2):
            for poller in pollers:
                await poller.poll_once()
        calls_before = sum(severa.calls.values()) + sum(procountor.calls.values())
        cpu: collections.Counter[str] = collections.Counter()
        for _ in range(args.rounds):
            for poller in pollers:
                for source in poller.sources:
                    started = time.process_time()
                    stats = await poller._poll_source(source)
                    cpu[f"{poller.system} {source.entity}"] += time.process_time() - started
                    if stats.published:
                        raise RuntimeError(f"{source.entity}: the sandbox changed during the measurement")
        calls = sum(severa.calls.values()) + sum(procountor.calls.values()) - calls_before
    print(f"transport: {'httpx (httpcore)' if args.httpx_transport else 'aiohttp (connectors/http_transport.py)'}")
    for source, seconds in cpu.items():
        print(f"  {source:38s} {1000 * seconds / args.rounds:6.3f} ms CPU a read")
    # Payments are off in the benchmark: the sales invoice source makes no call.
    per_poll = sum(seconds / args.rounds * (1 if source in EVERY_10_S else 1 / 6) for source, seconds in cpu.items())
    print(f"HTTP calls a round of every source: {calls / args.rounds:.1f}; CPU a round: "
          f"{1000 * sum(cpu.values()) / args.rounds:.2f} ms")
    print(f"one tenant's polling per 10 s (tenants.py's settings): {1000 * per_poll:.2f} ms CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=300, help="reads of each source measured")
    parser.add_argument("--httpx-transport", action="store_true", help="httpx's own transport (httpcore)")
    args = parser.parse_args()
    sandboxes = []
    try:
        severa_process, severa_url = start_sandbox("severa")
        sandboxes.append(severa_process)
        procountor_process, procountor_url = start_sandbox("procountor")
        sandboxes.append(procountor_process)
        asyncio.run(measure(severa_url, procountor_url, args))
    finally:
        for process in sandboxes:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()

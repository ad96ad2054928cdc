"""What the tests of one tenant's running worker share: the demo's invoice statuses, and waiting on the worker."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sandbox.runner import SandboxServer

WAITING, DRAFT = "Waiting for transfer to Procountor", "Draft"


def in_procountor(procountor: SandboxServer, number: str) -> bool:
    invoices = procountor.app.state.store.company("FI").invoices.values()
    return any(i.get("originalInvoiceNumber") == number for i in invoices)


def wait_until(condition: Callable[[], bool], what: str, worker: Any, log: Path, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert worker.poll() is None, log.read_text(errors="replace")[-3000:]
        assert time.monotonic() < deadline, f"{what}\n{log.read_text(errors='replace')[-3000:]}"
        time.sleep(0.1)

"""Watch real traffic: an ASGI middleware in front of a sandbox, and the record of one run.

The tests wrap both sandboxes with ``ContractWatch`` (``sandbox.runner.SandboxServer.app_wrappers``), so
every exchange between any client (in the test process or the worker subprocess) and a sandbox is checked.
The record counts requests and answers checked per operation and keeps the violations; ``save`` writes it
for ``sevpro contract coverage``.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from .check import Exchange, Outcome, Violation, check_exchange, locate
from .expected import known_issue

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class Recorder:
    """What was checked during a run; thread-safe (each sandbox serves from its own thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.answers: Counter[str] = Counter()
        self.unmatched: Counter[str] = Counter()
        self.violations: Counter[Violation] = Counter()
        self.expected: dict[Violation, str] = {}
        self.unexpected: list[Violation] = []  # in order, for the test during which each happened
        self.exempted: Counter[Violation] = Counter()
        self.exempt_reason: str | None = None  # set while a test that breaks the contract on purpose runs
        self.errors: list[str] = []

    def record(self, outcome: Outcome | None, method: str) -> None:
        if outcome is None:
            return
        with self._lock:
            if outcome.operation is None:
                self.unmatched[f"{outcome.system} {method} {outcome.path}"] += 1
                return
            key = f"{outcome.system} {outcome.operation.key}"
            self.requests[key] += 1
            self.answers[key] += 1
            for violation in outcome.violations:
                if self.exempt_reason is not None:
                    self.exempted[violation] += 1
                    continue
                self.violations[violation] += 1
                issue = known_issue(violation)
                if issue:
                    self.expected[violation] = issue
                else:
                    self.unexpected.append(violation)

    def record_error(self, message: str) -> None:
        with self._lock:
            self.errors.append(message)

    def mark(self) -> int:
        with self._lock:
            return len(self.unexpected)

    def unexpected_since(self, mark: int) -> list[Violation]:
        with self._lock:
            return list(dict.fromkeys(self.unexpected[mark:]))

    def as_json(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": dict(self.requests),
                "answers": dict(self.answers),
                "unmatched": dict(self.unmatched),
                "violations": [
                    {**_fields(v), "count": n, "expected": self.expected.get(v)} for v, n in self.violations.items()
                ],
                "exempted": sum(self.exempted.values()),
                "errors": list(self.errors),
            }

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_json(), indent=1, sort_keys=True))


def _fields(violation: Violation) -> dict[str, str]:
    return {
        "system": violation.system,
        "operation": violation.operation,
        "side": violation.side,
        "field": violation.field,
        "message": violation.message,
    }


RECORDER = Recorder()


class ContractWatch:
    """ASGI middleware: passes every exchange through unchanged and checks API exchanges afterwards."""

    def __init__(self, app: Any, recorder: Recorder = RECORDER) -> None:
        self.app = app
        self.recorder = recorder

    @classmethod
    def around_sandbox(cls, app: Any) -> Any:
        """Wrap a sandbox app (one with ``state.sandbox``); other apps served the same way (the console) as is."""
        return cls(app) if getattr(getattr(app, "state", None), "sandbox", None) is not None else app

    def __getattr__(self, name: str) -> Any:  # ``.state`` and friends stay reachable through the wrapper
        return getattr(self.app, name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or locate(scope["path"]) is None:
            await self.app(scope, receive, send)
            return
        exchange = Exchange(
            method=scope["method"],
            path=scope["path"],
            query=scope.get("query_string", b"").decode("latin-1"),
            request_headers={k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]},
        )
        request_body = bytearray()
        response_body = bytearray()
        complete = False

        async def receive_and_keep() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                request_body.extend(message.get("body", b""))
            return message

        async def send_and_keep(message: Message) -> None:
            nonlocal complete
            if message["type"] == "http.response.start":
                exchange.status = int(message["status"])
                exchange.response_headers = {
                    k.decode("latin-1").lower(): v.decode("latin-1") for k, v in message.get("headers", [])
                }
            elif message["type"] == "http.response.body":
                response_body.extend(message.get("body", b""))
                complete = not message.get("more_body", False)
            await send(message)

        try:
            await self.app(scope, receive_and_keep, send_and_keep)
        finally:
            if complete:
                exchange.request_body = bytes(request_body)
                exchange.response_body = bytes(response_body)
                try:
                    self.recorder.record(check_exchange(exchange), exchange.method)
                except Exception as exc:  # a fault of the checker must never break the sandbox
                    self.recorder.record_error(f"{exchange.method} {exchange.path}: {type(exc).__name__}: {exc}")


def load_run(path: Path) -> dict[str, Any]:
    """A run record saved by ``Recorder.save``."""
    return json.loads(path.read_text())

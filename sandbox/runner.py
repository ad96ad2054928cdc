"""Run an ASGI sandbox app with uvicorn on a free loopback port, in a background thread.

Used by the tests, the demo and the benchmarks; `sevpro sandbox ...` runs the same apps in the foreground.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, ClassVar

import uvicorn


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SandboxServer:
    """A uvicorn server in a daemon thread; `with SandboxServer(app) as server: server.url`."""

    #: Wrappers put around every app served (ASGI middleware), outermost last; the tests install the check of
    #: all traffic against the public API contract here. `self.app` stays the bare app.
    app_wrappers: ClassVar[list[Callable[[Any], Any]]] = []

    def __init__(self, app: Any, port: int | None = None, host: str = "127.0.0.1") -> None:
        """`port` None or 0: any free port, the kernel's choice. The socket is bound here and handed to uvicorn,
        so that no other program can take the port between its choice and the server's start."""
        self.app = app
        self.host = host
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._socket.bind((host, port or 0))
            self._socket.listen(2048)  # listening at once: no other program can bind the port any more
        except OSError as exc:
            self._socket.close()
            raise RuntimeError(f"the sandbox cannot listen on {host}:{port}: {exc.strerror}; stop the program "
                               "that uses the port, or choose another") from exc
        self.port = int(self._socket.getsockname()[1])
        served = app
        for wrap in self.app_wrappers:
            served = wrap(served)
        config = uvicorn.Config(served, host=host, port=self.port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name=f"sandbox:{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> SandboxServer:
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"sandbox did not start on {self.url}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

"""Ports a test names before the program that binds them has started (a worker pointed at an API that comes
later, `sevpro kafka up --port N`, a PostgreSQL server): reserved, so that no other program on a shared machine
can take them in between. A port picked with free_port() and bound seconds later could be ('port 42850 already
in use')."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager


@contextmanager
def reserved_ports(count: int = 1, *, consecutive: bool = False) -> Iterator[list[int]]:
    """`count` ports on 127.0.0.1, held until the block ends: bound with SO_REUSEADDR and not listening. The kernel
    gives such a port to no other bind(0) nor outgoing connection, and a program that binds it with SO_REUSEADDR
    too (uvicorn and SandboxServer, the JVM's server sockets, PostgreSQL) still can, and listen on it. Nothing
    answers on the port until that program listens: a client sees 'connection refused', as from a server
    not started yet. `consecutive`: port, port + 1, ... (`sevpro kafka up --port N` runs the controller on N+1)."""
    for _ in range(100):
        with ExitStack() as held:
            ports: list[int] = []
            for index in range(count):
                sock = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind(("127.0.0.1", ports[0] + index if consecutive and ports else 0))
                except OSError:
                    break  # the next port is in use: another first port
                ports.append(int(sock.getsockname()[1]))
            else:
                yield ports
                return
    raise AssertionError(f"no {count} {'consecutive ' if consecutive else ''}ports free on 127.0.0.1")


@contextmanager
def reserved_port() -> Iterator[int]:
    with reserved_ports(1) as ports:
        yield ports[0]

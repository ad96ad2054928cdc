"""Ports on a shared machine: a port chosen free can be taken by another program before the server binds it
(test_demo_signals met it: 'port 42850 already in use'). A broker or sandbox asked for any port (0) binds one it
can have and says which; a port the user named that is taken is a clear error naming it."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from sandbox.runner import SandboxServer
from sevpro import kafka_broker
from sevpro.kafka_broker import LocalKafkaBroker, port_open
from tests.ports import reserved_ports

REPOSITORY = Path(__file__).resolve().parents[3]


@pytest.fixture
def taken() -> Iterator[int]:
    """A port another program listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("java") is None, reason="runs a broker of its own")
@pytest.mark.parametrize("which", ["port", "controller_port"])
def test_a_broker_on_any_port_starts_on_another_when_its_port_is_taken_before_it_binds(
        tmp_path: Path, taken: int, which: str, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "kafka").mkdir()
    jars = REPOSITORY / ".sevpro" / "kafka" / "jars"
    if jars.exists():
        (tmp_path / "kafka" / "jars").symlink_to(jars)  # no second Maven download
    # The race, made certain: the first port chosen for `which` was free when checked, and is bound by another
    # program by the time the broker binds it.
    real_choice, real_check = kafka_broker._any_free_port, kafka_broker._port_free
    first = {"port": [taken], "controller_port": []}[which]
    chooser = iter([*first, *([] if first else [real_choice(), taken])])
    monkeypatch.setattr(kafka_broker, "_any_free_port", lambda: next(chooser, None) or real_choice())
    monkeypatch.setattr(kafka_broker, "_port_free", lambda port: port == taken or real_check(port))
    broker = LocalKafkaBroker(home=tmp_path, port=0, controller_port=0, name="any")
    try:
        status = broker.start()
        assert status.running
        assert taken not in (broker.port, broker.controller_port)
        assert status.bootstrap == f"127.0.0.1:{broker.port}" and port_open("127.0.0.1", broker.port)
        assert "failed to bind to 127.0.0.1:" + str(taken) in broker.log_file.read_text(errors="replace")
    finally:
        broker.reset()


def _hello() -> Starlette:
    return Starlette(routes=[Route("/", lambda _: PlainTextResponse("hello"))])


def test_a_sandbox_on_any_port_holds_its_port_from_the_start(taken: int) -> None:
    server = SandboxServer(_hello())
    try:
        # Nobody else can bind the port between its choice and the server's start.
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other, pytest.raises(OSError):
            other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            other.bind(("127.0.0.1", server.port))
        server.start()
        assert httpx.get(server.url, timeout=10).text == "hello"
    finally:
        server.stop()


def test_a_sandbox_on_a_taken_port_is_a_clear_error(taken: int) -> None:
    with pytest.raises(RuntimeError, match=f"cannot listen on 127.0.0.1:{taken}: Address already in use"):
        SandboxServer(_hello(), port=taken)


def test_a_reserved_port_is_taken_by_no_other_program_but_by_the_server_it_is_for() -> None:
    with reserved_ports(2, consecutive=True) as (port, following):
        assert following == port + 1
        for held in (port, following):  # another program's bind (what free_port() would have lost it to)
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other, pytest.raises(OSError):
                other.bind(("127.0.0.1", held))
        with SandboxServer(_hello(), port=port) as server:
            assert httpx.get(server.url, timeout=10).text == "hello"

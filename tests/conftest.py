"""Fixtures shared by every test: the real Kafka broker, started the way the project starts it; and the check
of every exchange with a sandbox against the public API contract (contract/)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Generator, Iterator
from contextlib import ExitStack

import pytest

from contract.watch import RECORDER, ContractWatch
from sandbox.runner import SandboxServer
from sevpro.contract_cli import default_run_path
from sevpro.kafka_broker import LocalKafkaBroker, ResolvedBroker, docker_available
from tests.ports import reserved_port
from tests.postgres_server import PostgresServer, PostgresUnavailable

_CONTRACT_MARK = pytest.StashKey[int]()


def pytest_configure(config: pytest.Config) -> None:
    # Every sandbox the tests start (in-process, so the worker subprocess's traffic passes here too) is
    # wrapped with the contract check.
    config.addinivalue_line(
        "markers", "contract_exempt(reason): the test breaks the public API contract on purpose (fuzzing, "
        "answers of the wrong shape); its exchanges are counted, not failed")
    if ContractWatch.around_sandbox not in SandboxServer.app_wrappers:
        SandboxServer.app_wrappers.append(ContractWatch.around_sandbox)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    item.stash[_CONTRACT_MARK] = RECORDER.mark()
    exempt = item.get_closest_marker("contract_exempt")
    RECORDER.exempt_reason = str(exempt.args[0]) if exempt else None
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    try:
        return (yield)
    finally:
        RECORDER.exempt_reason = None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """A test during which a client sent, or a sandbox answered, what the public description does not allow
    fails, naming the operation and the field."""
    result = yield
    found = RECORDER.unexpected_since(item.stash.get(_CONTRACT_MARK, 0))
    if found:
        lines = "\n".join(f"  {v}" for v in found[:20])
        raise AssertionError(
            f"{len(found)} exchange(s) with a sandbox disagree with the public API contract (contract/*.yaml):\n"
            f"{lines}"
        )
    return result


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if RECORDER.requests:  # where `sevpro contract coverage` reads it
        RECORDER.save(default_run_path())


@pytest.fixture(scope="session")
def kafka() -> Iterator[ResolvedBroker]:
    """A real broker: KAFKA_BOOTSTRAP_SERVERS, else testcontainers, else the Maven-jar KRaft broker."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield ResolvedBroker(os.environ["KAFKA_BOOTSTRAP_SERVERS"], "env")
        return
    if docker_available():
        from testcontainers.kafka import KafkaContainer

        from sevpro.kafka_broker import KAFKA_VERSION

        with KafkaContainer(f"apache/kafka:{KAFKA_VERSION}").with_kraft() as container:
            yield ResolvedBroker(container.get_bootstrap_server(), "testcontainers")
        return
    # Any free ports, chosen by the broker as it binds them (a port picked here could be taken meanwhile).
    broker = LocalKafkaBroker(port=0, controller_port=0, name=f"test-{os.getpid()}")
    broker.reset()  # every session starts from empty topics
    status = broker.start(die_with_parent=True)  # a session killed outright (a CI time-out) leaves no broker behind
    try:
        yield ResolvedBroker(status.bootstrap, "local-jars")
    finally:
        broker.reset()


@pytest.fixture
def reserve_port() -> Iterator[Callable[[], int]]:
    """`reserve_port()`: a port for a server this test starts later, held for the test (tests/ports.py) so that no
    other program takes it meanwhile; the server binds it all the same."""
    with ExitStack() as held:
        yield lambda: held.enter_context(reserved_port())


@pytest.fixture
def unique() -> str:
    """A short unique suffix for topic names and group ids, so tests never see each other's data."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def own_topics(unique: str) -> Iterator[str]:
    """A deployment prefix of this test alone (yielded): its topics hold its own records only, so nothing of
    another test lands between the reads it compares, and retention or ACL settings touch no other test's."""
    from schemas import topics

    prefix = f"own-{unique}."
    topics.configure(prefix)
    yield prefix
    topics.configure(topics.DEFAULT_PREFIX)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the read models (initdb + pg_ctl on a free loopback port), stopped at the end
    of the session and checked gone; the tests that need it skip where none can be started."""
    try:
        server = PostgresServer()
        server.start()
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL read-model tests skipped: {exc}")
    try:
        yield server
    finally:
        server.stop()
        left = server.processes()
        assert not left, f"PostgreSQL processes outlived the test session: {left}"


@pytest.fixture
def read_model_url(postgres_server: PostgresServer) -> str:
    """SEVPRO_READ_MODEL_URL of an empty database of this test's own."""
    return postgres_server.database()

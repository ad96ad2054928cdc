"""Fixtures shared by every test: the real Kafka broker, started the way the project starts it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from sandbox.runner import free_port
from sevpro.kafka_broker import LocalKafkaBroker, ResolvedBroker, docker_available


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
    port = free_port()
    broker = LocalKafkaBroker(port=port, controller_port=free_port(), name=f"test-{os.getpid()}")
    broker.reset()  # every session starts from empty topics
    status = broker.start()
    try:
        yield ResolvedBroker(status.bootstrap, "local-jars")
    finally:
        broker.reset()


@pytest.fixture
def unique() -> str:
    """A short unique suffix for topic names and group ids, so tests never see each other's data."""
    return uuid.uuid4().hex[:10]

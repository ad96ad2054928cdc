"""The worker on a secured, shared cluster: SASL_SSL with SCRAM users and ACLs.

The broker is a second instance of our own (its own name and ports), with a CA and a certificate this test
makes, and the ACL authorizer on: nothing is allowed without an ACL. The worker's user has only the README's
prefixed ACLs on the deployment's prefix (`SEVPRO_TOPIC_PREFIX`, default `sevpro.`), and is configured as an
operator would configure it for a managed Kafka service. A wrong password, a plaintext client and another user
of the cluster are refused.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAuthorizationFailedError
from kafka_security import OTHER, WORKER, allow_prefixed, secure_broker

from foundation.company import demo_companies_path
from foundation.kafka import KafkaUnreachable, admin_client, idempotent_producer, reach, read_committed_consumer
from projections.store import ProjectionStore
from sandbox.procountor.app import create_app as procountor_app
from sandbox.runner import SandboxServer
from sandbox.severa.app import create_app as severa_app
from schemas import topics
from sevpro.demo import worker_environment
from sevpro.kafka_broker import LocalKafkaBroker

pytestmark = pytest.mark.integration
WAITING = "Waiting for transfer to Procountor"
PREFIX = "acme-billing."  # this deployment's SEVPRO_TOPIC_PREFIX, and the only names its user has ACLs for


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafkaBroker]:
    folder = tmp_path_factory.mktemp("secure-broker")
    with secure_broker(folder, f"sasl-{os.getpid()}", acls=True) as started:
        asyncio.run(allow_prefixed(started, WORKER[0], PREFIX))
        yield started


@pytest.fixture
def deployment() -> Iterator[None]:
    """This process names the topics as the deployment's worker does."""
    topics.configure(PREFIX)
    yield
    topics.configure(topics.DEFAULT_PREFIX)


def _worker_env(broker: LocalKafkaBroker, tmp_path: Path, password: str) -> dict[str, str]:
    assert broker.security is not None
    secret = tmp_path / "kafka-password"
    secret.write_text(password + "\n")
    return {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "KAFKA_SASL_USERNAME": WORKER[0], "KAFKA_SASL_PASSWORD_FILE": str(secret),
            "KAFKA_SSL_CA_FILE": str(broker.security.ca_file), "SEVPRO_TOPIC_PREFIX": PREFIX}


def test_the_worker_transfers_an_invoice_over_sasl_ssl(broker: LocalKafkaBroker, tmp_path: Path) -> None:
    with SandboxServer(severa_app(seed="demo")) as severa, SandboxServer(procountor_app(seed="demo")) as procountor:
        numbers = {str(i["number"]) for i in severa.app.state.store.all("invoices") if i["status"]["name"] == WAITING}
        env = worker_environment(broker.bootstrap, severa.url, procountor.url, "secure")
        env = {k: v for k, v in env.items() if not k.startswith("KAFKA_SASL") and not k.startswith("KAFKA_SSL")}
        env.update(_worker_env(broker, tmp_path, WORKER[1]), KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap,
                   SEVPRO_HOME=str(tmp_path / "home"), SEVPRO_TENANT="secure")
        log = tmp_path / "worker.log"
        worker = subprocess.Popen([sys.executable, "-m", "sevpro.cli", "worker", "--loglevel", "warning"], env=env,
                                  stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 180
            succeeded: list[dict] = []
            while not succeeded:
                assert worker.poll() is None, log.read_text(errors="replace")[-3000:]
                assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
                time.sleep(0.5)
                if (tmp_path / "home" / "projections").exists():  # the projector reads over SASL_SSL too
                    with ProjectionStore(tmp_path / "home" / "projections") as store:
                        succeeded = [e for e in store.transfers(kind="sales-invoice", tenant="secure")
                                     if e["state"] == "succeeded"]
        finally:
            worker.terminate()
            worker.wait(timeout=60)
        number = succeeded[0]["severa_number"]
        assert number in numbers
        created = [i for c in ("FI", "SE") for i in procountor.app.state.store.company(c).invoices.values()
                   if i.get("originalInvoiceNumber") == number]
        assert len(created) == 1
        assert WORKER[1] not in log.read_text(errors="replace")


async def test_a_wrong_password_is_refused(broker: LocalKafkaBroker) -> None:
    assert broker.security is not None
    wrong = broker.security.client_options(WORKER[0], "not-the-password")
    with pytest.raises(KafkaUnreachable) as refused:
        await reach(broker.bootstrap, security=wrong, wait_seconds=5)
    assert "SaslAuthenticationFailed" in str(refused.value) and "invalid credentials" in str(refused.value)
    producer = idempotent_producer(broker.bootstrap, security=wrong, request_timeout_ms=5000)
    with pytest.raises(KafkaError):
        await producer.start()
    await producer.stop()
    # The right password, the same way: the broker was reachable, the password was the problem.
    producer = idempotent_producer(broker.bootstrap, security=broker.security.client_options(*WORKER))
    await producer.start()
    await producer.stop()


async def test_a_plaintext_client_is_refused(broker: LocalKafkaBroker) -> None:
    admin = admin_client(broker.bootstrap, security={"security_protocol": "PLAINTEXT"}, request_timeout_ms=3000)
    with pytest.raises(KafkaConnectionError):
        await admin.start()
        await admin.list_topics()
    await admin.close()


def test_the_worker_with_a_wrong_password_says_so_in_one_line(broker: LocalKafkaBroker, tmp_path: Path) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SEVPRO_", "KAFKA_"))}
    env = {**base, **_worker_env(broker, tmp_path, "not-the-password"), "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
           "SEVPRO_HOME": str(tmp_path / "home"), "SEVPRO_PROCOUNTOR_API_KEY_FI": "k1",
           "SEVPRO_PROCOUNTOR_API_KEY_SE": "k2", "COLUMNS": "400",
           # the settings a worker requires (it never falls back on the demo's), so that Kafka is what fails
           "SEVPRO_TENANT": "secure", "SEVPRO_COMPANIES_FILE": str(demo_companies_path()),
           "SEVPRO_SEVERA_CLIENT_ID": "id", "SEVPRO_SEVERA_CLIENT_SECRET": "s1",
           "SEVPRO_PROCOUNTOR_CLIENT_ID": "id", "SEVPRO_PROCOUNTOR_CLIENT_SECRET": "s2"}
    result = subprocess.run([sys.executable, "-m", "sevpro.cli", "worker"], capture_output=True, text=True,
                            timeout=120, env=env)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output and "not-the-password" not in output, output
    assert broker.bootstrap in output and "sevpro" in output and "KAFKA_SASL" in output, output


async def test_another_user_of_the_cluster_can_neither_write_nor_read_our_topics(broker: LocalKafkaBroker,
                                                                                 deployment: None) -> None:
    assert broker.security is not None
    name = topics.transfer_requested("sales-invoice")  # a forged request would put an invoice in someone's books
    assert name.startswith(PREFIX)
    admin = admin_client(broker.bootstrap, security=broker.client_options())  # the cluster's administrator
    await admin.start()
    try:
        if name not in await admin.list_topics():
            from aiokafka.admin import NewTopic
            await admin.create_topics([NewTopic(name, 1, 1)])
    finally:
        await admin.close()
    ours = idempotent_producer(broker.bootstrap, security=broker.security.client_options(*WORKER))
    await ours.start()
    try:  # the deployment's own user writes there: something to read
        await ours.send_and_wait(name, key=b"tenant/1", value=b"genuine", partition=0)
    finally:
        await ours.stop()
    other = broker.security.client_options(*OTHER)
    # A plain producer: an idempotent one is refused already at its start (no topic it may write to).
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, request_timeout_ms=5000, **other)
    await producer.start()
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await producer.send_and_wait(name, key=b"tenant/forged", value=b"forged")
    finally:
        await producer.stop()
    # Reading: the same calls return the record to the deployment's user, and nothing (not even the topic's
    # name) to the other one.
    assert b"genuine" in await _read(broker.bootstrap, name, broker.security.client_options(*WORKER))
    assert await _read(broker.bootstrap, name, other) == []


async def _read(bootstrap: str, name: str, security: dict[str, object]) -> list[bytes | None]:
    consumer = read_committed_consumer(bootstrap, security=security, request_timeout_ms=5000)
    await consumer.start()
    try:
        visible = name in await consumer.topics()
        partition = TopicPartition(name, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        batches = await consumer.getmany(timeout_ms=3000)
        values = [record.value for records in batches.values() for record in records]
        assert visible or not values
        return values
    finally:
        await consumer.stop()


def test_a_worker_whose_user_lacks_the_acls_stops_in_one_line(broker: LocalKafkaBroker, tmp_path: Path) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SEVPRO_", "KAFKA_"))}
    env = {**base, **_worker_env(broker, tmp_path, OTHER[1]), "KAFKA_SASL_USERNAME": OTHER[0],
           "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, "SEVPRO_HOME": str(tmp_path / "home"),
           "SEVPRO_TENANT": "intruder", "SEVPRO_PROCOUNTOR_API_KEY_FI": "k1", "SEVPRO_PROCOUNTOR_API_KEY_SE": "k2",
           "COLUMNS": "400", "SEVPRO_COMPANIES_FILE": str(demo_companies_path()),
           "SEVPRO_SEVERA_CLIENT_ID": "id", "SEVPRO_SEVERA_CLIENT_SECRET": "s1",
           "SEVPRO_PROCOUNTOR_CLIENT_ID": "id", "SEVPRO_PROCOUNTOR_CLIENT_SECRET": "s2"}
    result = subprocess.run([sys.executable, "-m", "sevpro.cli", "worker"], capture_output=True, text=True,
                            timeout=120, env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output and "refused to create" in output and PREFIX in output, output
    assert "TopicAuthorizationFailedError" in output, output

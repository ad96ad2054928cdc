"""The real broker the project starts: idempotence, transactions, groups, compaction, and the CLI."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from sandbox.runner import free_port
from sevpro.kafka_broker import KAFKA_VERSION, LocalKafkaBroker
from tests.ports import reserved_ports

pytestmark = pytest.mark.integration


async def _create(bootstrap: str, name: str, partitions: int = 1, **config: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1, topic_configs=config)])
    finally:
        await admin.close()


async def _read_all(bootstrap: str, name: str, isolation: str = "read_committed", expect: int | None = None,
                    wait_s: float = 10.0) -> list[tuple[bytes | None, bytes | None]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, isolation_level=isolation, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        partitions = [TopicPartition(name, p) for p in (consumer.partitions_for_topic(name) or {0})]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        out: list[tuple[bytes | None, bytes | None]] = []
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for records in batch.values():
                out += [(r.key, r.value) for r in records]
            positions = {tp: await consumer.position(tp) for tp in partitions}
            if expect is None and all(positions[tp] >= end[tp] for tp in partitions):
                break
            if expect is not None and len(out) >= expect:
                break
        return out
    finally:
        await consumer.stop()


def test_broker_source_and_version(kafka) -> None:
    if kafka.source != "local-jars":
        pytest.skip(f"broker provided by {kafka.source}")
    # The broker we started is a java process running kafka.Kafka from the cached 4.4.0 jars.
    cmdlines = [p.read_bytes().replace(b"\0", b" ").decode() for p in Path("/proc").glob("[0-9]*/cmdline")
                if p.exists()]
    assert any("kafka.Kafka" in line and f"jars/{KAFKA_VERSION}" in line for line in cmdlines)


async def test_idempotent_producer_writes_once(kafka, unique) -> None:
    name = f"idem-{unique}"
    await _create(kafka.bootstrap, name)
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for i in range(20):
            await producer.send(name, key=b"k", value=str(i).encode())
        await producer.flush()
    finally:
        await producer.stop()
    values = [v for _, v in await _read_all(kafka.bootstrap, name)]
    assert values == [str(i).encode() for i in range(20)]


async def test_transactions_hide_aborted_writes(kafka, unique) -> None:
    name = f"tx-{unique}"
    await _create(kafka.bootstrap, name)
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, transactional_id=f"tx-{unique}")
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send(name, value=b"committed")
        await producer.begin_transaction()
        await producer.send(name, value=b"aborted")
        await producer.abort_transaction()
    finally:
        await producer.stop()
    committed = [v for _, v in await _read_all(kafka.bootstrap, name)]
    uncommitted = [v for _, v in await _read_all(kafka.bootstrap, name, "read_uncommitted", expect=2)]
    assert committed == [b"committed"]
    assert uncommitted == [b"committed", b"aborted"]


async def test_consumer_group_shares_partitions(kafka, unique) -> None:
    name = f"group-{unique}"
    await _create(kafka.bootstrap, name, partitions=4)
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    for i in range(40):
        await producer.send(name, key=f"k{i}".encode(), value=str(i).encode())
    await producer.stop()

    async def member(seen: list[bytes]) -> AIOKafkaConsumer:
        consumer = AIOKafkaConsumer(name, bootstrap_servers=kafka.bootstrap, group_id=f"g-{unique}",
                                    auto_offset_reset="earliest", isolation_level="read_committed")
        await consumer.start()
        return consumer

    first: list[bytes] = []
    second: list[bytes] = []
    consumers = [await member(first), await member(second)]
    try:
        deadline = time.monotonic() + 30
        while len(first) + len(second) < 40 and time.monotonic() < deadline:
            for consumer, seen in zip(consumers, (first, second), strict=True):
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    seen += [r.value for r in records]
        assignments = [c.assignment() for c in consumers]
    finally:
        for consumer in consumers:
            await consumer.stop()
    assert sorted(first + second, key=int) == [str(i).encode() for i in range(40)]
    assert all(assignments) and not (assignments[0] & assignments[1])


async def test_compacted_topic_keeps_latest_per_key(kafka, unique) -> None:
    name = f"compact-{unique}"
    await _create(kafka.bootstrap, name, **{"cleanup.policy": "compact", "segment.ms": "200",
                                            "min.cleanable.dirty.ratio": "0.001", "delete.retention.ms": "100"})
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    await admin.start()
    described = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
    await admin.close()
    configs = {entry[0]: entry[1] for entry in described[0].resources[0][4]}
    assert configs["cleanup.policy"] == "compact"

    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for version in range(30):
            await producer.send_and_wait(name, key=b"watermark", value=str(version).encode())
        await asyncio.sleep(0.5)
        # A later write rolls the segment so the cleaner may compact the earlier one.
        deadline = time.monotonic() + 40
        records = await _read_all(kafka.bootstrap, name)
        while len(records) > 5 and time.monotonic() < deadline:
            await producer.send_and_wait(name, key=b"roll", value=b"x")
            await asyncio.sleep(1.0)
            records = await _read_all(kafka.bootstrap, name)
    finally:
        await producer.stop()
    latest = [v for k, v in records if k == b"watermark"]
    assert latest[-1] == b"29"
    assert len(latest) < 30, "the cleaner never compacted the topic"


def _sevpro(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sevpro.cli", *args], capture_output=True, text=True, env=env,
                          timeout=300)


def test_cli_up_status_down(tmp_path: Path) -> None:
    env = {**os.environ, "SEVPRO_HOME": str(tmp_path / "home")}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    # Share the jar cache with the session broker so the test does not fetch them again.
    jars = LocalKafkaBroker().libs
    if jars.exists():
        (tmp_path / "home" / "kafka" / "jars").mkdir(parents=True)
        (tmp_path / "home" / "kafka" / "jars" / KAFKA_VERSION).symlink_to(jars)
    # `kafka up --port N` runs the controller on N + 1: both held until the broker has bound them.
    with reserved_ports(2, consecutive=True) as (port, _controller):
        up = _sevpro("kafka", "up", "--port", str(port), env=env)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert f"127.0.0.1:{port}" in up.stdout
        again = _sevpro("kafka", "up", "--port", str(port), env=env)
        assert again.returncode == 0 and "running" in again.stdout
        status = _sevpro("kafka", "status", env=env)
        assert status.returncode == 0 and "running" in status.stdout
        assert "broker.log" in status.stdout.replace("\n", "")
        pid = int((tmp_path / "home" / "kafka" / "dev" / "broker.pid").read_text())
    finally:
        down = _sevpro("kafka", "down", env=env)
    assert down.returncode == 0 and "stopped" in down.stdout
    stat = Path(f"/proc/{pid}/stat")
    # Gone, or a zombie waiting for init to reap it: either way no Java runs any more.
    assert not stat.exists() or stat.read_text().rsplit(") ", 1)[-1].startswith("Z"), "a Java process was left behind"
    status = _sevpro("kafka", "status", env=env)
    assert status.returncode == 3 and "stopped" in status.stdout


def test_cli_port_in_use_is_a_clear_message(tmp_path: Path) -> None:
    env = {**os.environ, "SEVPRO_HOME": str(tmp_path / "home")}
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        result = _sevpro("kafka", "up", "--port", str(port), env=env)
    assert result.returncode == 1
    assert "already in use" in result.stdout and "Traceback" not in result.stdout + result.stderr


def test_a_running_broker_is_found_with_both_its_ports(tmp_path: Path) -> None:
    """A broker whose controller port is not port + 1 (both picked free) is seen with the ports it runs on."""
    broker = LocalKafkaBroker(home=tmp_path, port=free_port(), controller_port=free_port(), name="ports")
    broker.run_dir.mkdir(parents=True, exist_ok=True)
    broker.pid_file.write_text(str(os.getpid()))  # a live pid: "running" as far as the files say
    broker.port_file.write_text(f"{broker.port} {broker.controller_port}")
    found = LocalKafkaBroker(home=tmp_path, name="ports")
    found.status()
    assert (found.port, found.controller_port) == (broker.port, broker.controller_port)

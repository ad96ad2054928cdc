"""Every aiokafka client of the project is made here, so delivery settings are written once.

Producers are idempotent with acks=all (no duplicate from a producer retry); consumers read committed records
only (never act on an aborted transaction) and commit their offsets themselves. The faust app's own clients get
the same settings through `streams/transport.py`.

How a client connects (TLS, SASL) comes from the settings through `security_options`, for every client here and
for the faust app (`streams/app.py` turns the same options into faust credentials).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import ssl
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code
from aiokafka.helpers import create_ssl_context

from foundation.settings import Settings, get_settings
from schemas import topics


class KafkaSettingsError(ValueError):
    """The Kafka connection settings do not fit together; one line naming the variable and what to do."""


def security_options(settings: Settings | None = None) -> dict[str, Any]:
    """aiokafka's connection arguments (security_protocol, ssl_context, sasl_*) from the settings.

    Every combination that cannot be meant is refused, rather than quietly ignored: a SASL or TLS setting the
    chosen protocol does not use, a missing mechanism, user or password, a file that is missing or unreadable.
    """
    s = settings if settings is not None else get_settings()
    protocol = s.kafka_security_protocol
    sasl, tls = protocol.startswith("SASL_"), protocol.endswith("SSL")
    sasl_given = [name for name, value in [("KAFKA_SASL_MECHANISM", s.kafka_sasl_mechanism),
                                           ("KAFKA_SASL_USERNAME", s.kafka_sasl_username),
                                           ("KAFKA_SASL_PASSWORD", s.kafka_sasl_password),
                                           ("KAFKA_SASL_PASSWORD_FILE", s.kafka_sasl_password_file)] if value]
    tls_given = [name for name, value in [("KAFKA_SSL_CA_FILE", s.kafka_ssl_ca_file),
                                          ("KAFKA_SSL_CERT_FILE", s.kafka_ssl_cert_file),
                                          ("KAFKA_SSL_KEY_FILE", s.kafka_ssl_key_file)] if value]
    if sasl_given and not sasl:
        raise KafkaSettingsError(f"{', '.join(sasl_given)} set, but KAFKA_SECURITY_PROTOCOL={protocol} uses no SASL: "
                                 "set KAFKA_SECURITY_PROTOCOL=SASL_SSL (or SASL_PLAINTEXT), or unset them")
    if tls_given and not tls:
        raise KafkaSettingsError(f"{', '.join(tls_given)} set, but KAFKA_SECURITY_PROTOCOL={protocol} uses no TLS: "
                                 "set KAFKA_SECURITY_PROTOCOL=SASL_SSL (or SSL), or unset them")
    options: dict[str, Any] = {"security_protocol": protocol}
    if sasl:
        if s.kafka_sasl_mechanism is None:
            raise KafkaSettingsError(f"KAFKA_SECURITY_PROTOCOL={protocol} needs KAFKA_SASL_MECHANISM "
                                     "(PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, as the cluster's provider says)")
        if not s.kafka_sasl_username:
            raise KafkaSettingsError(f"KAFKA_SECURITY_PROTOCOL={protocol} needs KAFKA_SASL_USERNAME")
        options |= {"sasl_mechanism": s.kafka_sasl_mechanism, "sasl_plain_username": s.kafka_sasl_username,
                    "sasl_plain_password": _sasl_password(s, protocol)}
    if tls:
        options["ssl_context"] = _ssl_context(s)
    return options


def _sasl_password(s: Settings, protocol: str) -> str:
    if s.kafka_sasl_password is not None and s.kafka_sasl_password_file is not None:
        raise KafkaSettingsError("both KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE are set: keep one")
    if s.kafka_sasl_password_file is not None:
        try:
            password = s.kafka_sasl_password_file.read_text().rstrip("\r\n")
        except OSError as exc:
            raise KafkaSettingsError(f"KAFKA_SASL_PASSWORD_FILE {str(s.kafka_sasl_password_file)!r} cannot be read: "
                                     f"{exc.strerror}") from None
        if not password:
            raise KafkaSettingsError(f"KAFKA_SASL_PASSWORD_FILE {str(s.kafka_sasl_password_file)!r} is empty")
        return password
    if s.kafka_sasl_password is None or not s.kafka_sasl_password.get_secret_value():
        raise KafkaSettingsError(f"KAFKA_SECURITY_PROTOCOL={protocol} needs KAFKA_SASL_PASSWORD "
                                 "(or KAFKA_SASL_PASSWORD_FILE)")
    return s.kafka_sasl_password.get_secret_value()


def _ssl_context(s: Settings) -> ssl.SSLContext:
    """Verifies the broker's certificate and host name; trusts the CA file, or the system's CAs without one."""
    cert, key = s.kafka_ssl_cert_file, s.kafka_ssl_key_file
    if (cert is None) != (key is None):
        missing = "KAFKA_SSL_KEY_FILE" if key is None else "KAFKA_SSL_CERT_FILE"
        raise KafkaSettingsError(f"a client certificate needs both KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE: "
                                 f"{missing} is missing")
    try:
        context = create_ssl_context(cafile=s.kafka_ssl_ca_file)
    except OSError as exc:
        raise KafkaSettingsError(f"KAFKA_SSL_CA_FILE {str(s.kafka_ssl_ca_file)!r} cannot be used: "
                                 f"{_reason(exc)}") from None
    if cert is not None and key is not None:
        try:
            context.load_cert_chain(cert, key)
        except OSError as exc:
            raise KafkaSettingsError(f"KAFKA_SSL_CERT_FILE {str(cert)!r} / KAFKA_SSL_KEY_FILE {str(key)!r} cannot be "
                                     f"used: {_reason(exc)}") from None
    return context


def _reason(exc: OSError) -> str:
    if isinstance(exc, ssl.SSLError):  # a subclass of OSError
        return str(exc.reason or exc)
    return str(exc.strerror or exc)


def _connection(security: Mapping[str, Any] | None) -> dict[str, Any]:
    """`security` when given (a broker of our own, whose credentials the caller holds), else the settings'."""
    if security is not None:
        return dict(security)
    return dict(_settings_security(tuple(os.environ.get(name) for name in _KAFKA_VARIABLES)))


# The variables `security_options` reads (their values key its cache).
_KAFKA_VARIABLES = tuple(str(field.validation_alias) for name, field in Settings.model_fields.items()
                         if name.startswith("kafka_") and field.validation_alias)


@functools.lru_cache(maxsize=4)
def _settings_security(variables: tuple[str | None, ...]) -> Mapping[str, Any]:
    """The settings' connection, once per value of the KAFKA_* variables: building the settings reads the whole
    environment, and a pool worker's (its thousand tenants' secrets) took milliseconds for every client."""
    return security_options()


class KafkaUnreachable(RuntimeError):
    """No answer from the cluster, or a refusal (credentials, TLS); one line saying where and why."""


class KafkaTopicsError(RuntimeError):
    """The cluster refused to create the deployment's topics; one line saying which and why."""


class _ConnectErrors(logging.Handler):
    """aiokafka logs why a connection failed (a refused password, a TLS failure) and raises only "Unable to
    bootstrap"; the operator needs the reason."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.last: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Unable connect to"):
            self.last = message.split('": ', 1)[-1]


async def reach(bootstrap: str, *, security: Mapping[str, Any] | None = None, wait_seconds: float = 10.0) -> None:
    """Connect once and read the cluster's metadata; KafkaUnreachable (where, as whom, why) when that fails."""
    connection = _connection(security)
    who = connection["security_protocol"]
    if connection.get("sasl_plain_username"):
        who += f" as {connection['sasl_plain_username']} ({connection['sasl_mechanism']})"
    errors = _ConnectErrors()
    logger = logging.getLogger("aiokafka")
    logger.addHandler(errors)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(wait_seconds * 1000), **connection)
    try:
        await admin.start()
        await admin.list_topics()
    except KafkaError as exc:
        raise KafkaUnreachable(f"Kafka at {bootstrap} ({who}) cannot be used: {errors.last or exc}") from None
    finally:
        logger.removeHandler(errors)
        await admin.close()


def idempotent_producer(bootstrap: str, *, security: Mapping[str, Any] | None = None,
                        **options: Any) -> AIOKafkaProducer:
    """A producer whose retries never duplicate a record."""
    return AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all",
                            **_connection(security), **options)


def transactional_producer(bootstrap: str, transactional_id: str, **options: Any) -> AIOKafkaProducer:
    """An idempotent producer whose records become visible together, or not at all."""
    return idempotent_producer(bootstrap, transactional_id=transactional_id, **options)


def read_committed_consumer(bootstrap: str, *, security: Mapping[str, Any] | None = None,
                            **options: Any) -> AIOKafkaConsumer:
    """A consumer that sees committed records only and commits its offsets itself (or not at all)."""
    options.setdefault("enable_auto_commit", False)
    return AIOKafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_committed",
                            **_connection(security), **options)


async def from_the_beginning(bootstrap: str, topic_names: list[str], *, security: Mapping[str, Any] | None = None,
                             ) -> tuple[AIOKafkaConsumer, list[TopicPartition]]:
    """A started read_committed consumer without a group, assigned every partition of `topic_names` that exists
    (none yet: no partition), at their beginning: for the readers that need a whole topic (the configuration,
    the dead letters, the pollers' watermarks). The caller stops it."""
    consumer = read_committed_consumer(bootstrap, security=security, auto_offset_reset="earliest")
    await consumer.start()
    try:
        metadata = await consumer._client.fetch_all_metadata()  # noqa: SLF001 - fresh, and no public "all topics"
        partitions = [TopicPartition(topic, partition) for topic in topic_names
                      for partition in sorted(metadata.partitions_for_topic(topic) or ())]
        if partitions:
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
    except BaseException:
        await consumer.stop()
        raise
    return consumer, partitions


def admin_client(bootstrap: str, *, security: Mapping[str, Any] | None = None, **options: Any) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(bootstrap_servers=bootstrap, **_connection(security), **options)


async def ensure_topics(bootstrap: str, partitions: int = 4, app_id: str | None = None, *, retention_ms: int = -1,
                        replication: int = 1, min_insync: int = 1) -> list[str]:
    """Create every topic that does not exist yet; returns those created.

    Event topics keep their events for `retention_ms` (-1: forever; they are the system of record, for audit and
    replay); compacted ones keep the latest per key. Done before the worker starts: faust ignores a source topic
    that is missing when it subscribes, and then never consumes it (for its leader topic: no worker is ever
    leader, so no poller runs); a topic auto-created by a producer would get the cluster's defaults.
    """
    admin = admin_client(bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        leader = [topics.leader_topic(app_id)] if app_id else []
        wanted = [*topics.all_topics(), *topics.config_topics(), topics.smoke_in(), topics.smoke_out(), *leader]
        missing = [name for name in wanted if name not in existing]
        single = topics.single_partition() | set(leader)
        kept = {"min.insync.replicas": str(min_insync)}
        if missing:
            new = [NewTopic(name, 1 if name in single else partitions, replication,
                            topic_configs=kept | ({"cleanup.policy": "compact"} if name in topics.compacted()
                                                  else {"retention.ms": str(retention_ms)}))
                   for name in missing]
            try:
                response = await admin.create_topics(new)
            except TopicAlreadyExistsError:
                return missing  # another worker created them at the same moment
            # The broker answers per topic; a refusal (no ACL for the name) must not pass for success: faust
            # would then run without the topics and consume nothing.
            refused = {name: (code, rest[0] if rest else None) for name, code, *rest in response.topic_errors
                       if code not in (0, TopicAlreadyExistsError.errno)}
            if refused:
                code, reason = next(iter(refused.values()))
                raise KafkaTopicsError(f"Kafka refused to create {len(refused)} topic(s), e.g. "
                                       f"{next(iter(refused))!r}: {for_code(code).__name__}"
                                       f"{f' ({reason})' if reason else ''}; the deployment's Kafka user needs the "
                                       f"ACLs on the prefix {topics.prefix()!r} and SEVPRO_TOPIC_REPLICATION_FACTOR "
                                       "at most the number of brokers (README, Running on a Kafka cluster)")
            # Created is not yet known to every broker's metadata: wait until they are listed, so that what
            # comes next (faust subscribing, a look at their configs) finds them.
            for _ in range(100):
                if set(wanted) <= set(await admin.list_topics()):
                    break
                await asyncio.sleep(0.2)
        return missing
    finally:
        await admin.close()


async def finite_retention(bootstrap: str) -> dict[str, str]:
    """The deployment's existing event topics that delete events with time: topic -> the setting that does it.

    Events are the system of record: a topic made with a cluster's defaults (often seven days) loses its
    history, and a replay then builds a shorter transfer log (which `sevpro replay` refuses to switch to)."""
    admin = admin_client(bootstrap)
    await admin.start()
    try:
        # Described by name, not listed first: a list can miss topics created a moment ago. A topic that does not
        # exist answers with an error and is left out (the worker creates it to keep its events).
        described = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)
                                                  for name in [*topics.all_topics(), topics.settings_history()]])
    finally:
        await admin.close()
    configs = {name: {entry[0]: entry[1] for entry in entries} for response in described
               for code, _message, _type, name, entries, *_ in response.resources if code == 0}
    found: dict[str, str] = {}
    for name, config in configs.items():
        if "delete" not in (config.get("cleanup.policy") or ""):
            continue  # compacted only: the latest per key is kept, as meant
        for setting in ("retention.ms", "retention.bytes"):
            if int(config.get(setting) or -1) >= 0:
                found[name] = f"{setting}={config[setting]}"
                break
    return found


def retention_fix(topic: str) -> str:
    """What an operator runs to keep a topic's events forever."""
    return (f"events are the system of record; keep them with `kafka-configs.sh --bootstrap-server ... --alter "
            f"--entity-type topics --entity-name {topic} --add-config retention.ms=-1,retention.bytes=-1`")

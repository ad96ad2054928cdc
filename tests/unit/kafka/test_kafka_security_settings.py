"""Kafka connection security: one set of settings, one helper for aiokafka and faust, wrong combinations refused.

The settings are read as an operator sets them (environment variables); what the clients get is compared with
what faust's own driver hands aiokafka, so the worker and every other client connect the same way.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from foundation.company import demo_companies_path
from foundation.kafka import KafkaSettingsError, security_options
from foundation.settings import Settings
from streams.transport import faust_credentials

CA = Path(ssl.get_default_verify_paths().openssl_cafile)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch):
    """Set the Kafka variables as an operator would; nothing of the surrounding environment leaks in."""
    for name in list(os.environ):
        if name.startswith("KAFKA_"):
            monkeypatch.delenv(name)

    def set_env(**values: str) -> Settings:
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        return Settings()
    return set_env


def test_plaintext_by_default(env) -> None:
    assert security_options(env()) == {"security_protocol": "PLAINTEXT"}


def test_sasl_ssl_with_scram_and_a_password_file(env, tmp_path: Path) -> None:
    secret = tmp_path / "kafka-password"
    secret.write_text("s3cret-from-a-file\n")  # as `kubectl create secret` and editors leave it: a final newline
    options = security_options(env(KAFKA_SECURITY_PROTOCOL="SASL_SSL", KAFKA_SASL_MECHANISM="SCRAM-SHA-512",
                                   KAFKA_SASL_USERNAME="sevpro", KAFKA_SASL_PASSWORD_FILE=str(secret),
                                   KAFKA_SSL_CA_FILE=str(CA)))
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "sevpro"
    assert options["sasl_plain_password"] == "s3cret-from-a-file"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED and options["ssl_context"].check_hostname


def test_faust_gets_the_same_connection_as_every_other_client(env) -> None:
    for protocol, extra in [("PLAINTEXT", {}), ("SSL", {}),
                            ("SASL_PLAINTEXT", {"KAFKA_SASL_MECHANISM": "PLAIN"}),
                            ("SASL_SSL", {"KAFKA_SASL_MECHANISM": "SCRAM-SHA-256"})]:
        if protocol.startswith("SASL"):
            extra |= {"KAFKA_SASL_USERNAME": "sevpro", "KAFKA_SASL_PASSWORD": "pw"}
        options = security_options(env(KAFKA_SECURITY_PROTOCOL=protocol, **extra))
        faust_side = credentials_to_aiokafka_auth(faust_credentials(options))
        faust_side = {k: v for k, v in faust_side.items() if v is not None}
        assert faust_side == options, protocol


def test_the_password_is_never_in_a_repr(env) -> None:
    settings = env(KAFKA_SECURITY_PROTOCOL="SASL_SSL", KAFKA_SASL_MECHANISM="PLAIN", KAFKA_SASL_USERNAME="u",
                   KAFKA_SASL_PASSWORD="do-not-print-me")
    assert "do-not-print-me" not in repr(settings)
    assert "do-not-print-me" not in repr(faust_credentials(security_options(settings)))


@pytest.mark.parametrize(("variables", "named"), [
    ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"},
     "KAFKA_SASL_MECHANISM"),
    ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_PASSWORD": "p"},
     "KAFKA_SASL_USERNAME"),
    ({"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "u"},
     "KAFKA_SASL_PASSWORD"),
    ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "u",
      "KAFKA_SASL_PASSWORD": "p", "KAFKA_SASL_PASSWORD_FILE": "/etc/hostname"}, "KAFKA_SASL_PASSWORD_FILE"),
    ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "u",
      "KAFKA_SASL_PASSWORD_FILE": "/nonexistent/kafka-password"}, "KAFKA_SASL_PASSWORD_FILE"),
    ({"KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"}, "KAFKA_SECURITY_PROTOCOL"),
    ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SASL_MECHANISM": "PLAIN"}, "KAFKA_SASL_MECHANISM"),
    ({"KAFKA_SSL_CA_FILE": str(CA)}, "KAFKA_SSL_CA_FILE"),
    ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CA_FILE": "/nonexistent/ca.pem"}, "KAFKA_SSL_CA_FILE"),
    ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CERT_FILE": str(CA)}, "KAFKA_SSL_KEY_FILE"),
    ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_KEY_FILE": str(CA)}, "KAFKA_SSL_CERT_FILE"),
    ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CA_FILE": "/etc/hostname"}, "KAFKA_SSL_CA_FILE"),
])
def test_a_wrong_combination_is_one_line_naming_the_variable(env, variables: dict[str, str], named: str) -> None:
    with pytest.raises(KafkaSettingsError) as error:
        security_options(env(**variables))
    message = str(error.value)
    assert named in message and "\n" not in message


def _worker(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SEVPRO_", "KAFKA_"))}
    return subprocess.run([sys.executable, "-m", "sevpro.cli", "worker"], capture_output=True, text=True, timeout=60,
                          env={**base, "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", "COLUMNS": "400", **DEPLOYMENT, **env})


# Everything else a worker needs, so that only the Kafka settings can be wrong.
DEPLOYMENT = {"SEVPRO_TENANT": "acme", "SEVPRO_COMPANIES_FILE": str(demo_companies_path()),
              "SEVPRO_SEVERA_CLIENT_ID": "id", "SEVPRO_SEVERA_CLIENT_SECRET": "s1",
              "SEVPRO_PROCOUNTOR_CLIENT_ID": "id", "SEVPRO_PROCOUNTOR_CLIENT_SECRET": "s2",
              "SEVPRO_PROCOUNTOR_API_KEY_FI": "k1", "SEVPRO_PROCOUNTOR_API_KEY_SE": "k2"}


def test_the_worker_refuses_a_wrong_combination_in_one_line() -> None:
    result = _worker({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
                      "KAFKA_SASL_PASSWORD": "never-printed"})
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "KAFKA_SASL_USERNAME" in output and len(output.strip().splitlines()) == 1, output
    assert "never-printed" not in output and "Traceback" not in output


def test_the_worker_names_an_unknown_protocol_under_its_own_name() -> None:
    result = _worker({"KAFKA_SECURITY_PROTOCOL": "TLS"})
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "KAFKA_SECURITY_PROTOCOL" in output and "SEVPRO_KAFKA" not in output and "SASL_SSL" in output


async def test_clients_read_the_settings_once_per_kafka_variables(env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every Kafka client built without explicit security read the whole settings from the environment: a pool
    worker's thousand tenants (3,000 secret variables) paid that for each poller's producer (issue 14). The
    connection is read again when a KAFKA_* variable changes."""
    import foundation.kafka as kafka

    env()
    built: list[Settings] = []

    def counted() -> Settings:
        built.append(Settings())
        return built[-1]

    monkeypatch.setattr(kafka, "get_settings", counted)
    kafka._settings_security.cache_clear()  # noqa: SLF001 - what earlier tests' clients left
    for n in range(3):
        await kafka.transactional_producer("127.0.0.1:1", f"t{n}").stop()
    assert len(built) == 1
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SSL")
    producer = kafka.idempotent_producer("127.0.0.1:1")
    await producer.stop()
    assert len(built) == 2 and producer.client._security_protocol == "SSL"

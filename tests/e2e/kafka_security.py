"""A secured broker of a test's own: a CA and the broker's certificate made here, SCRAM users, optionally ACLs."""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aiokafka.protocol.admin import CreateAclsRequest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from foundation.kafka import admin_client
from sevpro.kafka_broker import BrokerSecurity, LocalKafkaBroker

ADMIN = ("admin", "admin-secret")
WORKER = ("sevpro", "worker-secret")
OTHER = ("mallory", "mallory-secret")  # a user of the same cluster who must not touch our topics


Key = ec.EllipticCurvePrivateKey


def _certificate(subject: str, key: Key, issuer: x509.Name, issuer_key: Key, *, ca: bool) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(issuer).public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                                      content_commitment=False, key_encipherment=False,
                                                      data_encipherment=False, key_agreement=False,
                                                      encipher_only=False, decipher_only=False), critical=True)
    else:  # clients verify the host name: the broker's certificate must name the address they dial
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def make_certificates(folder: Path, password: str) -> tuple[Path, Path]:
    """(CA file in PEM, the broker's PKCS12 keystore)."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sevpro test CA")])
    ca = _certificate("sevpro test CA", ca_key, ca_name, ca_key, ca=True)
    broker_key = ec.generate_private_key(ec.SECP256R1())
    broker = _certificate("127.0.0.1", broker_key, ca_name, ca_key, ca=False)
    ca_file = folder / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    keystore = folder / "broker.p12"
    keystore.write_bytes(pkcs12.serialize_key_and_certificates(
        b"broker", broker_key, broker, [ca], serialization.BestAvailableEncryption(password.encode())))
    return ca_file, keystore


@contextmanager
def secure_broker(folder: Path, name: str, *, acls: bool) -> Iterator[LocalKafkaBroker]:
    """A second broker instance (own name, own ports) with a SASL_SSL listener; stopped and deleted after."""
    ca_file, keystore = make_certificates(folder / "tls", "keystore-secret")
    security = BrokerSecurity(keystore=keystore, keystore_password="keystore-secret", ca_file=ca_file, admin=ADMIN,
                              users=dict([WORKER, OTHER]), acls=acls)
    broker = LocalKafkaBroker(port=0, controller_port=0, name=name, security=security)  # any free ports
    broker.reset()
    try:
        broker.start()
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(broker.run_dir, ignore_errors=True)


# Kafka's protocol codes (org.apache.kafka.common.resource / acl): what `kafka-acls.sh --resource-pattern-type
# prefixed --operation All --allow-principal User:<user>` sends for --topic, --group and --transactional-id.
TOPIC, GROUP, TRANSACTIONAL_ID = 2, 3, 5
PREFIXED, ALL, ALLOW = 4, 2, 3


async def allow_prefixed(broker: LocalKafkaBroker, user: str, prefix: str) -> None:
    """The README's ACLs for a deployment's user: every operation on topics, groups and transactional ids under
    the deployment's prefix, and nothing else."""
    admin = admin_client(broker.bootstrap, security=broker.client_options())
    await admin.start()
    try:
        for resource in (TOPIC, GROUP, TRANSACTIONAL_ID):
            request = CreateAclsRequest(resource, prefix, PREFIXED, f"User:{user}", "*", ALL, ALLOW)
            response = await admin._send_request(request)  # noqa: SLF001 (aiokafka has no create_acls yet)
            errors = [(code, message) for code, message in response.creation_responses if code]
            assert not errors, errors
    finally:
        await admin.close()

"""Process-wide settings: one pydantic-settings model from environment variables (prefix SEVPRO_).

Secrets (client secrets, passwords) are held as SecretStr so that they never appear in a repr or a log line;
each can also come from a file named by `SEVPRO_<NAME>_FILE`, as Docker and Kubernetes mount secrets.
Per-company Procountor API keys are named by the company settings (foundation/company.py).

Nothing here defaults to the demo: the tenant, the companies file and the API credentials are empty until set
(`missing_for_worker` names them), and the API URLs default to the production APIs, never to a sandbox.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
DEFAULT_SEVERA_TIME_ZONE = "Europe/Helsinki"
# Guessed, not documented by the vendors (README, "Operations console"): Severa's web app is at severa.visma.com,
# and the reference names nemo.procountor.com as the backend of Procountor's new web UI.
DEFAULT_SEVERA_WEB_URL = "https://severa.visma.com/invoices/{id}"
DEFAULT_PROCOUNTOR_WEB_URL = "https://nemo.procountor.com/invoices/{id}"
ENV_PREFIX = "SEVPRO_"


class SettingsError(ValueError):
    """A setting that cannot be read (e.g. a secret file); the message names the variable, never a value."""


def read_secret_file(variable: str, path: str) -> str:
    """The secret in the file `variable` names, without the trailing newline an editor or `echo` leaves."""
    try:
        return Path(path).read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else type(error).__name__
        raise SettingsError(f"{variable}: cannot read {path}: {reason}") from None


def _is_secret(field: FieldInfo) -> bool:
    return field.annotation is SecretStr or SecretStr in get_args(field.annotation)


class _SecretFiles(PydanticBaseSettingsSource):
    """`SEVPRO_<NAME>_FILE` for every secret setting: the file's content is the value. Setting both the variable
    and its file is an error rather than a silent choice."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # all the work is in __call__

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            if not _is_secret(field) or field.validation_alias:  # KAFKA_* names have their own _FILE settings
                continue
            variable = f"{ENV_PREFIX}{name.upper()}"
            path = os.environ.get(f"{variable}_FILE")
            if not path:
                continue
            if os.environ.get(variable):
                raise SettingsError(f"{variable} and {variable}_FILE are both set: keep one")
            values[name] = read_secret_file(f"{variable}_FILE", path)
        return values


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _SecretFiles(settings_cls), dotenv_settings, file_secret_settings

    # Read without the prefix too: KAFKA_BOOTSTRAP_SERVERS is the name every Kafka tool uses.
    kafka_bootstrap_servers: str | None = Field(default=None, validation_alias="KAFKA_BOOTSTRAP_SERVERS")
    # Required by the worker (empty: not set). Only `sevpro demo` uses the demo's tenant, companies and
    # sandbox credentials, and it sets them explicitly for its own worker.
    tenant: str = ""
    # Pool mode (README "Many organisations"): the deployment's name; its workers form one consumer group that
    # serves every enabled tenant of config.tenants, each tenant's credentials from its TenantConfigured.
    pool: str = Field(default="", pattern=r"^[A-Za-z0-9._-]*$")
    # A pool worker closes a tenant's runtime (API clients, caches) after this long without work for it.
    pool_idle_seconds: float = Field(default=300.0, gt=0)
    # The faust app id, which names the consumer group: default `sevpro-<tenant>` (one group per tenant).
    app_id: str | None = None
    companies_file: Path | None = None
    # Where the worker reads its company settings: "file" (SEVPRO_COMPANIES_FILE, read at start) or "topic" (the
    # company settings events of `sevpro settings`, applied live; README "Many organisations").
    company_settings: Literal["file", "topic"] = "file"

    severa_url: str = "https://api.severa.visma.com/rest-api"
    severa_client_id: str = ""
    severa_client_secret: SecretStr = SecretStr("")
    # Just under the APIs' limits (Severa 10/s, Procountor 20/s per API client): benchmarks/README.md.
    # Severa's 10/s quota is shared with every other user of the same API credentials: leave them room (a 429
    # with Retry-After holds every request of the client for that long).
    severa_requests_per_second: float = Field(default=5.0, gt=0)
    # The organisation's time zone (IANA name): Severa date-times without an offset are read in it (issue 12).
    severa_time_zone: str = DEFAULT_SEVERA_TIME_ZONE

    procountor_url: str = "https://api.procountor.com/api"
    procountor_client_id: str = ""
    procountor_client_secret: SecretStr = SecretStr("")
    # Procountor suspends an API client that goes over 20 a second; the pacer never bursts (issue 12).
    procountor_requests_per_second: float = Field(default=18.0, gt=0)

    # Invoices are polled often (seconds from status change to Procountor); registries rarely.
    invoice_poll_seconds: float = 1.0
    registry_poll_seconds: float = 60.0
    purchase_invoice_poll_seconds: float = 10.0
    transient_retry_seconds: float = 60.0
    # Transfers in flight per worker: each waits mostly for API answers and the pollers' reads, so the drain
    # grows with them until the API paces are the bound (benchmarks/README.md: 16 → 2.1, 64 → 3.0 invoices/s;
    # at 64 both paces ran dry in turn, issue 16's seventh part). Those past their create are bounded apart, by
    # what the paces finish within a rebalance (streams/writers.py).
    transfer_concurrency: int = Field(default=128, ge=1)
    # Events fetched for one agent and not yet taken by it (faust's stream buffer: memory per agent). The
    # transfer windows take events at once and pause a partition with a backlog, so it rarely fills.
    stream_buffer: int = Field(default=4096, ge=16)
    # Every API call gives up after this long; a write that timed out is found by the retry's search before
    # it writes again (neither API has idempotency keys).
    http_timeout_seconds: float = Field(default=30.0, gt=0)
    # Partitions of the topics the worker creates: the most workers a tenant can spread its work over.
    topic_partitions: int = Field(default=4, ge=1)
    # How soon the group notices a worker that died without leaving (kill -9, a lost host) and hands its
    # partitions, and the leader's pollers, to the others. Kafka accepts 6 s at the least (the broker's
    # group.min.session.timeout.ms); faust's own default of 60 s would stall a crashed worker's invoices.
    session_timeout_seconds: float = Field(default=10.0, ge=6.0)
    # One projector per host writes the SQLite read models; further workers on the host turn theirs off.
    run_projector: bool = True
    # When to synchronize: "continuous" (ours: every few seconds), "incumbent" (Finnish day 10 min, evening
    # hourly, nothing at night) or windows such as "07:00-18:00/5m" (foundation/schedule.py).
    sync_schedule: str = "continuous"

    # Error notification e-mail; without an SMTP host, messages go to <SEVPRO_HOME>/outbox/*.eml.
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "sevpro@localhost"
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Literal["none", "starttls", "ssl"] = "none"
    notify_transient_after: int = 3
    notify_batch_seconds: float = 60.0
    notify_max_age_seconds: float = 86400.0

    # -- the operations console (`sevpro console`; console/auth.py) -------------------------------------------
    # Users: `name:argon2-hash` lines (default <SEVPRO_HOME>/console-users, written by `sevpro console user add`)
    # and/or SEVPRO_CONSOLE_USERS as JSON {"name": "$argon2id$..."}.
    console_users_file: Path | None = None
    console_users: dict[str, str] = Field(default_factory=dict)
    # Signs the session cookies; without it each start makes a random one (sessions end with the process).
    console_session_secret: SecretStr | None = None
    console_session_hours: float = Field(default=12.0, gt=0)
    # Off by default. Set only when an authenticating reverse proxy (oauth2-proxy, ...) is the console's one
    # way in: every request carrying this header is signed in as the user it names.
    console_trusted_user_header: str | None = None
    # Host names served (DNS rebinding): comma-separated; the loopback names by default.
    console_allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(LOOPBACK_NAMES))
    # Secure cookies (HTTPS only); default: on, except when the console listens on loopback over plain HTTP.
    console_secure_cookies: bool | None = None
    # The console's links from a record to the invoice in each system's web UI: `{id}` becomes the invoice's id
    # (Severa's guid, Procountor's invoice id); empty: no link. The defaults are guesses (README, "Operations
    # console"): neither vendor documents its web UI's addresses.
    severa_web_url: str = DEFAULT_SEVERA_WEB_URL
    procountor_web_url: str = DEFAULT_PROCOUNTOR_WEB_URL

    @field_validator("severa_time_zone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone name such as Europe/Helsinki") from None
        return value

    @field_validator("severa_web_url", "procountor_web_url")
    @classmethod
    def _invoice_url_template(cls, value: str) -> str:
        value = value.strip()
        if value and not (value.startswith(("https://", "http://")) and value.count("{id}") == 1
                          and not set("{}") & set(value.replace("{id}", ""))):
            raise ValueError(f"{value!r}: an http(s) address with {{id}} once where the invoice's id goes, e.g."
                             f" {DEFAULT_SEVERA_WEB_URL} (or empty: no link)")
        return value

    @field_validator("console_allowed_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value

    # -- Kafka: how every client connects (foundation/kafka.py `security_options` checks the combination) --
    # Read without the SEVPRO_ prefix, as KAFKA_BOOTSTRAP_SERVERS: the names Kafka tools and images use.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", validation_alias="KAFKA_SECURITY_PROTOCOL")
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        default=None, validation_alias="KAFKA_SASL_MECHANISM")
    kafka_sasl_username: str | None = Field(default=None, validation_alias="KAFKA_SASL_USERNAME")
    kafka_sasl_password: SecretStr | None = Field(default=None, validation_alias="KAFKA_SASL_PASSWORD")
    # The password from a mounted secret (Docker, Kubernetes) instead of the environment.
    kafka_sasl_password_file: Path | None = Field(default=None, validation_alias="KAFKA_SASL_PASSWORD_FILE")
    # Without a CA file, TLS trusts the system's CAs (managed services use public ones).
    kafka_ssl_ca_file: Path | None = Field(default=None, validation_alias="KAFKA_SSL_CA_FILE")
    # A client certificate and its key (PEM) for clusters that authenticate clients by TLS (mTLS).
    kafka_ssl_cert_file: Path | None = Field(default=None, validation_alias="KAFKA_SSL_CERT_FILE")
    kafka_ssl_key_file: Path | None = Field(default=None, validation_alias="KAFKA_SSL_KEY_FILE")
    # Every topic, consumer group and transactional id of this deployment starts with it: prefixed ACLs give the
    # deployment's Kafka user its own names only (README, "Running on a Kafka cluster").
    topic_prefix: str = Field(default="sevpro.", pattern=r"^[A-Za-z0-9._-]*$")
    # Event topics are the system of record (audit, replay): kept forever (-1) unless set otherwise. One replica
    # fits the single-node broker; on a cluster 3 replicas with min.insync.replicas 2 (README).
    topic_retention_ms: int = Field(default=-1, ge=-1)
    topic_replication_factor: int = Field(default=1, ge=1)
    topic_min_insync_replicas: int = Field(default=1, ge=1)

    @field_validator("topic_min_insync_replicas")
    @classmethod
    def _not_more_than_the_replicas(cls, value: int, info: ValidationInfo) -> int:
        replicas = info.data.get("topic_replication_factor", value)
        if value > replicas:
            raise ValueError(f"cannot exceed SEVPRO_TOPIC_REPLICATION_FACTOR ({replicas}): no write could succeed")
        return value


def missing_for_worker(settings: Settings) -> list[str]:
    """The variables a worker needs that are not set: it must never fall back on the demo's. A pool worker
    (SEVPRO_POOL) needs none of them: its tenants, their credentials and settings are on the config topics."""
    if settings.pool:
        return []
    required = {"tenant": settings.tenant,
                "companies_file": settings.companies_file if settings.company_settings == "file" else "topic",
                "severa_client_id": settings.severa_client_id,
                "severa_client_secret": settings.severa_client_secret.get_secret_value(),
                "procountor_client_id": settings.procountor_client_id,
                "procountor_client_secret": settings.procountor_client_secret.get_secret_value()}
    return [f"{ENV_PREFIX}{name.upper()}" for name, value in required.items() if not value]


def get_settings() -> Settings:
    return Settings()

"""Error notification: a failed transfer becomes an email to the company's ``error_email``.

    transfer.<kind>.outcome ──on_outcome──▶ NotificationLog (pending) ──after the batch window──▶ SMTP or outbox

Only companies with ``send_error_email`` get one. Data errors: one email per failed request; transient errors:
one per record version once it has failed ``transient_threshold`` times. Failures of one company within
``batch_seconds`` go in one email. Redelivered outcomes send nothing more (keys in the NotificationLog). The
leader's NotificationFeed (streams/notification_feed.py) feeds it from Kafka and calls ``flush_due``. Without
an SMTP host the emails are written as ``.eml`` files into ``<project home>/outbox/`` (the demo shows them).
The SMTP password is a SecretStr, read only where it is handed to ``smtplib``, and scrubbed from error text.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import smtplib
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path
from typing import Any, Literal

from pydantic import SecretStr

from foundation.company import CompanySettings
from foundation.i18n import company_language
from foundation.logs import get_logger
from streams.notification_log import NotificationLog
from streams.notification_text import (
    Failure,
    compose,
    failure_from_outcome,
    notification_key,
    occurred_epoch,
    record_key,
)

log = get_logger(__name__)

Security = Literal["none", "starttls", "ssl"]


class NotificationError(RuntimeError):
    """An email could not be delivered; the message never contains the SMTP password."""


@dataclass(frozen=True)
class NotifierConfig:
    """SMTP and batching; ``from_settings`` reads the SEVPRO_SMTP_* / SEVPRO_NOTIFY_* settings."""

    smtp_host: str | None = None  # None: write .eml files into the outbox instead
    smtp_port: int = 25
    smtp_from: str = "sevpro@localhost"
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Security = "none"
    smtp_timeout: float = 10.0
    transient_threshold: int = 3
    batch_seconds: float = 60.0
    retry_seconds: float = 60.0  # after a failed delivery
    # A replay from offset zero (say, with the project home wiped) must not email last year's failures.
    max_age_seconds: float = 24 * 3600.0
    outbox: Path | None = None  # default <project home>/outbox

    @classmethod
    def from_settings(cls, settings: Any) -> NotifierConfig:
        """From ``foundation.settings.Settings``; a setting the model does not have yet keeps its default."""
        defaults = cls()
        values = {name: getattr(settings, setting, getattr(defaults, name)) for name, setting in (
            ("smtp_host", "smtp_host"), ("smtp_port", "smtp_port"), ("smtp_from", "smtp_from"),
            ("smtp_user", "smtp_user"), ("smtp_password", "smtp_password"), ("smtp_security", "smtp_security"),
            ("transient_threshold", "notify_transient_after"), ("batch_seconds", "notify_batch_seconds"),
            ("max_age_seconds", "notify_max_age_seconds"))}
        return cls(**values)

    def __repr__(self) -> str:  # the dataclass repr would show the SecretStr's class only, but be explicit
        return f"NotifierConfig(smtp_host={self.smtp_host!r}, smtp_port={self.smtp_port}, smtp_user={self.smtp_user!r})"


class Notifier:
    """Records failed outcomes, batches them per company, and delivers the emails."""

    def __init__(self, config: NotifierConfig | None = None, store: NotificationLog | None = None, *,
                 clock: Callable[[], float] = time.time,
                 on_sent: Callable[[EmailMessage, list[Failure]], Awaitable[None]] | None = None) -> None:
        self.config = config or NotifierConfig()
        self.store = store or NotificationLog()
        self.clock = clock
        self.on_sent = on_sent  # after delivery, before it is marked sent here (NotificationFeed: to Kafka)
        self._lock = asyncio.Lock()

    @property
    def outbox(self) -> Path:
        if self.config.outbox is not None:
            return self.config.outbox
        from foundation.paths import project_home

        return project_home() / "outbox"

    # ------------------------------------------------------------------------------------------ recording
    async def record(self, outcome: Mapping[str, Any], company: CompanySettings | None) -> bool:
        """Take one TransferOutcome; True when it queued a new notification."""
        state = outcome.get("state")
        key_of_record = record_key(outcome)
        if state == "succeeded":
            if self.store.cancel_pending(key_of_record):
                log.info("error notification dropped: transferred after all", record=key_of_record)
            if not outcome.get("warning"):
                return False  # a warning (totals that differ) is e-mailed like an error, below
        elif state not in ("failed_data", "failed_config", "failed_transient"):
            return False
        if company is None:
            return False
        if not company.send_error_email or not company.error_email:
            return False
        now = self.clock()
        occurred = occurred_epoch(outcome.get("occurred_at"))
        if occurred is not None and now - occurred > self.config.max_age_seconds:
            return False  # old news: a replay, or a worker that was down for days; the log has it
        failures = 0
        if state == "failed_transient":
            failures = self.store.count_transient(outcome["event_id"], key_of_record, now)
        key = notification_key(outcome, failures, self.config.transient_threshold)
        if key is None:
            return False
        failure = failure_from_outcome(
            outcome, key, recipient=company.error_email, attempts=max(failures, int(outcome.get("attempt") or 1)),
            company_name=company.display_name or company.severa_business_unit_name or company.name,
            language=company_language(company.language, company.country))
        added = self.store.add(failure, key_of_record, now)
        if added:
            log.info("error notification queued", company=company.name, record=failure.record, code=failure.code)
        return added

    # ------------------------------------------------------------------------------------------ sending
    async def flush_due(self, *, force: bool = False) -> int:
        """Send every batch whose window has passed (every batch, with ``force``); the number of emails sent."""
        async with self._lock:
            now = self.clock()
            sent = 0
            for (tenant, company, _), claimed in self.store.claim_due(self.config.batch_seconds, now,
                                                                      force=force).items():
                built = self._build_or_park(claimed, now)
                if built is None:
                    continue
                message, failures = built
                try:
                    where = await self.deliver(message)
                except BaseException as error:
                    self.store.release([f.key for f in failures])
                    if not isinstance(error, NotificationError):
                        raise
                    log.error("error notification not delivered; retried later", company=company, tenant=tenant,
                              records=len(failures), error=str(error))
                    continue
                if self.on_sent is not None:
                    try:
                        await self.on_sent(message, failures)
                    except Exception as error:  # it went out: record it here at least, and say so
                        log.error("error notification sent but not recorded in Kafka; another worker may repeat it",
                                  company=company, tenant=tenant, error=f"{type(error).__name__}: {error}")
                self.store.mark_sent([f.key for f in failures], message["Message-ID"], self.clock())
                sent += 1
                log.info("error notification sent", company=company, tenant=tenant, to=message["To"],
                         records=len(failures), via=where)
            return sent

    def _build_or_park(self, failures: list[Failure], now: float) -> tuple[EmailMessage, list[Failure]] | None:
        """The batch's e-mail, made and serialised as it will be sent; a failure no e-mail can be made of is
        parked with its reason (one at a time, so the others still go out). None: nothing left to send."""
        try:
            return self._build(failures, now), failures
        except Exception:  # noqa: BLE001 - find the failures that cannot be told, park them, send the rest
            pass
        sendable = []
        for failure in failures:
            try:
                self._build([failure], now)
                sendable.append(failure)
            except Exception as error:  # noqa: BLE001
                reason = f"{type(error).__name__}: {error}"[:500]
                self.store.park(failure.key, reason)
                log.error("error notification parked: no e-mail can be made of it", company=failure.company,
                          tenant=failure.tenant, record=failure.record, reason=reason)
        return (self._build(sendable, now), sendable) if sendable else None

    def _build(self, failures: list[Failure], now: float) -> EmailMessage:
        message = compose(failures, sender=self.config.smtp_from, now=datetime.fromtimestamp(now, UTC))
        message.as_bytes(policy=SMTP_POLICY)  # what delivery does: a header it cannot write raises here
        return message

    async def deliver(self, message: EmailMessage) -> str:
        """SMTP when a host is configured, else an .eml file in the outbox; where it went."""
        if self.config.smtp_host:
            await asyncio.to_thread(_send_smtp, self.config, message)
            return f"smtp://{self.config.smtp_host}:{self.config.smtp_port}"
        return str(await asyncio.to_thread(_write_eml, self.outbox, message))

    # ------------------------------------------------------------------------------------------ lifecycle
    async def aclose(self) -> None:
        """Close the record; pending notifications stay in it."""
        self.store.close()


async def on_outcome(outcome: Mapping[str, Any], companies: Mapping[str, CompanySettings],
                     notifier: Notifier) -> None:
    """The agent's handler for one decoded TransferOutcome of any kind."""
    await notifier.record(outcome, companies.get(outcome.get("company", "")))


# ------------------------------------------------------------------------------------------ delivery
def _send_smtp(config: NotifierConfig, message: EmailMessage) -> None:
    assert config.smtp_host
    password = config.smtp_password.get_secret_value() if config.smtp_password else ""
    try:
        if config.smtp_security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(config.smtp_host, config.smtp_port, timeout=config.smtp_timeout,
                                                  context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=config.smtp_timeout)
        with smtp:
            if config.smtp_security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if config.smtp_user:
                if config.smtp_security == "none" and not _loopback(config.smtp_host):
                    raise NotificationError("refusing to send SMTP credentials unencrypted: set "
                                            "SEVPRO_SMTP_SECURITY to starttls or ssl")
                smtp.login(config.smtp_user, password)
            smtp.send_message(message)
    except NotificationError:
        raise
    except (smtplib.SMTPException, OSError) as error:
        text = _scrub(f"{type(error).__name__}: {error}", config.smtp_user or "", password)
        raise NotificationError(f"SMTP {config.smtp_host}:{config.smtp_port}: {text}") from None


def _write_eml(outbox: Path, message: EmailMessage) -> Path:
    """Atomically, named by the Message-ID: writing the same batch again replaces the same file."""
    outbox.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = str(message["Message-ID"]).strip("<>").split(".", 1)[0]
    existing = sorted(outbox.glob(f"*-{name}.eml"))
    path = existing[0] if existing else outbox / f"{stamp}-{name}.eml"
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(message.as_bytes(policy=SMTP_POLICY))
    temporary.replace(path)
    return path


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _scrub(text: str, user: str, password: str) -> str:
    """A server may echo what it was sent; none of the forms the password travels in reaches a log."""
    if not password:
        return text
    forms = [password, f"\0{user}\0{password}", password.encode().hex()]
    for form in forms:
        text = text.replace(form, "***").replace(base64.b64encode(form.encode()).decode(), "***")
    return text

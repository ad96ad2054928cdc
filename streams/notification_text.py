"""Error notification emails, pure: which outcomes deserve one, and the subject and body the user reads.

The seed: "If you want to receive email notifications of errors in integration, check the box Send email when
integration reports on errors". A data error (``failed_data``) is worth one email per transfer request; a
configuration error (``failed_config``: credentials, scopes, API key) one email per record version, at once,
however often the retry on each cycle fails again; a transient one only once it has failed ``threshold`` times
for the same record version (the retry usually cures it). Several failures of one company inside the batch
window go in one email. A transfer that succeeded with a warning (Procountor's totals differ from Severa's)
is worth one email per request too: the invoice was written, and someone should check it. No I/O here:
`streams/notify.py` keeps the record of what was sent and delivers the message.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from foundation.i18n import N_, translate
from streams.mapping.errors import solution_text

_LABELS = {
    "sales-invoice": N_("sales invoice"),
    "travel-reimbursement": N_("travel reimbursement"),
    "purchase-invoice": N_("purchase invoice"),
    "sales-invoice-payment": N_("sales invoice payment"),
}
# Purchase invoices are imported from Procountor into Severa, and payments written back to Severa's invoices.
_FROM_PROCOUNTOR = {"purchase-invoice", "sales-invoice-payment"}
_SUBJECT_RECORDS = 3  # records named in a batch subject before "and N more"
WARNING_SOLUTION = N_(
    "The invoice was transferred and stays as Procountor computed it. Compare its totals in Procountor with "
    "Severa's before it is paid; if Procountor's figures are not the ones the customer should pay, correct the "
    "invoice with a credit note in Severa."
)


@dataclass(frozen=True)
class Failure:
    """One failed transfer as the email tells it; stored as JSON until the batch is sent."""

    key: str  # the notification's idempotency key: data:<request id>, config: or transient:<record version>
    tenant: str
    company: str
    company_name: str
    recipient: str
    kind: str
    record: str  # "sales invoice 10007"
    lookup: str  # what `sevpro show` takes: the Severa number, else the guid
    request_id: str
    transient: bool
    attempts: int
    code: str
    field: str | None
    value: str | None
    message: str
    solution: str | None
    occurred_at: str  # ISO 8601, UTC
    source_id: str | None = None  # the source record's id (Severa guid or Procountor id)
    config: bool = False  # an API refused the integration's settings (credentials, scopes, API key)
    warning: bool = False  # transferred, with something to check (the outcome's warning is the message)
    language: str = "en"  # the company's e-mail language (foundation.i18n.company_language)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Failure:
        return cls(**data)


def direction(kind: str) -> str:
    return "Procountor → Severa" if kind in _FROM_PROCOUNTOR else "Severa → Procountor"


def record_key(outcome: Mapping[str, Any]) -> str:
    """One version of one source record: what a transient failure is counted against across retries."""
    return f"{outcome['tenant']}:{outcome['kind']}:{outcome['source_id']}:{outcome['source_version']}"


def notification_key(outcome: Mapping[str, Any], transient_failures: int, threshold: int) -> str | None:
    """The key of the email this outcome deserves, or None: data errors per request, transient at threshold.

    Retries of a transient failure are new requests (``<id>:reprocess:<n>``) with attempt numbers starting
    again at 1, so transient failures are counted per record version by the caller (``transient_failures``).
    """
    state = outcome.get("state")
    if state == "succeeded":
        return f"warning:{outcome['request_id']}" if outcome.get("warning") else None
    if state == "failed_data":
        return f"data:{outcome['request_id']}"
    if state == "failed_config":
        return f"config:{record_key(outcome)}"
    if state == "failed_transient":
        failures = max(transient_failures, int(outcome.get("attempt") or 0))
        return f"transient:{record_key(outcome)}" if failures >= threshold else None
    return None


def failure_from_outcome(outcome: Mapping[str, Any], key: str, *, company_name: str, recipient: str,
                         attempts: int, language: str = "en") -> Failure:
    """The email's view of a failed ``TransferOutcome`` (as decoded by ``schemas.codec.decode``)."""
    error: Mapping[str, Any] = outcome.get("error") or {}
    if outcome.get("state") == "succeeded" and outcome.get("warning"):
        error = {"code": "TOTALS_DIFFER", "message": outcome["warning"], "solution": WARNING_SOLUTION}
    label = _LABELS.get(outcome["kind"], outcome["kind"].replace("-", " "))
    number = outcome.get("source_number") or outcome["source_id"]
    record = told_record(error.get("record") or f"{label} {number}", language)
    return Failure(
        key=key,
        tenant=outcome["tenant"],
        company=outcome["company"],
        company_name=company_name,
        recipient=recipient,
        kind=outcome["kind"],
        record=record,
        lookup=str(number),
        request_id=outcome["request_id"],
        transient=outcome.get("state") == "failed_transient",
        attempts=attempts,
        code=error.get("code") or "UNKNOWN",
        field=error.get("field"),
        value=error.get("value"),
        message=error.get("message") or "",
        solution=error.get("solution"),
        occurred_at=_iso(outcome.get("occurred_at")),
        source_id=outcome.get("source_id"),
        config=outcome.get("state") == "failed_config",
        warning=outcome.get("state") == "succeeded",
        language=language,
    )


_RECORD_NOUNS = (*_LABELS.values(), N_("customer"))


def told_record(record: str, language: str) -> str:
    """A record as the e-mail names it: its leading noun in `language` (``sales invoice 10007`` → ``myyntilasku
    10007``); the rest (numbers, names) as it was."""
    for noun in _RECORD_NOUNS:
        if record.startswith(noun + " "):
            return translate(noun, language) + record[len(noun):]
    return record


def headline(failure: Failure) -> str:
    """``Severa → Procountor: sales invoice 10007 was not transferred``."""
    lang = failure.language
    if failure.transient:
        what = translate("could not be transferred after {n} attempts (still retrying)", lang).format(
            n=failure.attempts)
    elif failure.config:
        what = translate("was not transferred: the integration's settings were refused", lang)
    elif failure.warning:
        what = translate("was transferred, and needs checking", lang)
    else:
        what = translate("was not transferred", lang)
    return f"{direction(failure.kind)}: {failure.record} {what}"


def header_text(text: str) -> str:
    """`text` fit for a header: control characters and line separators (a header may not hold a line break, and
    a name from Severa or Procountor may) become spaces, runs of white space one."""
    cleaned = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in text)
    return " ".join(cleaned.split())


def subject(failures: Sequence[Failure]) -> str:
    """The company, and the record (one failure) or how many records and the first few (a batch)."""
    if not failures:
        raise ValueError("no failures to tell about")
    company = failures[0].company_name
    lang = failures[0].language
    if len(failures) == 1:
        return header_text(f"[{company}] {headline(failures[0])}")
    directions = {direction(f.kind) for f in failures}
    prefix = f"{directions.pop()}: " if len(directions) == 1 else ""
    named = ", ".join(f.record for f in failures[:_SUBJECT_RECORDS])
    more = translate(" and {n} more", lang).format(n=len(failures) - _SUBJECT_RECORDS) \
        if len(failures) > _SUBJECT_RECORDS else ""
    warned = sum(f.warning for f in failures)
    template = N_("{n} records were not transferred") if not warned else N_("{n} records need checking") \
        if warned == len(failures) else N_("{n} records need attention")
    what = translate(template, lang).format(n=len(failures))
    return header_text(f"[{company}] {prefix}{what}: {named}{more}")


def body(failures: Sequence[Failure]) -> str:
    """Plain text: per failure the code, field, value, message, the solution and where to see it."""
    first = failures[0]
    lang = first.language

    def t(text: str) -> str:
        return translate(text, lang)

    labels = [t(label) for label in (N_("Error:"), N_("Field:"), N_("Value:"), N_("Message:"), N_("Solution:"),
                                     N_("When:"), N_("Details:"))]
    width = max(len(label) for label in labels) + 1
    error, field, value, message, solution, at, details = (label.ljust(width) for label in labels)
    count = t("an error") if len(failures) == 1 else t("{n} errors").format(n=len(failures))
    lines = [
        t("The Severa–Procountor integration of {name} ({company}) reported {count}.").format(
            name=first.company_name, company=first.company, count=count),
        "",
    ]
    for number, failure in enumerate(failures, start=1):
        lines.append(f"{number}. {headline(failure)}")
        lines.append(f"   {error}{failure.code}")
        if failure.field:
            lines.append(f"   {field}{failure.field}")
        if failure.value is not None:
            lines.append(f"   {value}{failure.value}")
        if failure.message:
            lines.append(f"   {message}{failure.message}")
        if failure.solution:
            lines.append(f"   {solution}{solution_text(failure.code, failure.solution, lang)}")
        lines.append(f"   {at}{failure.occurred_at.replace('T', ' ')[:19]} UTC")
        lines.append(f"   {details}sevpro show {failure.lookup}")
        lines.append("")
    if any(not f.transient and not f.config and not f.warning for f in failures):
        lines += [t("Data errors are not retried until the record changes in the source system; the transfer log "
                    "lists every one (sevpro log --state failed-data)."), ""]
    if any(f.config for f in failures):
        lines += [t("Configuration errors (credentials, API scopes, API key) are retried on every cycle and go "
                    "through once the settings are fixed; this is the only email about them "
                    "(sevpro log --state failed-config)."), ""]
    if any(f.warning for f in failures):
        lines += [t("Warnings are about invoices that were transferred: nothing is retried or changed "
                    "(sevpro show <number> shows the figures)."), ""]
    if any(f.transient for f in failures):
        lines += [t("Temporary errors are retried automatically; no action is needed unless they persist "
                    "(sevpro log --state failed-transient)."), ""]
    lines += [
        t("You receive this email because 'Send email when integration reports on errors' is on for {name} "
          "(send_error_email in the company settings).").format(name=first.company_name),
    ]
    return "\n".join(lines) + "\n"


def message_id(failures: Sequence[Failure], sender: str) -> str:
    """Deterministic: a resent batch carries the same Message-ID, so mail clients can fold the repeat."""
    digest = hashlib.sha256("\n".join(sorted(f.key for f in failures)).encode()).hexdigest()[:32]
    domain = sender.rpartition("@")[2] or "sevpro.invalid"
    return f"<{digest}.sevpro@{domain}>"


def compose(failures: Sequence[Failure], *, sender: str, now: datetime | None = None) -> EmailMessage:
    """One email to the company's ``error_email`` about every failure given (all of one company)."""
    if not failures:
        raise ValueError("no failures to tell about")
    recipients = {f.recipient for f in failures}
    companies = {(f.tenant, f.company) for f in failures}
    if len(recipients) != 1 or len(companies) != 1:
        raise ValueError("one email tells about one company's failures, to one address")
    message = EmailMessage()
    message["From"] = sender
    message["To"] = failures[0].recipient
    message["Subject"] = subject(failures)
    message["Date"] = format_datetime(now or datetime.now(UTC))
    message["Message-ID"] = message_id(failures, sender)
    message["X-Sevpro-Company"] = header_text(f"{failures[0].tenant}/{failures[0].company}")
    message.set_content(body(failures), cte="quoted-printable")  # 7-bit safe for any relay
    return message


def occurred_epoch(value: Any) -> float | None:
    """``occurred_at`` of an outcome (datetime, or timestamp-millis) as epoch seconds."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, int | float):
        return value / 1000
    return None


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    elif isinstance(value, int | float):
        moment = datetime.fromtimestamp(value / 1000, UTC)  # timestamp-millis
    else:
        moment = datetime.now(UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")

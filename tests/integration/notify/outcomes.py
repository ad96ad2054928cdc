"""TransferOutcome records and SMTP settings for the notification tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from smtp_sink import SmtpSink

from streams.mapping.errors import SOLUTIONS
from streams.notify import NotifierConfig


def outcome(number: str, state: str = "failed_data", *, request: str | None = None, attempt: int = 1,
            company: str = "FI", code: str = "CLOSED_FISCAL_PERIOD", kind: str = "sales-invoice",
            occurred_at: datetime | None = None, tenant: str = "demo") -> dict[str, Any]:
    """A decoded TransferOutcome of a sales invoice of the demo's FI company (as the codec gives it)."""
    request_id = request or f"{tenant}:{kind}:guid-{number}:v1"
    error = None
    if state == "failed_data":
        error = {"code": code, "kind": "data", "record": f"sales invoice {number}", "field": "billingDate",
                 "value": "2019-12-31", "message": f"{code} (billingDate)", "solution": SOLUTIONS[code]}
    elif state == "failed_config":
        error = {"code": code, "kind": "config", "record": f"sales invoice {number}", "field": None, "value": None,
                 "message": "SeveraForbidden: GET /v1/customers/{guid}: 403 InsufficientApiScope: customers:read",
                 "solution": SOLUTIONS[code]}
    elif state == "failed_transient":
        error = {"code": "TRANSIENT", "kind": "transient", "record": f"sales invoice {number}", "field": None,
                 "value": None, "message": "ConnectTimeout: Procountor did not answer", "solution": "retried"}
    return {
        "event_id": f"{request_id}:{attempt}:{state}", "correlation_id": f"corr-{number}", "causation_id": request_id,
        "tenant": tenant, "company": company, "kind": kind, "request_id": request_id, "source_id": f"guid-{number}",
        "source_number": number, "source_version": "v1", "attempt": attempt, "state": state, "step": None,
        "target_id": None, "target_number": None, "adopted": False, "error": error,
        "occurred_at": occurred_at or datetime.now(UTC),
    }


def smtp(sink: SmtpSink, **overrides: Any) -> NotifierConfig:
    values: dict[str, Any] = {"smtp_host": "127.0.0.1", "smtp_port": sink.port, "smtp_from": "sevpro@kumpula.example",
                              "batch_seconds": 0.2, "retry_seconds": 0.2}
    return NotifierConfig(**{**values, **overrides})

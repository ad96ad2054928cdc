"""Typed Procountor errors that keep every `{status, field, message}` of the error body.

The classes subclass the shared roots of `connectors.errors` (transient, data, auth), so callers catch one
class per kind of failure for both APIs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connectors.errors import ApiAuthError, ApiDataError, ApiError, TransientApiError


@dataclass(frozen=True)
class ProcountorFieldError:
    """One entry of Procountor's `errors` list; `message` is usually an UPPER_SNAKE code, sometimes prose."""

    status: int
    field: str | None
    message: str

    @classmethod
    def from_json(cls, data: dict[str, Any], default_status: int) -> ProcountorFieldError:
        return cls(
            status=int(data.get("status") or default_status),
            field=data.get("field"),
            message=str(data.get("message") or ""),
        )


class ProcountorError(ApiError):
    """A refused or failed Procountor call."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        errors: list[ProcountorFieldError] | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.status = status
        self.errors = errors or []
        self.method = method
        self.path = path
        super().__init__(message)

    @property
    def codes(self) -> list[str]:
        return [e.message for e in self.errors]

    @property
    def fields(self) -> list[str | None]:
        return [e.field for e in self.errors]

    def has_code(self, code: str) -> bool:
        return any(e.message == code for e in self.errors)

    def for_field(self, field: str) -> list[ProcountorFieldError]:
        return [e for e in self.errors if e.field == field]


class ProcountorValidationError(ProcountorError, ApiDataError):
    """400: the data was refused (validation codes, closed period, registry mismatch); fix the data."""


class ProcountorConflict(ProcountorValidationError):
    """The resource changed since it was read (stale `version` → 400 on `version`, or 409): re-read."""


class ProcountorNotFound(ProcountorError, ApiDataError):
    """404."""


class ProcountorAuthError(ProcountorError, ApiAuthError):
    """401 after one re-login, or refused credentials / API key."""


class ProcountorForbidden(ProcountorError, ApiDataError):
    """403: an action not allowed in the invoice's current status, a closed fiscal year (or insufficient rights)."""


class ProcountorTransientError(ProcountorError, TransientApiError):
    """429, 5xx, timeouts or connection errors that outlasted the retries (or a write not safe to repeat)."""

    def __init__(self, message: str, *, maybe_applied: bool = False, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        # True when a non-idempotent write may have reached Procountor: search before creating again.
        self.maybe_applied = maybe_applied


def error_from_response(status: int, body: Any, method: str, path: str) -> ProcountorError:
    """Map an HTTP error status and body to the matching typed error."""
    errors: list[ProcountorFieldError] = []
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        errors = [ProcountorFieldError.from_json(e, status) for e in body["errors"] if isinstance(e, dict)]
    summary = "; ".join(f"{e.field or '-'}: {e.message}" for e in errors) or f"HTTP {status}"
    message = f"{method} {path} -> {status}: {summary}"
    kwargs: dict[str, Any] = {"status": status, "errors": errors, "method": method, "path": path}
    if status == 401:
        return ProcountorAuthError(message, **kwargs)
    if status == 403:
        return ProcountorForbidden(message, **kwargs)
    if status == 404:
        return ProcountorNotFound(message, **kwargs)
    if status == 409 or (status == 400 and any(e.field == "version" for e in errors)):
        return ProcountorConflict(message, **kwargs)
    if status == 429 or status >= 500:
        return ProcountorTransientError(message, **kwargs)
    return ProcountorValidationError(message, **kwargs)

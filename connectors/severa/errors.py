"""Typed errors of the Severa REST API client.

Severa answers errors with ``ExceptionModel`` (``{"error": {"httpStatusCode", "type", "details": [{"message",
"location": {...}}]}}``); 404 has an empty body and 429 a plain-text gateway message. Every error keeps the
HTTP ``status``, the Severa ``type`` (e.g. ``InvalidParameter``, ``InsufficientApiScope``), a readable
``message`` and the raw ``details`` list. The classes subclass the shared roots of ``connectors.errors``
(transient, data, auth), so callers catch one class per kind of failure for both APIs.
"""

from __future__ import annotations

from typing import Any

from connectors.errors import ApiAuthError, ApiDataError, ApiError, TransientApiError


class SeveraError(ApiError):
    """Base of every error the Severa client raises."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        type: str | None = None,  # the API's own field name
        details: list[dict[str, Any]] | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type
        self.details = details or []
        self.method = method
        self.path = path

    def __str__(self) -> str:
        where = f"{self.method} {self.path}: " if self.method else ""
        kind = f" {self.type}" if self.type else ""
        return f"{where}{self.status}{kind}: {self.message}"


class SeveraNotFound(SeveraError, ApiDataError):
    """404: the guid (or route) does not exist."""


class SeveraValidationError(SeveraError, ApiDataError):
    """400: the request was refused (``InvalidParameter``, ``InvalidOperation``, ...); a data error."""

    @property
    def fields(self) -> list[str]:
        """Names of the offending fields/parameters, from ``details[].location.name``."""
        return [
            str(d["location"]["name"])
            for d in self.details
            if isinstance(d.get("location"), dict) and d["location"].get("name")
        ]


class SeveraAuthError(SeveraError, ApiAuthError):
    """401: bad client credentials, or a token rejected even after a fresh login."""


class SeveraForbidden(SeveraError, ApiAuthError):
    """403: missing API scope (``InsufficientApiScope``), add-on or permission."""


class SeveraTransientError(SeveraError, TransientApiError):
    """5xx, timeouts, connection errors (and 429) that persisted through the bounded retries."""

    def __init__(self, message: str, *, maybe_applied: bool = False, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.maybe_applied = maybe_applied


class SeveraRateLimited(SeveraTransientError):
    """429 ``API calls quota exceeded!`` that persisted through the bounded retries."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


def error_from_response(
    status: int, body: bytes, *, method: str, path: str, retry_after: float | None = None
) -> SeveraError:
    """Map an HTTP error answer onto the typed error, reading ``ExceptionModel`` when present."""
    import json

    type_: str | None = None
    details: list[dict[str, Any]] = []
    text = body.decode("utf-8", "replace").strip()
    message = text
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        error: dict[str, Any] = parsed["error"] if isinstance(parsed.get("error"), dict) else parsed
        type_ = error.get("type") if isinstance(error.get("type"), str) else None
        raw_details = error.get("details")
        if isinstance(raw_details, list):
            details = [d for d in raw_details if isinstance(d, dict)]
        messages = [str(d["message"]) for d in details if d.get("message")]
        # Spec: details[].message; some deployments put a top-level message instead.
        message = "; ".join(messages) or str(error.get("message") or parsed.get("message") or text)
    if not message:
        message = {404: "Resource not found"}.get(status, f"HTTP {status}")
    common: dict[str, Any] = {
        "status": status,
        "type": type_,
        "details": details,
        "method": method,
        "path": path,
    }
    if status == 404:
        return SeveraNotFound(message, **common)
    if status == 401:
        return SeveraAuthError(message, **common)
    if status == 403:
        return SeveraForbidden(message, **common)
    if status == 429:
        return SeveraRateLimited(message, retry_after=retry_after, **common)
    if status >= 500:
        return SeveraTransientError(message, **common)
    if 400 <= status < 500:
        return SeveraValidationError(message, **common)
    return SeveraError(message, **common)

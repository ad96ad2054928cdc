"""One error root per kind of failure, shared by the Severa and the Procountor client.

The clients translate at their edge (as httpx's ``_exceptions.py`` does for the transports below it): every
HTTP error answer and every httpx transport error leaves a client as one of these, so callers catch one class
per kind of failure and never import httpx.

    ApiError                      any refused or failed API call
    ├── TransientApiError         network, timeouts, 5xx, 429: try again later (``maybe_applied``)
    │   ├── SeveraTransientError
    │   │   └── SeveraRateLimited
    │   └── ProcountorTransientError
    ├── ApiDataError              the data was refused: validation, not found, conflict, wrong status
    │   ├── ContentTooLarge       a download over the caller's limit (stopped there, never read whole)
    │   ├── SeveraValidationError, SeveraNotFound
    │   └── ProcountorValidationError (ProcountorConflict), ProcountorNotFound, ProcountorForbidden
    └── ApiAuthError              the configuration was refused: credentials, scopes, API key
        ├── SeveraAuthError (401), SeveraForbidden (403: scope, add-on, permission)
        └── ProcountorAuthError (401, refused credentials or API key)

Each API keeps its own root too (``SeveraError``, ``ProcountorError``) with the API's details (Severa's
``type`` and ``details``, Procountor's ``errors`` list). Procountor's 403 is a data error: Procountor answers it
for an action not allowed in the invoice's current status or a closed fiscal year (procountor-api.md §4.3), whereas
Severa's 403 is a missing API scope.
"""

from __future__ import annotations


class ApiError(Exception):
    """Base of every error the API clients raise."""


class TransientApiError(ApiError):
    """The call may succeed later: connection and transport errors, timeouts, 5xx, 429 (after the retries)."""

    #: True when a write that is not safe to repeat may have reached the API (a timeout or 5xx after the
    #: request was sent): search before creating again.
    maybe_applied: bool = False


class ApiDataError(ApiError):
    """The API refused the data (validation, not found, conflict): fix the record, not the configuration."""


class ApiAuthError(ApiError):
    """The API refused the configuration: client credentials, API scopes, API key, rights."""


class ContentTooLarge(ApiDataError):
    """A download is larger than the caller's limit: it was stopped at the limit, never read whole.

    ``size`` is the size the server declared (Content-Length), or, without one, the bytes received when the
    download stopped (``exact`` False: the file is at least that big)."""

    def __init__(self, what: str, size: int, limit: int, *, exact: bool) -> None:
        self.size, self.limit, self.exact = size, limit, exact
        super().__init__(f"{what}: {'' if exact else 'more than '}{size if exact else limit} bytes, over the "
                         f"limit of {limit}")

"""Error mapping and retry decisions of the Severa client, with an in-process transport (no sockets)."""

from __future__ import annotations

import json

import httpx
import pytest

from connectors.severa.client import SeveraClient
from connectors.severa.errors import (
    SeveraForbidden,
    SeveraNotFound,
    SeveraRateLimited,
    SeveraValidationError,
    error_from_response,
)

TOKEN = {
    "access_token": "tok-123",
    "access_token_type": "Bearer",
    "access_token_expires_in": 3600,
    "refresh_token": "ref-456",
}


def test_exception_model_is_mapped_to_typed_errors() -> None:
    body = json.dumps(
        {
            "error": {
                "httpStatusCode": 400,
                "type": "InvalidParameter",
                "stack": None,
                "details": [
                    {"message": "The name field is required.", "location": {"type": "RequestBody", "name": "name"}}
                ],
            }
        }
    )
    error = error_from_response(400, body.encode(), method="POST", path="/v1/customers")
    assert isinstance(error, SeveraValidationError)
    assert (error.status, error.type, error.message, error.fields) == (
        400,
        "InvalidParameter",
        "The name field is required.",
        ["name"],
    )
    assert isinstance(error_from_response(404, b"", method="GET", path="/v1/x/{guid}"), SeveraNotFound)
    forbidden = error_from_response(
        403, b'{"error": {"type": "InsufficientApiScope", "details": []}}', method="GET", path="/v1/customers"
    )
    assert isinstance(forbidden, SeveraForbidden) and forbidden.type == "InsufficientApiScope"
    limited = error_from_response(
        429,
        b"API calls quota exceeded! maximum admitted 10 per 1s.",
        method="GET",
        path="/v1/invoices",
        retry_after=2.0,
    )
    assert isinstance(limited, SeveraRateLimited) and limited.retry_after == 2.0
    assert limited.message.startswith("API calls quota exceeded!")
    top_level = error_from_response(
        400, b'{"httpStatusCode": 400, "type": "InvalidRequest", "message": "bad"}', method="GET", path="/v1/x"
    )
    assert top_level.message == "bad" and top_level.type == "InvalidRequest"


async def test_retry_after_is_honoured_and_lists_are_repeated_keys() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/v1/token"):
            return httpx.Response(200, json=TOKEN)
        if len([r for r in seen if r.url.path.endswith("/v1/invoices")]) == 1:
            return httpx.Response(429, text="API calls quota exceeded!", headers={"Retry-After": "0"})
        return httpx.Response(200, json=[{"guid": "a"}])

    async with SeveraClient(
        "http://severa.test/rest-api",
        "id",
        "secret",
        requests_per_second=1000,
        transport=httpx.MockTransport(handler),
        backoff_initial=5.0,
    ) as client:
        invoices = await client.list_invoices(status_guids=["s1", "s2"], changed_since="2026-11-25T10:00:00+02:00")
    assert invoices == [{"guid": "a"}]
    assert client.calls["GET /v1/invoices"] == 2 and client.calls["POST /v1/token"] == 1
    last = seen[-1]
    assert last.url.params.get_list("invoiceStatusGuids") == ["s1", "s2"]
    assert "changedSince=2026-11-25T10%3A00%3A00%2B02%3A00" in str(last.url)
    assert last.headers["Authorization"] == "Bearer tok-123" and last.headers["Client_Id"] == "id"
    token_body = json.loads(seen[0].content)
    assert token_body["client_id"] == "id" and "invoices:read" in token_body["scope"].split(",")


async def test_validation_errors_are_not_retried() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        if request.url.path.endswith("/v1/token"):
            return httpx.Response(200, json=TOKEN)
        calls += 1
        return httpx.Response(
            400,
            json={
                "error": {
                    "httpStatusCode": 400,
                    "type": "InvalidOperation",
                    "details": [{"message": "Only Replace is supported."}],
                }
            },
        )

    async with SeveraClient(
        "http://severa.test/rest-api", "id", "secret", requests_per_second=1000, transport=httpx.MockTransport(handler)
    ) as client:
        with pytest.raises(SeveraValidationError) as info:
            await client.set_invoice_status("inv", "st")
    assert calls == 1 and info.value.type == "InvalidOperation"

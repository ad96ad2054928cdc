"""The Severa sandbox checked against the reference (status codes, bodies, scopes, paging, auth), raw HTTP."""

from __future__ import annotations

import httpx

from sandbox.runner import SandboxServer
from sandbox.severa.app import create_app
from sandbox.severa.demo import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from sandbox.severa.store import demo_guid


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Client_Id": DEMO_CLIENT_ID}


def _assert_exception_model(response: httpx.Response, status: int, type_: str) -> dict:
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["httpStatusCode"] == status and error["type"] == type_
    assert error["details"] and error["details"][0]["message"]
    return error


def test_token_model_and_refresh_with_json_string(severa_readonly) -> None:
    with severa_readonly.raw() as http:
        # Keys bind case-insensitively (client_Id / client_Secret as several real clients send them).
        response = http.post(
            "/v1/token",
            json={
                "client_Id": DEMO_CLIENT_ID,
                "client_Secret": DEMO_CLIENT_SECRET,
                "scope": "invoices:read, customers:read",
            },
        )
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {
            "access_token",
            "scope",
            "refresh_token",
            "refresh_token_expires_in",
            "refresh_token_expires_utc",
            "access_token_type",
            "access_token_expires_in",
            "access_token_expires_utc",
        }
        assert body["access_token_type"] == "Bearer" and body["access_token_expires_in"] == 3600
        assert set(body["scope"].split(",")) == {"invoices:read", "customers:read"}
        refreshed = http.post("/v1/refreshtoken", json=body["refresh_token"])
        assert refreshed.status_code == 200 and refreshed.json()["access_token"] != body["access_token"]
        # Refresh tokens are single use.
        _assert_exception_model(
            http.post("/v1/refreshtoken", json=body["refresh_token"]), 401, "AuthenticationRequired"
        )
        _assert_exception_model(
            http.post("/v1/token", json={"client_id": DEMO_CLIENT_ID, "client_secret": "wrong"}),
            401,
            "AuthenticationRequired",
        )
        _assert_exception_model(http.post("/v1/token", json={"client_id": DEMO_CLIENT_ID}), 400, "InvalidParameter")


def test_401_403_and_heartbeats(severa_readonly) -> None:
    narrow = severa_readonly.token("invoices:read")
    with severa_readonly.raw() as http:
        _assert_exception_model(http.get("/v1/invoices"), 401, "AuthenticationRequired")
        _assert_exception_model(http.get("/v1/invoices", headers=_auth("not-a-token")), 401, "AuthenticationRequired")
        assert http.get("/v1/invoices", headers=_auth(narrow)).status_code == 200
        # The PDF needs files:read and a PATCH invoices:write; neither was granted.
        guid = demo_guid("invoice", 10002)
        _assert_exception_model(
            http.get(f"/v1/invoices/{guid}/pdf", headers=_auth(narrow)), 403, "InsufficientApiScope"
        )
        _assert_exception_model(
            http.patch(
                f"/v1/invoices/{guid}",
                headers=_auth(narrow),
                json=[{"op": "replace", "path": "/status/guid", "value": guid}],
            ),
            403,
            "InsufficientApiScope",
        )
        assert http.get("/heartbeat/authorized", headers=_auth(narrow)).status_code == 204
        assert http.get("/heartbeat/server").text == "Server is alive."


def test_404_has_an_empty_body(severa_readonly) -> None:
    token = severa_readonly.token()
    with severa_readonly.raw() as http:
        for path in (
            f"/v1/invoices/{demo_guid('invoice', 1)}",
            f"/v1/customers/{demo_guid('x', 1)}",
            f"/v1/invoices/{demo_guid('invoice', 1)}/invoicerows",
            "/v1/no-such-route",
        ):
            response = http.get(path, headers=_auth(token))
            assert response.status_code == 404, path
            assert response.content == b"", path


def test_token_paging_headers_and_row_count_limits(severa_readonly) -> None:
    token = severa_readonly.token()
    with severa_readonly.raw() as http:
        first = http.get("/v1/invoices", headers=_auth(token))
        assert len(first.json()) == 20  # default rowCount
        assert first.headers.get("NextPageToken")
        last = http.get("/v1/invoices", headers=_auth(token), params={"pageToken": first.headers["NextPageToken"]})
        assert len(last.json()) == 16 and "NextPageToken" not in last.headers
        assert {i["guid"] for i in first.json()}.isdisjoint({i["guid"] for i in last.json()})
        clamped = http.get("/v1/invoicerows", headers=_auth(token), params={"rowCount": 5000})
        assert len(clamped.json()) == 70 and "NextPageToken" not in clamped.headers
        _assert_exception_model(
            http.get("/v1/invoices", headers=_auth(token), params={"rowCount": 0}), 400, "InvalidParameter"
        )
        _assert_exception_model(
            http.get("/v1/invoices", headers=_auth(token), params={"pageToken": "garbage"}), 400, "InvalidParameter"
        )
        error = _assert_exception_model(
            http.get("/v1/invoices", headers=_auth(token), params={"changedSince": "yesterday"}),
            400,
            "InvalidParameter",
        )
        assert error["details"][0]["location"] == {"type": "UriParameter", "name": "changedSince", "identifier": None}
        # Offset paging on lookup lists.
        page = http.get("/v1/invoicestatuses", headers=_auth(token), params={"firstRow": 3, "rowCount": 10})
        assert [s["name"] for s in page.json()] == ["Sent", "Paid"]


def test_creates_answer_201_with_object_or_array(severa) -> None:
    token = severa.token()
    with severa.raw() as http:
        customer = http.post("/v1/customers", headers=_auth(token), json={"name": "Sandbox Oy"})
        assert customer.status_code == 201
        body = customer.json()
        assert isinstance(body, dict) and body["number"] == 2005  # next free customer number
        assert body["createdDateTime"] == body["lastUpdatedDateTime"]
        fee = http.post(
            "/v1/projectfees",
            headers=_auth(token),
            json={
                "project": {"guid": demo_guid("project", 2026002)},
                "quantity": 1,
                "productType": "Subcontracting",
                "unitCost": {"amount": 50, "currencyCode": "EUR"},
                "isBillable": False,
                "description": "Procountor purchase invoice 77",
            },
        )
        assert fee.status_code == 201 and isinstance(fee.json(), list) and len(fee.json()) == 1
        assert fee.json()[0]["phase"]["guid"] == demo_guid("phase", 2026002)  # defaults to the root phase
        invoice = http.post(
            "/v1/invoices", headers=_auth(token), json={"projects": [{"guid": demo_guid("project", 2026002)}]}
        )
        assert invoice.status_code == 201 and isinstance(invoice.json(), list)
        assert invoice.json()[0]["status"]["name"] == "Draft"  # the default status; non-billable fee left out
        bad = http.post(
            "/v1/projectfees", headers=_auth(token), json={"project": {"guid": demo_guid("project", 1)}, "quantity": 1}
        )
        error = _assert_exception_model(bad, 400, "InvalidParameter")
        assert error["details"][0]["location"]["name"] == "project"
        deleted = http.delete(f"/v1/projectfees/{fee.json()[0]['guid']}", headers=_auth(token))
        assert deleted.status_code == 204 and deleted.content == b""
        tombs = http.get("/v1/deletedprojectfees", headers=_auth(token))
        assert [t["guid"] for t in tombs.json()] == [fee.json()[0]["guid"]]


def test_json_patch_rules(severa) -> None:
    token = severa.token()
    guid = demo_guid("invoice", 10002)
    transferred = demo_guid("invoicestatus", "Transferred to Procountor")
    with severa.raw() as http:
        ok = http.patch(
            f"/v1/invoices/{guid}",
            headers=_auth(token),
            json=[
                {"op": "Replace", "path": "/status", "value": {"guid": transferred}},
                {"op": "replace", "path": "/paymentDate", "value": "2026-11-25"},
            ],
        )
        assert ok.status_code == 200 and isinstance(ok.json(), list)
        assert ok.json()[0]["status"]["name"] == "Transferred to Procountor"
        assert ok.json()[0]["paymentDate"] == "2026-11-25"
        _assert_exception_model(
            http.patch(
                f"/v1/invoices/{guid}", headers=_auth(token), json=[{"op": "add", "path": "/notes", "value": "x"}]
            ),
            400,
            "InvalidOperation",
        )
        _assert_exception_model(
            http.patch(
                f"/v1/invoices/{guid}", headers=_auth(token), json=[{"op": "replace", "path": "/number", "value": 1}]
            ),
            400,
            "InvalidParameter",
        )
        _assert_exception_model(
            http.patch(
                f"/v1/invoices/{guid}",
                headers=_auth(token),
                json=[{"op": "replace", "path": "/noSuchField", "value": 1}],
            ),
            400,
            "InvalidParameter",
        )
        missing = http.patch(
            f"/v1/invoices/{demo_guid('invoice', 1)}",
            headers=_auth(token),
            json=[{"op": "replace", "path": "/notes", "value": "x"}],
        )
        assert missing.status_code == 404 and missing.content == b""


def test_quota_answers_429_with_severa_text(severa_sandbox_factory) -> None:
    with severa_sandbox_factory(rate_limit_per_second=10) as sb:
        token = sb.token()
        with sb.raw() as http:
            codes = [http.get("/v1/invoicestatuses", headers=_auth(token)).status_code for _ in range(12)]
            assert codes.count(429) >= 2 and codes[:9] == [200] * 9
            limited = http.get("/v1/invoicestatuses", headers=_auth(token))
            assert limited.status_code == 429
            assert limited.text == "API calls quota exceeded! maximum admitted 10 per 1s."
            assert limited.headers["Retry-After"] == "1"  # real tenants send it (issue 12)
        stats = sb.stats()
        assert stats["rate_limited"] >= 3
        assert stats["calls"]["GET /v1/invoicestatuses"] == 13


def test_admin_config_and_stats(severa_sandbox_factory) -> None:
    with severa_sandbox_factory() as sb:
        changed = httpx.post(f"{sb.url}/_sandbox/config", json={"error_rate": 1.0, "latency_ms": 1}).json()
        assert changed["error_rate"] == 1.0 and changed["latency_ms"] == 1
        assert httpx.post(f"{sb.url}/_sandbox/config", json={"bogus": 1}).status_code == 400
        response = httpx.get(f"{sb.base_url}/v1/invoices")
        _assert_exception_model(response, 500, "InternalSystemError")
        stats = sb.stats()
        assert stats == {
            "calls": {"GET /v1/invoices": 1},
            "total": 1,
            "rate_limited": 0,
            "injected_errors": 1,
            "slow_responses": 0,
        }


def test_client_id_header_strict_mode(severa_sandbox_factory) -> None:
    with severa_sandbox_factory(require_client_id_header=True) as sb:
        token = sb.token()
        with sb.raw() as http:
            assert http.get("/v1/invoices", headers=_auth(token)).status_code == 200
            _assert_exception_model(
                http.get("/v1/invoicestatuses", headers={"Authorization": f"Bearer {token}"}),
                401,
                "AuthenticationRequired",
            )


def test_state_file_persists_writes(tmp_path) -> None:
    state = tmp_path / "severa.json"
    app = create_app(seed="demo", rate_limit_per_second=None, state_file=str(state))
    with SandboxServer(app) as server:
        token = httpx.post(
            f"{server.url}/rest-api/v1/token", json={"client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET}
        ).json()
        response = httpx.post(
            f"{server.url}/rest-api/v1/customers",
            headers=_auth(token["access_token"]),
            json={"name": "Persisted Oy", "number": 4242},
        )
        assert response.status_code == 201
    reloaded = create_app(seed=None, state_file=str(state))
    customer = reloaded.state.store.find_one("customers", number=4242)
    assert customer is not None and customer["name"] == "Persisted Oy"
    assert len(reloaded.state.store.all("invoices")) == 36


def test_a_refresh_without_a_scope_keeps_the_original_grants_scopes(severa_sandbox_factory) -> None:
    """Seen on real tenants by a third-party client: the refreshed token has the scopes first granted, not every
    scope the API client is allowed."""
    with severa_sandbox_factory() as sb, sb.raw() as http:
        first = http.post("/v1/token", json={"client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET,
                                             "scope": "invoices:read"}).json()
        assert first["scope"] == "invoices:read"
        for _ in range(2):
            refreshed = http.post("/v1/login/oauth/access_token", json={
                "grant_type": "refresh_token", "refresh_token": first["refresh_token"],
                "client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET})
            assert refreshed.status_code == 200, refreshed.text
            assert refreshed.json()["scope"] == "invoices:read"
            first = refreshed.json()
        token = first["access_token"]
        assert http.get("/v1/invoices", headers=_auth(token)).status_code == 200
        assert http.get("/v1/customers", headers=_auth(token)).status_code == 403

"""One Severa sandbox and one Procountor sandbox hosting many organisations (issue 14's benchmark): each
organisation has its own API client and data, a token reads only its own organisation's data, and the request
quota is per client. Over real sockets, as the worker's clients would see it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sandbox.procountor.app import create_app as procountor_app
from sandbox.procountor.organisations import credentials as procountor_credentials
from sandbox.runner import SandboxServer
from sandbox.severa.app import create_app as severa_app
from sandbox.severa.demo import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from sandbox.severa.organisations import DRAFT_INVOICES, draft_invoices, invoice_status
from sandbox.severa.organisations import credentials as severa_credentials

WAITING = "Waiting for transfer to Procountor"


@pytest.fixture(scope="module")
def severa() -> Iterator[httpx.Client]:
    with SandboxServer(severa_app(seed="demo", organisations=3, rate_limit_per_second=None)) as server, \
            httpx.Client(base_url=f"{server.url}/rest-api", timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def procountor() -> Iterator[httpx.Client]:
    with SandboxServer(procountor_app(seed="demo", organisations=3, rate_limit_per_second=None)) as server, \
            httpx.Client(base_url=f"{server.url}/api", timeout=30) as client:
        yield client


def severa_token(client: httpx.Client, client_id: str, secret: str) -> dict[str, str]:
    response = client.post("/v1/token", json={"client_id": client_id, "client_secret": secret})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def org(client: httpx.Client, name: str) -> dict[str, str]:
    return severa_token(client, *severa_credentials(name))


def invoices(client: httpx.Client, headers: dict[str, str]) -> list[dict]:
    response = client.get("/v1/invoices", params={"rowCount": 100}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_severa_organisations_token_reads_only_its_own_data(severa: httpx.Client) -> None:
    one, two = org(severa, "org0001"), org(severa, "org0002")
    mine, theirs = invoices(severa, one), invoices(severa, two)
    assert len(mine) == len(theirs) == DRAFT_INVOICES
    assert {i["status"]["name"] for i in mine} == {"Draft"}
    assert sorted(i["guid"] for i in mine) == sorted(draft_invoices("org0001"))  # known without asking
    assert not {i["guid"] for i in mine} & {i["guid"] for i in theirs}  # guids are unique across organisations
    demo = invoices(severa, severa_token(severa, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET))
    assert not {i["guid"] for i in demo} & {i["guid"] for i in mine + theirs}

    other = theirs[0]
    assert severa.get(f"/v1/invoices/{other['guid']}", headers=one).status_code == 404
    assert severa.get(f"/v1/invoices/{other['guid']}", headers=two).json()["number"] == other["number"]
    customer = other["customer"]["guid"]
    assert severa.get(f"/v1/customers/{customer}", headers=one).status_code == 404

    # A write with one organisation's token never reaches another's record.
    statuses = severa.get("/v1/invoicestatuses", headers=one).json()
    waiting = next(s["guid"] for s in statuses if s["name"] == WAITING)
    assert waiting == invoice_status("org0001", WAITING)
    patch = [{"op": "replace", "path": "/status/guid", "value": waiting}]
    assert severa.patch(f"/v1/invoices/{other['guid']}", json=patch, headers=one).status_code in (400, 404)
    assert severa.get(f"/v1/invoices/{other['guid']}", headers=two).json()["status"]["name"] == "Draft"
    moved = severa.patch(f"/v1/invoices/{mine[0]['guid']}", json=patch, headers=one)
    assert moved.status_code == 200 and moved.json()[0]["status"]["name"] == WAITING, moved.text
    assert {i["status"]["name"] for i in invoices(severa, two)} == {"Draft"}


def test_severa_credentials_are_checked_per_organisation(severa: httpx.Client) -> None:
    client_one, _ = severa_credentials("org0001")
    _, secret_two = severa_credentials("org0002")
    refused = severa.post("/v1/token", json={"client_id": client_one, "client_secret": secret_two})
    assert refused.status_code == 401
    assert severa.post("/v1/token", json={"client_id": "org0009-severa",
                                          "client_secret": "org0009-severa-secret"}).status_code == 401


def test_the_severa_quota_is_per_api_client() -> None:
    with SandboxServer(severa_app(organisations=2, rate_limit_per_second=2)) as server, \
            httpx.Client(base_url=f"{server.url}/rest-api", timeout=30) as client:
        one = org(client, "org0001")
        limited = False
        for _ in range(50):  # under any load, 3 calls eventually fall within one second
            if client.get("/v1/invoices", headers=one).status_code == 429:
                limited = True
                break
        assert limited
        two = org(client, "org0002")  # the other client's window holds nothing of the first's calls
        assert client.get("/v1/invoices", headers=two).status_code == 200


def test_severa_organisations_made_through_the_admin_route() -> None:
    with SandboxServer(severa_app(rate_limit_per_second=None)) as server, \
            httpx.Client(base_url=server.url, timeout=30) as client:
        made = client.post("/_sandbox/organisations", json={"count": 2})
        assert made.status_code == 200, made.text
        assert [o["name"] for o in made.json()["organisations"]] == ["", "org0001", "org0002"]
        again = client.post("/_sandbox/organisations", json={"count": 2})  # those there already are kept
        assert len(again.json()["organisations"]) == 3
        client.base_url = httpx.URL(f"{server.url}/rest-api")
        headers = severa_token(client, *severa_credentials("org0002"))
        assert client.get("/v1/invoices", headers=headers).status_code == 200
        client.base_url = httpx.URL(server.url)
        listed = {o["name"]: o for o in client.get("/_sandbox/organisations").json()["organisations"]}
        assert "GET /v1/invoices" in listed["org0002"]["last_calls"]
        assert "GET /v1/invoices" not in listed["org0001"]["last_calls"]
        client.base_url = httpx.URL(f"{server.url}/rest-api")
        client.get("/v1/invoices", params={"changedSince": "2026-01-01T00:00:00Z", "rowCount": 5}, headers=headers)
        client.get("/v1/invoices", params={"numbers": 10001}, headers=headers)
        client.base_url = httpx.URL(server.url)
        org = {o["name"]: o for o in client.get("/_sandbox/organisations").json()["organisations"]}["org0002"]
        assert org["calls"] == {"GET /v1/invoices": 1, "GET /v1/invoices?changedsince&rowcount": 1,
                                "GET /v1/invoices?numbers": 1}  # a poll told from a transfer's check
        assert set(org["last_calls"]) == set(org["calls"])
        assert client.post("/_sandbox/organisations", json={"count": "many"}).status_code == 400


def procountor_token(client: httpx.Client, client_id: str, secret: str, api_key: str) -> httpx.Response:
    return client.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                             "client_secret": secret, "api_key": api_key})


def procountor_org(client: httpx.Client, name: str) -> dict[str, str]:
    response = procountor_token(client, *procountor_credentials(name))
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_a_procountor_organisations_token_reads_only_its_own_company(procountor: httpx.Client) -> None:
    one, two = procountor_org(procountor, "org0001"), procountor_org(procountor, "org0002")
    assert procountor.get("/company", headers=one).json()["id"] != procountor.get("/company", headers=two).json()["id"]
    partner = {"type": "CUSTOMER", "name": "Vain Ykkösen Oy",
               "address": {"name": "Vain Ykkösen Oy", "street": "Katu 1", "zip": "00100", "city": "Helsinki",
                           "country": "FINLAND"},
               "invoicingInfo": {"customerNumber": "9001", "invoiceChannel": "MAIL", "language": "FINNISH"},
               "paymentInfo": {"paymentMethod": "BANK_TRANSFER", "currency": "EUR"}}
    created = procountor.post("/businesspartners", json=partner, headers=one)
    assert created.status_code == 200, created.text

    def named(headers: dict[str, str]) -> list[dict]:
        found = procountor.get("/businesspartners", params={"size": 200}, headers=headers).json()["results"]
        return [p for p in found if p["name"] == "Vain Ykkösen Oy"]

    assert len(named(one)) == 1 and named(two) == []


def test_a_procountor_api_key_works_only_for_the_client_it_was_made_for(procountor: httpx.Client) -> None:
    client_one, secret_one, key_one = procountor_credentials("org0001")
    _, _, key_two = procountor_credentials("org0002")
    assert procountor_token(procountor, client_one, secret_one, key_one).status_code == 200
    assert procountor_token(procountor, client_one, secret_one, key_two).status_code == 401
    assert procountor_token(procountor, client_one, "org0002-procountor-secret", key_one).status_code == 401
    # The demo's client and keys are as they were.
    assert procountor_token(procountor, "sevpro-demo-client", "sevpro-demo-secret", "demo-fi-api-key").status_code \
        == 200
    assert procountor_token(procountor, "sevpro-demo-client", "sevpro-demo-secret", key_one).status_code == 401


def test_procountor_organisations_made_through_the_admin_route() -> None:
    with SandboxServer(procountor_app(rate_limit_per_second=None)) as server, \
            httpx.Client(base_url=server.url, timeout=30) as client:
        made = client.post("/_sandbox/organisations", json={"count": 2})
        assert made.status_code == 200, made.text
        assert [o["name"] for o in made.json()["organisations"]] == ["FI", "SE", "org0001", "org0002"]
        client.base_url = httpx.URL(f"{server.url}/api")
        headers = procountor_org(client, "org0002")
        assert client.get("/invoices", headers=headers).status_code == 200
        client.base_url = httpx.URL(server.url)
        listed = {o["name"]: o for o in client.get("/_sandbox/organisations").json()["organisations"]}
        assert "GET /invoices" in listed["org0002"]["last_calls"] and listed["org0001"]["last_calls"] == {}


def test_a_secret_of_any_text_is_refused_not_a_crash(severa: httpx.Client, procountor: httpx.Client) -> None:
    # The fuzz once drew a known client with a non-ASCII secret: compare_digest refuses such str (a 500).
    client_id, _ = severa_credentials("org0001")
    assert severa.post("/v1/token", json={"client_id": client_id, "client_secret": "sälä"}).status_code == 401
    client_id, _, api_key = procountor_credentials("org0001")
    assert procountor_token(procountor, client_id, "sälä", api_key).status_code == 401

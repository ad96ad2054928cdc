"""Facts of Procountor's public API description (../shared/reference, read at run time) that the client must
follow, each checked against the reference AND against what the client sends and reads."""

from __future__ import annotations

import json
from typing import Any

import httpx

from connectors.procountor.client import ProcountorClient
from tests.public_reference import procountor_operation, procountor_property

TOKEN = {"access_token": "t", "token_type": "bearer", "expires_in": 3600}


def client_over(handle: Any) -> ProcountorClient:
    def route(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/oauth/token"):
            return httpx.Response(200, json=TOKEN)
        return handle(request)

    return ProcountorClient("http://procountor/api", "client", "secret", "key", requests_per_second=1000,
                            transport=httpx.MockTransport(route))


def parameters(method: str, path: str) -> set[str]:
    names = set()
    for parameter in procountor_operation(method, path).get("parameters", []):
        names.add(parameter["name"] if "name" in parameter else parameter["$ref"].rsplit("/", 1)[-1])
    return names


async def test_person_lookup_reads_the_number_under_invoicing_info_and_pages_by_page_number() -> None:
    # The public model: PersonBasicInfo.invoicingInfo.personNumber, no top-level personNumber; GET /persons
    # pages by size/page (no previousId).
    assert procountor_property("PersonBasicInfo", "invoicingInfo.personNumber") is not None
    assert procountor_property("PersonBasicInfo", "personNumber") is None
    assert {"personNumber", "size", "page", "orderById"} <= parameters("GET", "/persons")
    assert "previousId" not in parameters("GET", "/persons")

    # 450 persons whose numbers contain "E1" (the search matches partially); the one wanted is on page 3.
    people = [{"id": i, "lastName": f"L{i}", "invoicingInfo": {"personNumber": f"E1{i:03d}"}}
              for i in range(1, 450)] + [{"id": 450, "lastName": "Wanted", "invoicingInfo": {"personNumber": "E1"}}]
    asked: list[dict[str, str]] = []

    def persons(request: httpx.Request) -> httpx.Response:
        query = dict(request.url.params)
        asked.append(query)
        assert len(asked) < 10, f"paging does not advance: {asked[-3:]}"
        size, number = int(query.get("size", 50)), int(query.get("page", 0))
        window = people[number * size:(number + 1) * size]
        return httpx.Response(200, json={"results": window, "meta": {"pageNumber": number, "pageSize": size,
                                                                      "resultCount": len(window),
                                                                      "totalCount": len(people)}})

    async with client_over(persons) as client:
        found = await client.find_person("E1")
    assert found is not None and found["id"] == 450
    assert [q.get("page") for q in asked] == ["0", "1", "2"]
    assert all("previousId" not in q for q in asked)


def multipart_meta(request: httpx.Request) -> dict[str, Any]:
    body = request.read()
    start = body.index(b"{", body.index(b'name="meta"'))
    end = body.index(b"\r\n--", start)
    return json.loads(body[start:end])


async def test_partner_lookup_reads_every_page() -> None:
    # 250 partners whose customer numbers contain "7" (the search may match more than one page).
    partners = [{"id": i, "invoicingInfo": {"customerNumber": f"7{i:03d}"}} for i in range(1, 250)]
    partners.append({"id": 250, "invoicingInfo": {"customerNumber": "7"}})
    asked: list[dict[str, str]] = []

    def search(request: httpx.Request) -> httpx.Response:
        query = dict(request.url.params)
        asked.append(query)
        assert len(asked) < 10, "paging does not advance"
        after = int(query.get("previousId") or 0)
        size = int(query.get("size", 50))
        window = [p for p in partners if p["id"] > after][:size]
        return httpx.Response(200, json={"results": window, "meta": {"resultCount": len(window)}})

    async with client_over(search) as client:
        found = await client.find_business_partner("7")
    assert found is not None and found["id"] == 250
    assert len(asked) == 2


async def test_product_search_sends_one_type_per_request() -> None:
    types: list[str] = []

    def search(request: httpx.Request) -> httpx.Response:
        types.append(request.url.params.get("type", ""))
        return httpx.Response(200, json={"results": [], "meta": {"resultCount": 0}})

    async with client_over(search) as client:
        assert [p async for p in client.iter_products_changed_since(None)] == []
    assert types == ["SALES", "PURCHASE", "TRAVEL"]

"""The Procountor sandbox answers as the public description says (../shared/reference, read at run time), and
the client works against that: where client and sandbox shared a wrong idea, every other test passed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.public_reference import procountor_unknown_fields

pytestmark = pytest.mark.integration


def add_person(app: Any, number: str, last: str) -> int:
    store = app.state.store
    company = store.company("FI")
    person_id = company.new_id()
    company.persons[person_id] = {
        "id": person_id, "firstName": "Test", "lastName": last,
        "invoicingInfo": {"personNumber": number, "language": "FINNISH", "gender": "NOT_APPLICABLE"},
        "registryInfo": {"active": True}, "version": store.next_version(),
    }
    return person_id


async def test_person_search_answers_person_basic_info_and_the_client_finds_past_the_first_page(
    procountor_app: Any, fi_client: Any
) -> None:
    for i in range(230):
        add_person(procountor_app, f"X9{i:03d}", f"Many{i}")
    wanted = add_person(procountor_app, "X9", "Wanted")  # partial search: every X9… matches, this one is last
    page = await fi_client._request("GET", "/persons", params={"personNumber": "X9", "size": 200})  # noqa: SLF001
    assert page["results"] and procountor_unknown_fields(page, "PersonSearchResult") == []
    assert all("personNumber" in p["invoicingInfo"] for p in page["results"])
    found = await fi_client.find_person("X9")
    assert found is not None and found["id"] == wanted
    assert fi_client.calls["GET /persons"] == 1 + 2

"""The Procountor sandbox's PUT /persons/{id} (reference §11), which the travel transfer's update_persons uses."""

from __future__ import annotations

import pytest

from connectors.procountor.errors import ProcountorError

pytestmark = pytest.mark.integration


async def _put(client, person: dict) -> dict:
    return await client._request("PUT", "/persons/{id}", path_params={"id": person["id"]}, json_body=person)


async def test_put_person_replaces_it_with_the_current_version_only(travel) -> None:
    fi = travel.procountor["FI"]
    person = await fi.get_person(int((await fi.find_person("E001"))["id"]))
    changed = {**person, "lastName": "Virtanen-Salo",
               "paymentInfo": {**person["paymentInfo"], "accountNumber": "FI2112345600000785"}}
    saved = await _put(fi, changed)
    assert saved["id"] == person["id"] and saved["version"] != person["version"]
    again = await fi.get_person(person["id"])
    assert again["lastName"] == "Virtanen-Salo" and again["paymentInfo"]["accountNumber"] == "FI2112345600000785"

    with pytest.raises(ProcountorError) as stale:
        await _put(fi, changed)  # the version read before the first PUT
    assert stale.value.has_code("VERSION_MISMATCH")
    with pytest.raises(ProcountorError) as blank:
        await _put(fi, {**again, "lastName": ""})
    assert blank.value.for_field("lastName")
    assert (await fi.get_person(person["id"]))["lastName"] == "Virtanen-Salo"
